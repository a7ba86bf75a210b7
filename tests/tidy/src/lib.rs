//! The tidy checks of the lumen repository (as rust-analyzer's `tidy.rs`): habits that the compiler and
//! clippy cannot see, checked on every `cargo test` so that they hold without anyone remembering them.
//!
//! This library only finds and reads the repository's files; the rules themselves are the tests in
//! `tests/tidy.rs`, one test per rule, each failing with the list of offending files and the fix.

use std::path::{Path, PathBuf};

/// The repository root (two levels above this crate's manifest: `tests/tidy/`). Read from the environment
/// `cargo test` sets when it runs the test, falling back to the path at build time: a test binary built by
/// a checkout at another path and left fresh in a shared target dir must still check this checkout.
pub fn repo_root() -> PathBuf {
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let here = manifest.unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    here.parent().and_then(Path::parent).expect("tests/tidy sits two levels below the repository root").to_owned()
}

/// Folders never scanned: build output, caches, VCS metadata.
const SKIPPED_DIRS: &[&str] =
    &["target", ".git", "node_modules", "__pycache__", ".pytest_cache", "corpus", "artifacts"];

/// Every file under `root` whose name ends in one of `extensions`, as paths relative to `root`, sorted.
pub fn files_with_extensions(root: &Path, extensions: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_owned()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                if !SKIPPED_DIRS.contains(&name.as_str()) && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if kind.is_file() && extensions.iter().any(|e| name.ends_with(&format!(".{e}"))) {
                out.push(path.strip_prefix(root).expect("walk stays under root").to_owned());
            }
        }
    }
    out.sort();
    out
}

/// A path relative to the root with `/` separators, as written in the allowlists.
pub fn slash_path(path: &Path) -> String {
    path.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// The file's text without the contents of `//` comments and string literals, so that words in prose and
/// in messages ("unsafe", "Instant") do not count as code. Line structure is kept (line numbers match);
/// strings may span lines; char literals such as `'"'` are skipped.
pub fn code_only(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_str = false;
    let mut in_raw = false; // inside r#"..."#
    for line in text.lines() {
        let chars: Vec<char> = line.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            if in_raw {
                if c == '"' && chars.get(i + 1) == Some(&'#') {
                    in_raw = false;
                    out.push_str("\"#");
                    i += 2;
                } else {
                    i += 1;
                }
                continue;
            }
            if in_str {
                if c == '\\' {
                    i += 2;
                    continue;
                }
                if c == '"' {
                    in_str = false;
                    out.push('"');
                }
                i += 1;
                continue;
            }
            match c {
                '/' if chars.get(i + 1) == Some(&'/') => break,
                '"' => in_str = true,
                'r' if chars.get(i + 1) == Some(&'#') && chars.get(i + 2) == Some(&'"') => {
                    in_raw = true;
                    out.push_str("r#\"");
                    i += 3;
                    continue;
                }
                '\'' if chars.get(i + 1) == Some(&'"') && chars.get(i + 2) == Some(&'\'') => {
                    out.push_str("' '");
                    i += 3;
                    continue;
                }
                '\'' if chars.get(i + 1) == Some(&'\\') => {
                    // An escaped char literal ('\'', '\"', '\\', '\n'): copy up to its closing quote.
                    let close = (i + 3..chars.len()).find(|&j| chars[j] == '\'').unwrap_or(chars.len() - 1);
                    out.push_str("' '");
                    i = close + 1;
                    continue;
                }
                _ => {}
            }
            out.push(c);
            i += 1;
        }
        out.push('\n');
    }
    out
}

