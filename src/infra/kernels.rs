//! Pinned numerical kernels: the same bits on every x86-64 CPU with AVX2.
//!
//! OpenBLAS (every matrix product of the manual paths and the metrics, and
//! the products libtorch sends through the BLAS symbols) picks its kernels
//! for the CPU it finds when the library loads: an AVX-512 machine and an
//! AVX2 machine sum the same products in different orders and so differ in
//! the last bits, which the studies then amplify into different tables.
//! vqlab therefore fixes the kernels before the libraries load:
//!
//! | variable | value | what it fixes |
//! |---|---|---|
//! | `OPENBLAS_CORETYPE` | `Haswell` | OpenBLAS's kernels (AVX2 + FMA) |
//! | `ATEN_CPU_CAPABILITY` | `avx2` | libtorch's vectorised kernels |
//! | `MKL_CBWR` | `AVX2` | the MKL inside libtorch, where it is used |
//!
//! The binary sets them and re-executes itself ([`pin_or_reexec`]) before
//! any work; `cargo test` and `cargo run` get them from
//! `.cargo/config.toml`. A program embedding the library sets them itself
//! (its environment, before start) and may check with [`status`]. Results
//! are then bit-identical across CPUs for a fixed thread count (`--threads`;
//! the studies run every unit single-threaded). `VQLAB_KERNELS=native`
//! opts out: the CPU's own kernels, faster on AVX-512, not bit-identical to
//! the committed results.
//!
//! ```
//! // Under `cargo test` the pins come from .cargo/config.toml.
//! let status = vqlab::infra::kernels::status();
//! assert!(status.is_pinned(), "{status}");
//! ```
use std::ffi::CStr;
use std::fmt;
use std::os::raw::c_char;

/// The environment that fixes the kernels: (variable, value).
pub const PINS: [(&str, &str); 3] = [
    ("OPENBLAS_CORETYPE", "Haswell"),
    ("ATEN_CPU_CAPABILITY", "avx2"),
    ("MKL_CBWR", "AVX2"),
];

/// Set to `native` to run with the CPU's own kernels.
pub const OPT_OUT: &str = "VQLAB_KERNELS";

/// Set by [`pin_or_reexec`] to the process id before it re-executes (exec
/// keeps the id): seeing our own id means the pins were set and lost, and a
/// second re-exec would be a loop. Another id is a stale value inherited
/// from a parent vqlab, and is ignored.
const REEXECUTED: &str = "VQLAB_KERNELS_PINNED";

extern "C" {
    fn openblas_get_corename() -> *mut c_char;
}

/// The core OpenBLAS chose at load time, lower case (`haswell`, `skylakex`).
pub fn openblas_core() -> String {
    // SAFETY: OpenBLAS returns a pointer to a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(openblas_get_corename()) };
    name.to_string_lossy().to_lowercase()
}

/// Where this process stands with the pinned kernels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KernelStatus {
    /// The OpenBLAS core in use.
    pub openblas_core: String,
    /// Pins whose variable is missing or has another value: (variable, found).
    pub unpinned: Vec<(&'static str, Option<String>)>,
    /// `VQLAB_KERNELS=native` is set.
    pub opted_out: bool,
}

impl KernelStatus {
    /// True when every variable holds its pin and OpenBLAS obeyed it.
    pub fn is_pinned(&self) -> bool {
        self.unpinned.is_empty() && self.openblas_core == PINS[0].1.to_lowercase()
    }
}

impl fmt::Display for KernelStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpenBLAS core {}", self.openblas_core)?;
        for (var, found) in &self.unpinned {
            write!(f, "; {var}={}", found.as_deref().unwrap_or("(unset)"))?;
        }
        if self.opted_out {
            write!(f, "; {OPT_OUT}=native")?;
        }
        Ok(())
    }
}

/// Reads the pins from the environment and OpenBLAS's core.
pub fn status() -> KernelStatus {
    let unpinned = PINS
        .iter()
        .filter_map(|&(var, value)| {
            let found = std::env::var(var).ok();
            (found.as_deref() != Some(value)).then_some((var, found))
        })
        .collect();
    KernelStatus {
        openblas_core: openblas_core(),
        unpinned,
        opted_out: std::env::var(OPT_OUT).is_ok_and(|v| v == "native"),
    }
}

