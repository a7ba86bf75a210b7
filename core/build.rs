//! Build script: regenerates `include/lumen_core.h` from the crate's C ABI with cbindgen.
//!
//! The header is checked in; it is rewritten only when its contents change, and a cbindgen failure (for
//! example while another module does not parse yet) keeps the checked-in header and prints a warning
//! instead of failing the build.

use std::path::PathBuf;

fn main() {
    let dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rerun-if-changed=src");
    println!("cargo:rerun-if-changed=cbindgen.toml");
    let config = match cbindgen::Config::from_file(dir.join("cbindgen.toml")) {
        Ok(c) => c,
        Err(e) => {
            println!("cargo:warning=cbindgen.toml: {e}; keeping the checked-in header");
            return;
        }
    };
    let header = dir.join("../include/lumen_core.h");
    match cbindgen::Builder::new().with_config(config).with_src(dir.join("src/abi/mod.rs")).generate() {
        Ok(bindings) => {
            let mut text = Vec::new();
            bindings.write(&mut text);
            if std::fs::read(&header).ok().as_deref() != Some(text.as_slice()) {
                // Write-then-rename so concurrent builds never leave a half-written header.
                let tmp = header.with_extension(format!("h.tmp{}", std::process::id()));
                if let Err(e) = std::fs::write(&tmp, &text).and_then(|_| std::fs::rename(&tmp, &header)) {
                    println!("cargo:warning=cannot write {}: {e}", header.display());
                }
            }
        }
        Err(e) => println!("cargo:warning=cbindgen: {e}; keeping the checked-in header"),
    }
}
