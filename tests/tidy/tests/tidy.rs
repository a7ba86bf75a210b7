//! The tidy test: one `#[test]` per habit of the codebase. Each failure names the files and says how to fix
//! them. The allowlists below are the only places where an exception is granted, so a new exception is a
//! reviewed change of this file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use lumen_tidy::{
    code_only, files_with_extensions, generate_c_header, has_unsafe_code, has_word, lumen_dependencies, package_name,
    repo_root, slash_path,
};

/// The longest a Rust source file may be. 800 lines is about what one reader holds in mind at once (the
/// largest hand-written files today are 600–730 lines, each with one job); past it a file almost always
/// has two jobs and should be split. Generated files would be listed in [`LONG_FILES`].
const MAX_LINES: usize = 800;

/// Generated files allowed past [`MAX_LINES`] (none today).
const LONG_FILES: &[&str] = &[];

/// The files that may hold `unsafe` code (and `#![allow(unsafe_code)]`, the exception to the workspace's
/// `unsafe_code = "deny"`). Each is an FFI or SIMD module behind a safe API; every `unsafe` block in them has a
/// `// SAFETY:` comment (clippy's `undocumented_unsafe_blocks` is denied workspace-wide).
const UNSAFE_ALLOWLIST: &[&str] = &[
    // lumen-core: the C ABI and the SIMD FEC kernels.
    "core/src/abi/config.rs",
    "core/src/abi/fec.rs",
    "core/src/abi/receive.rs",
    "core/src/abi/version.rs",
    "core/src/fec/gf256/kernel/avx2.rs",
    "core/src/fec/gf256/kernel/gfni.rs",
    "core/src/fec/gf256/kernel/gfni256.rs",
    "core/src/fec/gf256/kernel/mod.rs",
    "core/src/fec/gf256/kernel/scalar.rs",
    "core/src/fec/gf256/mod.rs",
    "core/src/fec/gf65536/gfni_engine.rs",
    // lumen-core's tests and benches: a counting global allocator, and dlopen of the stock client's library.
    "core/benches/fec.rs",
    "core/tests/fec_alloc.rs",
    "core/tests/proto_stock_client.rs",
    "core/tests/support/counting_alloc.rs",
    "core/tests/wire_stock_client.rs",
    "core/tests/wire_udp_loopback.rs",
    // lumen-encode: CUDA, EGL/GL, NVENC and OpenH264 FFI.
    "encode/src/bin/gpu-pipeline/main.rs",
    "encode/src/gpu/convert.rs",
    "encode/src/gpu/cuda.rs",
    "encode/src/gpu/gles.rs",
    "encode/src/gpu/interop.rs",
    "encode/src/gpu/nvenc/encoder.rs",
    "encode/src/gpu/nvenc/ffi.rs",
    "encode/src/gpu/nvenc/mod.rs",
    "encode/src/gpu/targets.rs",
    "encode/src/openh264_live.rs",
    // lumen-render: EGL display/context creation and GL texture access.
    "render/src/choice.rs",
    "render/src/target.rs",
    // lumen-compositor: Smithay's `get_mut` on the display and client state (documented unsafe API).
    "compositor/src/control.rs",
    "compositor/src/run.rs",
    // lumen-compositor's worker role: taking ownership of the link descriptor the host passed.
    "compositor/src/worker/link_fd.rs",
    // lumen-compositor: unshare(2) for the session's own /dev/input (pads confined to the session).
    "compositor/src/gamepad/unshare.rs",
    // lumen-stream: sendmsg/sendmmsg/poll for the media senders.
    "stream/src/media/udp_sys.rs",
    // lumen-stream: the video ring's shared mapping (memfd + mmap), read and written by both processes.
    "stream/src/worker/shm_ring.rs",
    // lumen-stream: fork for the root broker, and dropping to a user between fork and exec (system mode).
    "stream/src/login/privsep.rs",
    // lumen-stream: pam_open_session / pam_close_session (not in the nonstick crate's application API).
    "stream/src/login/pam_session.rs",
];

/// The workspace's Rust sources, relative to the root (fuzz crates included).
fn rust_files() -> Vec<PathBuf> {
    files_with_extensions(&repo_root(), &["rs"])
}

fn read(rel: &std::path::Path) -> String {
    std::fs::read_to_string(repo_root().join(rel)).unwrap_or_else(|e| panic!("{}: {e}", rel.display()))
}

fn fail_if_any(problems: Vec<String>, rule: &str) {
    assert!(problems.is_empty(), "{rule}:\n  {}\n", problems.join("\n  "));
}

