//! Thread pools. libtorch (OpenMP) and OpenBLAS each keep their own pool; on
//! a 2-core machine they compete, so vqlab sets both from one `--threads`.
use std::os::raw::c_int;

extern "C" {
    fn openblas_set_num_threads(n: c_int);
    fn openblas_get_num_threads() -> c_int;
}

/// Sets the number of threads of libtorch's intra-op pool and of OpenBLAS.
/// `0` leaves both at their defaults.
pub fn set_threads(n: usize) {
    if n == 0 {
        return;
    }
    let n = n.min(c_int::MAX as usize) as c_int;
    tch::set_num_threads(n);
    // SAFETY: a plain setter of the OpenBLAS library that ndarray-linalg links.
    unsafe { openblas_set_num_threads(n) };
}

/// The current (libtorch, OpenBLAS) thread counts.
pub fn current_threads() -> (usize, usize) {
    // SAFETY: a plain getter of the OpenBLAS library that ndarray-linalg links.
    let blas = unsafe { openblas_get_num_threads() };
    (tch::get_num_threads().max(0) as usize, blas.max(0) as usize)
}
