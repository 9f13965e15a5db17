//! One test body per property, run against every method through a macro.
use vqlab::data::{Dataset, ImageShape, SyntheticSpec};
use vqlab::model::{
    Backend, Draws, Estimator, LossWeights, MethodKind, MethodSpec, ModelKind, ModelSpec,
};
use vqlab::numerics::rng::{rng_for, Stream};
use vqlab::studies::gradcheck::{
    finite_difference_gradients, max_rel_err, random_state, rows_for_finite_differences, Anchor,
};
use vqlab::train::{train, BatchSampler, Init, TrainConfig};

fn small_data(seed: u64) -> Dataset {
    let spec = SyntheticSpec {
        dim: 12,
        spectrum: vec![2.0, 1.5, 1.0, 0.5],
        noise_sigma: 0.1,
        latent: Default::default(),
    };
    Dataset::synthetic(&spec, 1_500, 400, seed).unwrap()
}

/// The conv model's pictures: 1 × 4 × 4 (a 2 × 2 grid of latent vectors at
/// depth 1).
const IMAGE: ImageShape = ImageShape {
    channels: 1,
    height: 4,
    width: 4,
};

/// [`small_data`], or for the conv model 16-pixel images from the same kind
/// of generator.
fn data_for(model: &ModelSpec, seed: u64) -> Dataset {
    if model.kind != ModelKind::Conv {
        return small_data(seed);
    }
    let spec = SyntheticSpec {
        dim: 16,
        spectrum: vec![2.0, 1.5, 1.0, 0.5],
        noise_sigma: 0.1,
        latent: Default::default(),
    };
    let mut data = Dataset::synthetic(&spec, 1_500, 400, seed).unwrap();
    data.image = Some(IMAGE);
    data
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

fn model_of(kind: ModelKind) -> ModelSpec {
    let mut model = ModelSpec {
        hidden: 10,
        ..ModelSpec::of(kind)
    };
    if kind == ModelKind::Conv {
        (model.hidden, model.image, model.layers.depth) = (4, Some(IMAGE), 1);
    }
    model
}

/// The method's gradient of every parameter equals central differences of
/// its surrogate loss at a random state (rows near a Voronoi boundary or a
/// ReLU kink removed).
fn gradient_matches_finite_differences(spec: MethodSpec) {
    let data = data_for(&spec.model, 1);
    let weights = LossWeights {
        alpha: 1.0,
        beta: 0.25,
    };
    let mut rng = rng_for(2, Stream::Harness);
    let batch = BatchSampler::new(3, data.train.nrows(), 200).next_batch(data.train.view());
    let params = random_state(spec.model, batch.view(), 3, 6, &mut rng).unwrap();
    let mut draws = Draws::none();
    let latent = batch.nrows() * spec.model.latent_positions();
    draws.draw(spec.estimator, (latent, 3, 6), 0.7, &mut rng);
    let (batch, draws, margin) =
        rows_for_finite_differences(&params, batch.view(), 1e-3, spec.estimator, &draws);
    // Several latent vectors per row (conv): each needs only a clear
    // nearest code (the surrogate keeps the anchor's assignments).
    let needed = if spec.model.latent_positions() > 1 {
        vqlab::studies::gradcheck::LATENT_GRID_MARGIN
    } else {
        1e-3
    };
    assert!(batch.nrows() > 50 && margin >= needed, "{}", batch.nrows());
    let anchor = Anchor::new(spec.estimator, &params, batch.view(), &draws);
    let (fd_w, fd_e) = finite_difference_gradients(&params, batch.view(), &anchor, weights, 1e-4);
    let g = spec
        .build(weights)
        .gradients(&params, batch.view(), &draws)
        .unwrap();
    // The surrogates of STE and the projections are polynomials in the
    // parameters; NSVQ's and Gumbel's are not, so central differences carry
    // a larger truncation error.
    let tolerance = if spec.estimator.changes_forward() {
        1e-6
    } else {
        1e-7
    };
    for (i, (gw, fw)) in g.grad_weights.iter().zip(&fd_w).enumerate() {
        let err = max_rel_err(gw.view(), fw.view());
        assert!(err < tolerance, "{spec}: parameter {i} rel err {err:e}");
    }
    let ee = max_rel_err(g.grad_e.view(), fd_e.view());
    assert!(ee < tolerance, "{spec}: ∂L/∂E rel err {ee:e}");
    // The check can fail: a wrong α would move ∂L/∂E away from the surrogate's.
    let wrong = spec
        .build(LossWeights {
            alpha: 1.1,
            beta: 0.25,
        })
        .gradients(&params, batch.view(), &draws)
        .unwrap();
    assert!(max_rel_err(wrong.grad_e.view(), fd_e.view()) > 1e-3);
}

/// Training keeps W on the Stiefel manifold, gives finite metrics, and the
/// same seed gives a bit-identical curve.
fn trains_deterministically_on_the_manifold(kind: MethodSpec) {
    let data = data_for(&kind.model, 4);
    let config = TrainConfig {
        init: Init::Random,
        model: kind.model,
        // The conv model's loss sums over pixels and latent vectors: the
        // linear models' η_W = 0.08 diverges there.
        lr_w: if kind.model.kind == ModelKind::Conv {
            0.03
        } else {
            small_config().lr_w
        },
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
    match kind.model.kind {
        ModelKind::Mlp | ModelKind::Conv => assert!(a.max_stiefel_defect.is_none()),
        _ => assert!(
            a.max_stiefel_defect.unwrap() < 1e-12,
            "{kind}: {:?}",
            a.max_stiefel_defect
        ),
    }
    assert_eq!(
        serde_json::to_string(&a.curve).unwrap(),
        serde_json::to_string(&b.curve).unwrap()
    );
    assert_eq!(a.curve.len(), 4, "steps 0, 20, 40, 60");
    assert!(a.final_metrics.recon_mse.is_finite());
    // From a random start, training must find most of the signal (the
    // Gumbel relaxation of the mlp and conv models, at τ = 1, only has to
    // improve in 60 steps: its soft codes blur the decoder's input).
    let slow = matches!(kind.model.kind, ModelKind::Mlp | ModelKind::Conv)
        && matches!(kind.estimator, Estimator::Gumbel | Estimator::GumbelHard);
    let factor = if slow { 0.95 } else { 0.7 };
    assert!(
        a.final_metrics.recon_mse < factor * a.initial.recon_mse,
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

fn spec(model: ModelKind, estimator: Estimator, backend: Backend) -> MethodSpec {
    MethodSpec::new(model_of(model), estimator, backend)
}

for_every_method! {
    manual_ste => MethodKind::ManualSte.spec(),
    manual_rotation => MethodKind::ManualRotation.spec(),
    autograd_ste => MethodKind::AutogradSte.spec(),
    rotation => MethodKind::Rotation.spec(),
    rotation_trick => MethodKind::RotationTrick.spec(),
    tied_rotation_trick_manual => spec(ModelKind::Tied, Estimator::RotationTrick, Backend::Manual),
    untied_ste_manual => spec(ModelKind::Untied, Estimator::Ste, Backend::Manual),
    untied_ste_autograd => spec(ModelKind::Untied, Estimator::Ste, Backend::Autograd),
    untied_projection_manual => spec(ModelKind::Untied, Estimator::ResidualProjection, Backend::Manual),
    untied_projection_autograd => spec(ModelKind::Untied, Estimator::ResidualProjection, Backend::Autograd),
    untied_trick_manual => spec(ModelKind::Untied, Estimator::RotationTrick, Backend::Manual),
    untied_trick_autograd => spec(ModelKind::Untied, Estimator::RotationTrick, Backend::Autograd),
    mlp_ste_manual => spec(ModelKind::Mlp, Estimator::Ste, Backend::Manual),
    mlp_ste_autograd => spec(ModelKind::Mlp, Estimator::Ste, Backend::Autograd),
    mlp_projection_manual => spec(ModelKind::Mlp, Estimator::ResidualProjection, Backend::Manual),
    mlp_projection_autograd => spec(ModelKind::Mlp, Estimator::ResidualProjection, Backend::Autograd),
    mlp_trick_manual => spec(ModelKind::Mlp, Estimator::RotationTrick, Backend::Manual),
    mlp_trick_autograd => spec(ModelKind::Mlp, Estimator::RotationTrick, Backend::Autograd),
    tied_nsvq_manual => spec(ModelKind::Tied, Estimator::Nsvq, Backend::Manual),
    tied_nsvq_autograd => spec(ModelKind::Tied, Estimator::Nsvq, Backend::Autograd),
    tied_gumbel_manual => spec(ModelKind::Tied, Estimator::Gumbel, Backend::Manual),
    tied_gumbel_autograd => spec(ModelKind::Tied, Estimator::Gumbel, Backend::Autograd),
    tied_gumbel_hard_manual => spec(ModelKind::Tied, Estimator::GumbelHard, Backend::Manual),
    tied_gumbel_hard_autograd => spec(ModelKind::Tied, Estimator::GumbelHard, Backend::Autograd),
    untied_nsvq_manual => spec(ModelKind::Untied, Estimator::Nsvq, Backend::Manual),
    untied_nsvq_autograd => spec(ModelKind::Untied, Estimator::Nsvq, Backend::Autograd),
    untied_gumbel_manual => spec(ModelKind::Untied, Estimator::Gumbel, Backend::Manual),
    untied_gumbel_autograd => spec(ModelKind::Untied, Estimator::Gumbel, Backend::Autograd),
    untied_gumbel_hard_manual => spec(ModelKind::Untied, Estimator::GumbelHard, Backend::Manual),
    untied_gumbel_hard_autograd => spec(ModelKind::Untied, Estimator::GumbelHard, Backend::Autograd),
    mlp_nsvq_manual => spec(ModelKind::Mlp, Estimator::Nsvq, Backend::Manual),
    mlp_nsvq_autograd => spec(ModelKind::Mlp, Estimator::Nsvq, Backend::Autograd),
    mlp_gumbel_manual => spec(ModelKind::Mlp, Estimator::Gumbel, Backend::Manual),
    mlp_gumbel_autograd => spec(ModelKind::Mlp, Estimator::Gumbel, Backend::Autograd),
    mlp_gumbel_hard_manual => spec(ModelKind::Mlp, Estimator::GumbelHard, Backend::Manual),
    mlp_gumbel_hard_autograd => spec(ModelKind::Mlp, Estimator::GumbelHard, Backend::Autograd),
    conv_ste_manual => spec(ModelKind::Conv, Estimator::Ste, Backend::Manual),
    conv_ste_autograd => spec(ModelKind::Conv, Estimator::Ste, Backend::Autograd),
    conv_projection_manual => spec(ModelKind::Conv, Estimator::ResidualProjection, Backend::Manual),
    conv_projection_autograd => spec(ModelKind::Conv, Estimator::ResidualProjection, Backend::Autograd),
    conv_trick_manual => spec(ModelKind::Conv, Estimator::RotationTrick, Backend::Manual),
    conv_trick_autograd => spec(ModelKind::Conv, Estimator::RotationTrick, Backend::Autograd),
    conv_nsvq_manual => spec(ModelKind::Conv, Estimator::Nsvq, Backend::Manual),
    conv_nsvq_autograd => spec(ModelKind::Conv, Estimator::Nsvq, Backend::Autograd),
    conv_gumbel_manual => spec(ModelKind::Conv, Estimator::Gumbel, Backend::Manual),
    conv_gumbel_autograd => spec(ModelKind::Conv, Estimator::Gumbel, Backend::Autograd),
    conv_gumbel_hard_manual => spec(ModelKind::Conv, Estimator::GumbelHard, Backend::Manual),
    conv_gumbel_hard_autograd => spec(ModelKind::Conv, Estimator::GumbelHard, Backend::Autograd),
}

#[test]
fn every_method_is_covered_by_the_macro() {
    // Guard: adding a shorthand, model, estimator or backend without adding
    // its methods above fails here (5 shorthands, 4 × 6 × 2 combinations of
    // which 5 are the shorthands).
    assert_eq!(MethodKind::ALL.len(), 5);
    assert_eq!(
        ModelKind::ALL.len() * Estimator::ALL.len() * Backend::ALL.len(),
        48
    );
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
