//! Thread pools. libtorch (OpenMP) and OpenBLAS each keep their own pool; on
//! a 2-core machine they compete, so vqlab sets both from one `--threads`.
use std::os::raw::c_int;
use std::sync::OnceLock;

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
}

/// The libraries' own thread counts, read before vqlab first changes them.
static DEFAULTS: OnceLock<(c_int, c_int)> = OnceLock::new();

fn defaults() -> (c_int, c_int) {
    *DEFAULTS.get_or_init(|| {
        // SAFETY: a plain getter of the OpenBLAS library that ndarray-linalg links.
        let blas = unsafe { openblas_get_num_threads() };
        (tch::get_num_threads(), blas)
    })
}

/// Sets the number of threads of libtorch's intra-op pool and of OpenBLAS.
/// `0` means the libraries' defaults (restored if vqlab changed them).
pub fn set_threads(n: usize) {
    let (torch_default, blas_default) = defaults();
    let (torch, blas) = if n == 0 {
        (torch_default, blas_default)
    } else {
        let n = n.min(c_int::MAX as usize) as c_int;
        (n, n)
    };
    tch::set_num_threads(torch);
    // SAFETY: a plain setter of the OpenBLAS library that ndarray-linalg links.
    unsafe { openblas_set_num_threads(blas) };
}

/// The current (libtorch, OpenBLAS) thread counts.
pub fn current_threads() -> (usize, usize) {
    // SAFETY: a plain getter of the OpenBLAS library that ndarray-linalg links.
    let blas = unsafe { openblas_get_num_threads() };
    (tch::get_num_threads().max(0) as usize, blas.max(0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_restores_the_defaults() {
        let before = current_threads();
        set_threads(1);
        assert_eq!(current_threads(), (1, 1));
        set_threads(0);
        assert_eq!(current_threads(), before);
    }
}
