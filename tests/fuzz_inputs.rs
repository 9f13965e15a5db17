//! Property tests (proptest) of everything that reads user input: the `.npy`
//! and CSV loaders and the configuration checks. Each must answer with a
//! value or a typed error, never a panic. `PROPTEST_CASES=100000 cargo test
//! --release --test fuzz_inputs` runs a longer fuzzing session.
use proptest::prelude::*;
use vqlab::data::{load_matrix, SyntheticSpec};
use vqlab::train::{Init, SvdChoice, TrainConfig};

fn write_tmp(dir: &std::path::Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

fn numpy_header(descr: &str, shape: &str) -> Vec<u8> {
    let dict = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
    let mut header = dict.into_bytes();
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(b' ');
    }
    header.push(b'\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend_from_slice(&(header.len() as u16).to_le_bytes());
    out.extend_from_slice(&header);
    out
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("PROPTEST_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(512),
        ..ProptestConfig::default()
    })]

    #[test]
    fn csv_loader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let dir = tempfile::tempdir().unwrap();
        let p = write_tmp(dir.path(), "x.csv", &bytes);
        if let Ok(m) = load_matrix(&p) {
            prop_assert!(m.nrows() > 0 && m.ncols() > 0);
            prop_assert!(m.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn csv_text_like_inputs(text in "[0-9eE.,+\\- \\nabnifNI]{0,200}") {
        let dir = tempfile::tempdir().unwrap();
        let p = write_tmp(dir.path(), "t.csv", text.as_bytes());
        if let Ok(m) = load_matrix(&p) {
            prop_assert!(m.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn csv_round_trip(rows in 1usize..20, cols in 1usize..6, seed in any::<u64>()) {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let m = ndarray::Array2::from_shape_fn((rows, cols), |_| rng.gen_range(-1e6..1e6));
        let mut text = String::new();
        for r in m.outer_iter() {
            let fields: Vec<String> = r.iter().map(|v| format!("{v:?}")).collect();
            text.push_str(&fields.join(","));
            text.push('\n');
        }
        let dir = tempfile::tempdir().unwrap();
        let back = load_matrix(&write_tmp(dir.path(), "r.csv", text.as_bytes())).unwrap();
        prop_assert_eq!(back, m);
    }

    #[test]
    fn npy_loader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        let dir = tempfile::tempdir().unwrap();
        let _ = load_matrix(&write_tmp(dir.path(), "x.npy", &bytes));
    }

    #[test]
    fn npy_with_a_valid_header_and_bad_payload(
        descr in prop_oneof![Just("<f8"), Just("<f4"), Just("<i8"), Just("|u1"), Just(">f8")],
        shape in prop_oneof![Just("(3, 2)".to_string()), Just("(4,)".to_string()), Just("()".to_string()), (0usize..5, 0usize..5).prop_map(|(a, b)| format!("({a}, {b})"))],
        payload in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut bytes = numpy_header(descr, &shape);
        bytes.extend_from_slice(&payload);
        let dir = tempfile::tempdir().unwrap();
        if let Ok(m) = load_matrix(&write_tmp(dir.path(), "h.npy", &bytes)) {
            prop_assert!(m.nrows() > 0 && m.ncols() > 0);
            prop_assert!(m.iter().all(|v| v.is_finite()));
        }
    }

    #[test]
    fn train_config_checks_accept_exactly_the_allowed_values(
        k in 0usize..300, m in 0usize..80, batch in 0usize..3000, steps in 0usize..10,
        lr_w in prop_oneof![Just(f64::NAN), Just(f64::INFINITY), Just(-1.0), Just(0.0), 1e-6f64..10.0],
        lr_e in prop_oneof![Just(f64::NAN), Just(0.0), 1e-6f64..10.0],
        alpha in prop_oneof![Just(f64::NAN), Just(-0.5), 0.0f64..5.0],
        beta in prop_oneof![Just(f64::NEG_INFINITY), Just(-0.5), 0.0f64..5.0],
        n_train in 1usize..2500, dim in 1usize..70,
    ) {
        let config = TrainConfig { model: vqlab::model::ModelSpec::default(), optimizer: Default::default(), schedule: Default::default(), codebook: Default::default(), gumbel: Default::default(), k, m, batch, steps, lr_w, lr_e, alpha, beta, init: Init::Pca, kmeans_iters: 20, seed: 0, log_every: 25, svd: SvdChoice::PerMethod };
        let ok = (1..=dim).contains(&m) && (1..=n_train).contains(&k) && (1..=n_train).contains(&batch)
            && lr_w.is_finite() && lr_w > 0.0 && lr_e.is_finite() && lr_e > 0.0
            && alpha.is_finite() && alpha >= 0.0 && beta.is_finite() && beta >= 0.0;
        let result = config.validate(n_train, dim);
        prop_assert_eq!(result.is_ok(), ok, "{:?}", result.err().map(|e| e.to_string()));
        if let Err(e) = result {
            // The message names a field and its value.
            let text = e.to_string();
            prop_assert!(text.starts_with("invalid "), "{}", text);
        }
    }

    #[test]
    fn synthetic_spec_checks_never_panic(dim in 0usize..100, spectrum in proptest::collection::vec(prop_oneof![Just(f64::NAN), -1.0f64..5.0], 0..10), sigma in prop_oneof![Just(f64::NAN), -1.0f64..1.0]) {
        let spec = SyntheticSpec { dim, spectrum: spectrum.clone(), noise_sigma: sigma, latent: Default::default() };
        let ok = dim >= 1 && !spectrum.is_empty() && spectrum.len() <= dim
            && spectrum.iter().all(|s| s.is_finite() && *s >= 0.0) && sigma.is_finite() && sigma >= 0.0;
        prop_assert_eq!(spec.validate().is_ok(), ok);
    }
}