/// Whether `code` (already through [`code_only`]) contains `word` as a whole identifier-delimited word.
pub fn has_word(code: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    code.match_indices(word).any(|(i, _)| {
        let before = code[..i].chars().next_back();
        let after = code[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Whether `code` holds an `unsafe` block, function, impl, trait or extern block.
pub fn has_unsafe_code(code: &str) -> bool {
    code.match_indices("unsafe").any(|(i, _)| {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            return false;
        }
        let rest = code[i + "unsafe".len()..].trim_start();
        ["{", "fn ", "impl", "trait ", "extern "].iter().any(|k| rest.starts_with(k))
    })
}

/// The `lumen-*` crates a `Cargo.toml` depends on in `[dependencies]` and `[build-dependencies]` (the edges
/// of the shipped code; dev-dependencies serve tests only).
pub fn lumen_dependencies(manifest: &str) -> Vec<String> {
    let value: toml::Table = manifest.parse().expect("a Cargo.toml parses as TOML");
    let mut deps: Vec<String> = ["dependencies", "build-dependencies"]
        .iter()
        .filter_map(|t| value.get(*t).and_then(|v| v.as_table()))
        .flat_map(|t| t.keys().filter(|k| k.starts_with("lumen-")).cloned())
        .collect();
    deps.sort();
    deps.dedup();
    deps
}

/// The package name of a `Cargo.toml`.
pub fn package_name(manifest: &str) -> String {
    let value: toml::Table = manifest.parse().expect("a Cargo.toml parses as TOML");
    value["package"]["name"].as_str().expect("package.name is a string").to_owned()
}

/// The C header cbindgen generates now from lumen-core's C ABI (`core/src/abi/`, `core/cbindgen.toml`).
pub fn generate_c_header(root: &Path) -> Result<Vec<u8>, String> {
    let core = root.join("core");
    let config = cbindgen::Config::from_file(core.join("cbindgen.toml")).map_err(|e| format!("cbindgen.toml: {e}"))?;
    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(core.join("src/abi/mod.rs"))
        .generate()
        .map_err(|e| format!("cbindgen: {e}"))?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_only_drops_comments_and_strings() {
        let code = code_only("let a = \"unsafe { x }\"; // unsafe {\nunsafe { y }\n");
        assert!(!code.lines().next().unwrap().contains("unsafe"));
        assert!(has_unsafe_code(&code));
        assert!(!has_unsafe_code(&code_only("// SAFETY: unsafe { }\nfn f() {}\n")));
        assert!(!has_unsafe_code("unsafe_op_in_unsafe_fn = 1"));
        assert!(has_unsafe_code("pub unsafe fn f() {}"));
        assert!(has_unsafe_code("unsafe impl Send for X {}"));
    }

    #[test]
    fn escaped_quotes_and_char_literals() {
        let code = code_only("let r = r#\"say \" unsafe {\"#; unsafe { x }");
        assert_eq!(code.matches("unsafe").count(), 1, "{code}");
        let code = code_only(r#"let s = "a \" unsafe { \\"; unsafe { x }"#);
        assert!(has_unsafe_code(&code), "{code}");
        assert!(!code.contains("a \\\""));
        let code = code_only("if c == '\"' { unsafe { x } } let q = '\\''; let t = \"Instant\";");
        assert!(has_unsafe_code(&code), "{code}");
        assert!(!has_word(&code, "Instant"), "{code}");
        let code = code_only("let s = \"one\n  two unsafe {\n  three\"; unsafe fn f() {}");
        assert_eq!(code.matches("unsafe").count(), 1, "{code}");
    }

    #[test]
    fn words_are_delimited() {
        assert!(has_word("let t = Instant::now();", "Instant"));
        assert!(!has_word("let t = MyInstant::now();", "Instant"));
        assert!(!has_word("Instants", "Instant"));
    }

    #[test]
    fn dependency_edges_read_from_manifests() {
        let m = "[package]\nname = \"x\"\n[dependencies]\nlumen-core = { path = \"../core\" }\nserde = \"1\"\n\
                 [dev-dependencies]\nlumen-encode = { path = \"../encode\" }\n";
        assert_eq!(lumen_dependencies(m), vec!["lumen-core".to_owned()]);
        assert_eq!(package_name(m), "x");
    }
}