#[test]
fn every_source_file_has_a_module_doc() {
    let problems = rust_files()
        .into_iter()
        .filter(|f| {
            let text = read(f);
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            !first.starts_with("//!")
        })
        .map(|f| slash_path(&f))
        .collect();
    fail_if_any(problems, "these files do not start with a `//!` module doc saying what the file is for");
}

#[test]
fn no_file_is_longer_than_the_limit() {
    let problems = rust_files()
        .into_iter()
        .filter(|f| !LONG_FILES.contains(&slash_path(f).as_str()))
        .filter_map(|f| {
            let n = read(&f).lines().count();
            (n > MAX_LINES).then(|| format!("{} has {n} lines", slash_path(&f)))
        })
        .collect();
    fail_if_any(problems, &format!("files over {MAX_LINES} lines: split them by job (see MAX_LINES for why)"));
}

#[test]
fn todos_name_their_issue() {
    let root = repo_root();
    let mut problems = Vec::new();
    for f in files_with_extensions(&root, &["rs", "py", "sh", "c", "toml", "md"]) {
        if slash_path(&f) == "tests/tidy/tests/tidy.rs" {
            continue; // this file names the markers in order to look for them
        }
        for (n, line) in read(&f).lines().enumerate() {
            for marker in ["TODO", "FIXME"] {
                for (i, _) in line.match_indices(marker) {
                    if !line[i + marker.len()..].starts_with("(#") {
                        problems.push(format!("{}:{}: {}", slash_path(&f), n + 1, line.trim()));
                    }
                }
            }
        }
    }
    fail_if_any(problems, "TODO/FIXME without an issue number: write `TODO(#12): ...`, or do it now");
}

#[test]
fn unsafe_code_only_in_the_allowlist() {
    let mut problems = Vec::new();
    for f in rust_files() {
        let path = slash_path(&f);
        if path.contains("/fuzz/") {
            continue; // fuzz crates sit outside the workspace and its lints; they hold no unsafe today
        }
        let code = code_only(&read(&f));
        let allowed = UNSAFE_ALLOWLIST.contains(&path.as_str());
        let uses = has_unsafe_code(&code) || code.contains("no_mangle") || code.contains("target_feature");
        let exempts = code.contains("allow(unsafe_code)");
        if uses && !allowed {
            problems.push(format!("{path}: unsafe code outside the allowlist (move it into an FFI module)"));
        }
        if exempts && !allowed {
            problems.push(format!("{path}: allow(unsafe_code) outside the allowlist"));
        }
        if allowed && !uses {
            problems.push(format!("{path}: allowlisted but holds no unsafe code any more: remove it from the list"));
        }
    }
    fail_if_any(problems, "unsafe allowlist (tests/tidy/tests/tidy.rs UNSAFE_ALLOWLIST)");
}

#[test]
fn unsafe_blocks_say_why_they_are_sound() {
    // clippy's undocumented_unsafe_blocks covers blocks; this also covers `unsafe impl`.
    let mut problems = Vec::new();
    for f in rust_files() {
        let text = read(&f);
        let lines: Vec<&str> = text.lines().collect();
        for (n, line) in lines.iter().enumerate() {
            if !code_only(line).contains("unsafe impl") {
                continue;
            }
            let documented = lines[..n].iter().rev().take(4).any(|l| l.contains("SAFETY:"));
            if !documented {
                problems.push(format!("{}:{}", slash_path(&f), n + 1));
            }
        }
    }
    fail_if_any(problems, "`unsafe impl` without a `// SAFETY:` comment just above it");
}

/// The crate edges stated in docs/ARCHITECTURE.md, section "Crate edges": lines `- lumen-a → lumen-b, lumen-c`
/// (or `→ nothing`).
fn documented_edges() -> BTreeMap<String, Vec<String>> {
    let doc = read(std::path::Path::new("docs/ARCHITECTURE.md"));
    let section = doc.split("\n## Crate edges").nth(1).expect("docs/ARCHITECTURE.md has a `## Crate edges` section");
    let section = section.split("\n## ").next().unwrap_or("");
    let mut edges = BTreeMap::new();
    for line in section.lines().filter_map(|l| l.trim().strip_prefix("- ")) {
        let Some((from, to)) = line.split_once('→') else { continue };
        let clean = |s: &str| s.trim().trim_matches('`').to_owned();
        let mut deps: Vec<String> = to
            .split(',')
            .map(clean)
            .filter(|d| d.starts_with("lumen-"))
            .map(|d| d.split_whitespace().next().unwrap_or("").trim_matches('`').to_owned())
            .collect();
        deps.sort();
        edges.insert(clean(from), deps);
    }
    edges
}

