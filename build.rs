//! Emits an rpath to `$LIBTORCH/lib`, so the `vqlab` binary and every test
//! binary find `libtorch_cpu.so` at run time without `LD_LIBRARY_PATH`.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=LIBTORCH");
    println!("cargo:rerun-if-changed=build.rs");
    if let Ok(libtorch) = std::env::var("LIBTORCH") {
        let mut path = PathBuf::from(&libtorch);
        if path.is_relative() {
            let root = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
            path = PathBuf::from(root).join(path);
        }
        // Resolve the ./libtorch link, so the binary keeps working when run from elsewhere.
        let path = path.canonicalize().unwrap_or(path);
        println!(
            "cargo:rustc-link-arg=-Wl,-rpath,{}",
            path.join("lib").display()
        );
    }
}
