//! One test body per property, run against every method through a macro.
use vqlab::data::{Dataset, SyntheticSpec};
use vqlab::gradcheck::{
    finite_difference_gradients, max_rel_err, rows_away_from_boundaries, Anchor,
};
use vqlab::linalg::random_stiefel;
use vqlab::model::{LossWeights, MethodKind, Params};
use vqlab::rng::{rng_for, Stream};
use vqlab::train::{train, BatchSampler, Init, TrainConfig};

fn small_data(seed: u64) -> Dataset {
    let spec = SyntheticSpec {
        dim: 12,
        spectrum: vec![2.0, 1.5, 1.0, 0.5],
        noise_sigma: 0.1,
    };
    Dataset::synthetic(&spec, 1_500, 400, seed).unwrap()
}

fn small_config() -> TrainConfig {
    TrainConfig {
        k: 8,
        m: 3,
        steps: 60,
        batch: 128,
        log_every: 20,
        ..TrainConfig::report_default()
    }
}

/// The method's gradient equals central differences of its surrogate loss
/// at a random state (rows near a Voronoi boundary removed).
fn gradient_matches_finite_differences(kind: MethodKind) {
    let data = small_data(1);
    let weights = LossWeights {
        alpha: 1.0,
        beta: 0.25,
    };
    let mut rng = rng_for(2, Stream::Harness);
    let w = random_stiefel(12, 3, &mut rng).unwrap();
    let batch = BatchSampler::new(3, data.train.nrows(), 200).next_batch(data.train.view());
    let codebook = batch.dot(&w).slice(ndarray::s![..6, ..]).to_owned();
    let params = Params { w, codebook };
    let (batch, margin) = rows_away_from_boundaries(&params, batch.view(), 1e-3);
    assert!(batch.nrows() > 100 && margin >= 1e-3);
    let anchor = Anchor::new(kind.estimator(), &params, batch.view());
    let (fd_w, fd_e) = finite_difference_gradients(&params, batch.view(), &anchor, weights, 1e-5);
    let g = kind
        .build(weights)
        .gradients(&params, batch.view())
        .unwrap();
    let (ew, ee) = (
        max_rel_err(g.grad_w.view(), fd_w.view()),
        max_rel_err(g.grad_e.view(), fd_e.view()),
    );
    assert!(ew < 1e-7, "{kind}: ∂L/∂W rel err {ew:e}");
    assert!(ee < 1e-7, "{kind}: ∂L/∂E rel err {ee:e}");
    // The check can fail: a wrong α would move ∂L/∂E away from the surrogate's.
    let wrong = kind
        .build(LossWeights {
            alpha: 1.1,
            beta: 0.25,
        })
        .gradients(&params, batch.view())
        .unwrap();
    assert!(max_rel_err(wrong.grad_e.view(), fd_e.view()) > 1e-3);
}

/// Training keeps W on the Stiefel manifold, gives finite metrics, and the
/// same seed gives a bit-identical curve.
fn trains_deterministically_on_the_manifold(kind: MethodKind) {
    let data = small_data(4);
    let config = TrainConfig {
        init: Init::Random,
        ..small_config()
    };
    let run = || {
        let mut method = kind.build(config.weights());
        let checked = config
            .clone()
            .check(data.train.nrows(), data.dim())
            .unwrap();
        train(method.as_mut(), &data, &checked, None, |_| {}).unwrap()
    };
    let (a, b) = (run(), run());
    assert!(
        a.max_stiefel_defect < 1e-12,
        "{kind}: {}",
        a.max_stiefel_defect
    );
    assert_eq!(
        serde_json::to_string(&a.curve).unwrap(),
        serde_json::to_string(&b.curve).unwrap()
    );
    assert_eq!(a.curve.len(), 4, "steps 0, 20, 40, 60");
    assert!(a.final_metrics.recon_mse.is_finite());
    // From a random subspace, training must find most of the signal.
    assert!(
        a.final_metrics.recon_mse < 0.7 * a.initial.recon_mse,
        "{kind}: {} → {}",
        a.initial.recon_mse,
        a.final_metrics.recon_mse
    );
}

macro_rules! for_every_method {
    ($($name:ident => $kind:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[test]
                fn gradient_matches_finite_differences() {
                    super::gradient_matches_finite_differences($kind);
                }
                #[test]
                fn trains_deterministically_on_the_manifold() {
                    super::trains_deterministically_on_the_manifold($kind);
                }
            }
        )*
    };
}

for_every_method! {
    manual_ste => MethodKind::ManualSte,
    manual_rotation => MethodKind::ManualRotation,
    autograd_ste => MethodKind::AutogradSte,
    rotation => MethodKind::Rotation,
    rotation_trick => MethodKind::RotationTrick,
}

#[test]
fn every_method_is_covered_by_the_macro() {
    // Guard: adding a method to MethodKind::ALL without adding it above fails here.
    assert_eq!(MethodKind::ALL.len(), 5);
}

#[test]
fn a_configuration_checked_against_other_data_is_refused() {
    let data = small_data(5);
    let config = small_config();
    // Checked against 1,000 rows, used on 1,500: refused before any work.
    let checked = config.clone().check(1_000, data.dim()).unwrap();
    let mut method = MethodKind::ManualSte.build(config.weights());
    let err = train(method.as_mut(), &data, &checked, None, |_| {})
        .unwrap_err()
        .to_string();
    assert!(err.contains("checked against 1000"), "{err}");
    // And an invalid one never becomes a ValidTrainConfig.
    let bad = TrainConfig { batch: 0, ..config };
    assert!(bad
        .check(1_500, data.dim())
        .unwrap_err()
        .to_string()
        .contains("batch = 0"));
}