#[test]
fn crate_edges_match_the_architecture_doc() {
    let root = repo_root();
    let workspace: toml::Table = read(std::path::Path::new("Cargo.toml")).parse().unwrap();
    let members = workspace["workspace"]["members"].as_array().unwrap();
    let mut actual = BTreeMap::new();
    for m in members {
        let manifest = std::fs::read_to_string(root.join(m.as_str().unwrap()).join("Cargo.toml")).unwrap();
        let name = package_name(&manifest);
        if name == "lumen-tidy" {
            continue;
        }
        actual.insert(name, lumen_dependencies(&manifest));
    }
    let documented = documented_edges();
    assert_eq!(
        documented, actual,
        "the `## Crate edges` section of docs/ARCHITECTURE.md (left) differs from the manifests (right): \
         update the doc, or undo the new edge"
    );
}

#[test]
fn c_header_is_what_cbindgen_generates() {
    let root = repo_root();
    let header = root.join("include/lumen_core.h");
    let generated = generate_c_header(&root).expect("cbindgen runs on core/src/abi");
    if std::env::var_os("LUMEN_TIDY_BLESS").is_some() {
        std::fs::write(&header, &generated).expect("write include/lumen_core.h");
        return;
    }
    let checked_in = std::fs::read(&header).expect("include/lumen_core.h exists");
    assert!(
        checked_in == generated,
        "include/lumen_core.h differs from what cbindgen generates from core/src/abi now; \
         run `LUMEN_TIDY_BLESS=1 cargo test -p lumen-tidy` and commit the header"
    );
}

#[test]
fn core_is_sans_io() {
    // lumen-core's library takes time, sockets and threads from its caller. Its binaries (core/src/bin) are
    // tools and may use them.
    const FORBIDDEN: &[&str] = &[
        "Instant",
        "SystemTime",
        "UNIX_EPOCH",
        "std::net",
        "UdpSocket",
        "TcpStream",
        "TcpListener",
        "std::thread",
        "thread::spawn",
        "thread::sleep",
        "tokio",
        "std::fs",
        "std::process",
        "std::sync::mpsc",
    ];
    let mut problems = Vec::new();
    for f in files_with_extensions(&repo_root().join("core/src"), &["rs"]) {
        if f.starts_with("bin") {
            continue;
        }
        let code = code_only(&read(&PathBuf::from("core/src").join(&f)));
        for word in FORBIDDEN {
            if has_word(&code, word) {
                problems.push(format!("core/src/{}: uses {word}", slash_path(&f)));
            }
        }
    }
    fail_if_any(problems, "lumen-core must not read a clock, open a socket, start a thread or touch files");
}

#[test]
fn architecture_doc_names_only_what_exists() {
    // Every backticked path in docs/ARCHITECTURE.md exists (relative to the root, a crate, or a crate's src/),
    // and every backticked identifier appears in the code or the manifests.
    let root = repo_root();
    let doc = read(std::path::Path::new("docs/ARCHITECTURE.md"));
    let mut corpus = String::new();
    for f in files_with_extensions(&root, &["rs", "toml"]) {
        corpus.push_str(&read(&f));
        corpus.push('\n');
    }
    let bases = ["", "core/", "stream/", "encode/", "render/", "compositor/", "core/src/", "stream/src/"];
    let bases = bases.iter().chain(["encode/src/", "render/src/", "compositor/src/"].iter());
    let bases: Vec<&str> = bases.copied().collect();
    let is_ident = |t: &str| {
        t.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && t.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut problems = Vec::new();
    let mut in_fence = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            in_fence = !in_fence;
            continue;
        }
        if in_fence {
            continue;
        }
        for (i, token) in line.split('`').enumerate() {
            if i % 2 == 0 || token.is_empty() {
                continue;
            }
            let looks_like_path =
                token.contains('/') || [".rs", ".md", ".h", ".toml", ".sh"].iter().any(|e| token.ends_with(e));
            if looks_like_path {
                if token.starts_with("../") || token.starts_with('/') || token.contains("://") || token.contains(' ') {
                    continue;
                }
                let path = token.trim_end_matches('/');
                if !bases.iter().any(|b| root.join(format!("{b}{path}")).exists()) {
                    problems.push(format!("path `{token}` does not exist"));
                }
            } else if is_ident(token) && token.len() > 3 && !has_word(&corpus, token) {
                problems.push(format!("name `{token}` appears nowhere in the code"));
            }
        }
    }
    fail_if_any(problems, "docs/ARCHITECTURE.md names things that do not exist");
}
