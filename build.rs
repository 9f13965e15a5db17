//! Build script:
//!
//! * emits an rpath to `$LIBTORCH/lib`, so the `vqlab` binary and every test
//!   binary find `libtorch_cpu.so` at run time without `LD_LIBRARY_PATH`;
//! * fingerprints the sources (`src/`, `presets/`, `reference/`,
//!   `Cargo.lock`) into `VQLAB_SOURCE_HASH`, so `reproduce` never reuses a
//!   stored run that a different build of the code produced.
use std::path::{Path, PathBuf};

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
    // libtorch_cpu.so exports the Fortran BLAS/LAPACK symbols of its bundled
    // MKL (dgemm_, dsyevd_, dgesdd_, …). Naming OpenBLAS here puts it ahead of
    // libtorch among the binary's libraries, so ndarray-linalg's LAPACK calls
    // bind to OpenBLAS as intended, not to MKL (whose results may vary in the
    // last bit between runs unless its reproducibility mode is set).
    println!("cargo:rustc-link-lib=dylib=openblas");

    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    for dir in ["src", "presets", "reference"] {
        collect(&root.join(dir), &mut files);
        println!("cargo:rerun-if-changed={dir}");
    }
    files.push(root.join("Cargo.lock"));
    println!("cargo:rerun-if-changed=Cargo.lock");
    files.sort();
    // FNV-1a over (relative path, contents) of every file, in sorted order.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap_or(file);
        feed(rel.to_string_lossy().as_bytes());
        feed(&std::fs::read(file).unwrap_or_default());
    }
    println!("cargo:rustc-env=VQLAB_SOURCE_HASH={hash:016x}");
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else {
            out.push(path);
        }
    }
}