/// True when this CPU has AVX2 and FMA: what the pinned kernels need, and
/// what selects vqlab's own vectorised loops (which give the same bits as
/// their portable versions).
pub fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Why the kernels could not be pinned.
#[derive(Debug, thiserror::Error)]
pub enum KernelError {
    /// The CPU lacks AVX2 or FMA.
    #[error(
        "this CPU lacks AVX2/FMA, which the pinned kernels need (OpenBLAS core Haswell); \
         set {OPT_OUT}=native to run with this CPU's own kernels (numbers then differ in \
         the last bits from results made with the pinned ones)"
    )]
    UnsupportedCpu,
    /// The environment was set but OpenBLAS chose another core.
    #[error(
        "OpenBLAS ignored OPENBLAS_CORETYPE={} and runs core '{found}' (an OpenBLAS built \
         without DYNAMIC_ARCH?); install Debian's libopenblas-dev or set {OPT_OUT}=native",
        PINS[0].1
    )]
    Ignored {
        /// The core OpenBLAS runs.
        found: String,
    },
    /// The variables were set and the binary re-executed, yet they are gone.
    #[error(
        "the kernel variables were set and vqlab re-executed, but they did not reach the new \
         process; export OPENBLAS_CORETYPE=Haswell ATEN_CPU_CAPABILITY=avx2 MKL_CBWR=AVX2 \
         before running vqlab, or set {OPT_OUT}=native"
    )]
    Stripped,
    /// Re-executing the binary failed.
    #[error("could not re-execute {exe} with the pinned kernels: {source}")]
    Reexec {
        /// The executable.
        exe: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Makes this process run on the pinned kernels: returns at once when they
/// are in force (or `VQLAB_KERNELS=native`), else sets the variables and
/// replaces the process with a fresh copy of itself (same arguments), since
/// OpenBLAS reads its core type only when it loads. Call first in `main`.
pub fn pin_or_reexec() -> Result<(), KernelError> {
    let now = status();
    if now.opted_out {
        return Ok(());
    }
    match std::env::var(OPT_OUT) {
        // Said once: in the process that runs (not the one that re-executes).
        Ok(value) if now.unpinned.is_empty() => {
            eprintln!("warning: {OPT_OUT}={value} is not 'native'; running on the pinned kernels")
        }
        _ => {}
    }
    if !has_avx2_fma() {
        return Err(KernelError::UnsupportedCpu);
    }
    if now.unpinned.is_empty() {
        return if now.is_pinned() {
            Ok(())
        } else {
            Err(KernelError::Ignored {
                found: now.openblas_core,
            })
        };
    }
    if std::env::var(REEXECUTED).is_ok_and(|pid| pid == std::process::id().to_string()) {
        // This very process set the variables and exec'd: something strips them.
        return Err(KernelError::Stripped);
    }
    reexec()
}

#[cfg(target_os = "linux")]
fn reexec() -> Result<(), KernelError> {
    use std::os::unix::process::CommandExt;
    let exe = std::path::PathBuf::from("/proc/self/exe");
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(std::env::args_os().skip(1));
    if let Some(arg0) = std::env::args_os().next() {
        cmd.arg0(arg0);
    }
    for (var, value) in PINS {
        cmd.env(var, value);
    }
    cmd.env(REEXECUTED, std::process::id().to_string());
    // exec only returns on failure.
    let source = cmd.exec();
    Err(KernelError::Reexec {
        exe: exe.display().to_string(),
        source,
    })
}

#[cfg(not(target_os = "linux"))]
fn reexec() -> Result<(), KernelError> {
    Err(KernelError::Reexec {
        exe: "vqlab".into(),
        source: std::io::Error::other("re-execution is implemented for Linux only"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cargo_test_runs_on_the_pinned_kernels() {
        // .cargo/config.toml forces the pins for every process cargo starts.
        let now = status();
        assert!(now.is_pinned(), "{now}");
        assert_eq!(now.openblas_core, "haswell");
    }

    #[test]
    fn a_missing_pin_is_reported_with_what_was_found() {
        let s = KernelStatus {
            openblas_core: "skylakex".into(),
            unpinned: vec![("OPENBLAS_CORETYPE", Some("Zen".into()))],
            opted_out: false,
        };
        assert!(!s.is_pinned());
        assert_eq!(
            s.to_string(),
            "OpenBLAS core skylakex; OPENBLAS_CORETYPE=Zen"
        );
    }
}
