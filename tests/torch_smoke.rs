//! libtorch is installed, loads, and agrees with ndarray-linalg in f64.
use ndarray::Array2;
use ndarray_linalg::{JobSvd, SVDDC};
use tch::{Device, Kind, Tensor};
use vqlab::infra::torch_bridge::{to_array2, to_tensor};
use vqlab::numerics::linalg::gaussian_matrix;
use vqlab::numerics::rng::{rng_for, Stream};

#[test]
fn f64_autograd_gradient_equals_its_hand_value() {
    // f(w) = Σ_i (a_i w_i)² + sin(w_0 w_1); ∂f/∂w_i = 2 a_i² w_i + cos(w_0 w_1) w_{1-i}.
    let a = [1.5f64, -0.7];
    let w0 = [0.3f64, 2.1];
    let w = Tensor::from_slice(&w0).set_requires_grad(true);
    let at = Tensor::from_slice(&a);
    let f = (&at * &w).square().sum(Kind::Double) + (w.get(0) * w.get(1)).sin();
    f.backward();
    let grad = Vec::<f64>::try_from(&w.grad()).unwrap();
    let c = (w0[0] * w0[1]).cos();
    let expected = [
        2.0 * a[0] * a[0] * w0[0] + c * w0[1],
        2.0 * a[1] * a[1] * w0[1] + c * w0[0],
    ];
    for i in 0..2 {
        assert!(
            (grad[i] - expected[i]).abs() < 1e-14,
            "{grad:?} vs {expected:?}"
        );
    }
    assert_eq!(w.grad().kind(), Kind::Double);
}

#[test]
fn torch_svd_agrees_with_ndarray_linalg() {
    // A mix-up of LAPACK symbols between libtorch's bundled MKL and OpenBLAS
    // would show up here as wrong singular values from one side.
    let mut rng = rng_for(9, Stream::Harness);
    for &(rows, cols) in &[(64usize, 4usize), (200, 17), (9, 9)] {
        let a: Array2<f64> = gaussian_matrix(rows, cols, &mut rng);
        let (_, s_lapack, _) = a.svddc(JobSvd::None).unwrap();
        let t = to_tensor(a.view(), Device::Cpu);
        let (u, s, v) = t.svd(true, true); // thin SVD, A = U diag(s) Vᵀ
        let s_torch = Vec::<f64>::try_from(&s).unwrap();
        for (x, y) in s_lapack.iter().zip(&s_torch) {
            assert!(
                (x - y).abs() <= 1e-12 * s_lapack[0],
                "{rows}x{cols}: {x} vs {y}"
            );
        }
        // And the factors reconstruct the matrix.
        let back = to_array2(&u.matmul(&s.diag_embed(0, -2, -1)).matmul(&v.tr())).unwrap();
        let err = (&back - &a).iter().fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(err < 1e-12, "reconstruction error {err}");
    }
}

#[test]
fn ndarray_linalg_lapack_is_correct_next_to_libtorch() {
    // Eigenvalues of a known symmetric matrix through ndarray-linalg while
    // libtorch (with its own LAPACK symbols) is loaded in the same process.
    use ndarray_linalg::{Eigh, UPLO};
    let _touch = Tensor::ones([2], (Kind::Double, Device::Cpu)).sum(Kind::Double);
    let n = 6;
    let m = Array2::from_shape_fn((n, n), |(i, j)| {
        if i == j {
            2.0
        } else if i.abs_diff(j) == 1 {
            -1.0
        } else {
            0.0
        }
    });
    let (values, _) = m.eigh(UPLO::Lower).unwrap();
    for (k, v) in values.iter().copied().enumerate() {
        let v: f64 = v;
        let theta = (k as f64 + 1.0) * std::f64::consts::PI / (n as f64 + 1.0);
        let expected = 2.0 - 2.0 * theta.cos();
        assert!((v - expected).abs() < 1e-13, "{v} vs {expected}");
    }
}

#[test]
fn lapack_symbols_bind_to_openblas_not_libtorchs_mkl() {
    // libtorch_cpu.so exports MKL's Fortran LAPACK symbols; build.rs puts
    // OpenBLAS first so ndarray-linalg's calls reach it. Check where the
    // process resolves them.
    for name in ["dsyevd_\0", "dgesdd_\0", "dgemm_\0"] {
        // SAFETY: dlsym/dladdr on a NUL-terminated name; dli_fname is a C string owned by the loader.
        let lib = unsafe {
            let sym = libc::dlsym(libc::RTLD_DEFAULT, name.as_ptr().cast());
            assert!(!sym.is_null(), "{name} not found");
            let mut info: libc::Dl_info = std::mem::zeroed();
            assert!(libc::dladdr(sym, &mut info) != 0);
            std::ffi::CStr::from_ptr(info.dli_fname)
                .to_string_lossy()
                .into_owned()
        };
        assert!(
            lib.contains("openblas"),
            "{} resolves to {lib}",
            name.trim_end_matches('\0')
        );
    }
}
