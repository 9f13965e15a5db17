//! Manual (ndarray) and autograd (libtorch) gradients agree to rounding error
//! for every model and estimator; each estimator's gradient equals finite
//! differences of its surrogate; the estimators part ways where the model
//! lets them; each estimator's backward rule on hand-computed examples; the
//! Stiefel invariant over many steps.
use ndarray::{array, Array2};
use tch::{Kind, Tensor};
use vqlab::data::{Dataset, ImageShape, SyntheticSpec};
use vqlab::infra::torch_bridge::{to_array2, to_tensor};
use vqlab::model::estimator::backward_rows;
use vqlab::model::torch::straight_through;
use vqlab::model::{Estimator, MethodSpec, ModelKind, ModelSpec};
use vqlab::numerics::linalg::stiefel_defect;
use vqlab::optim::stiefel::SvdSource;
use vqlab::studies::gradcheck::{self, GradcheckOptions, GradcheckReport};
use vqlab::train::{Init, TrainConfig};

fn data() -> Dataset {
    let spec = SyntheticSpec {
        dim: 16,
        spectrum: vec![2.0, 1.6, 1.2, 0.9, 0.4],
        noise_sigma: 0.1,
        latent: Default::default(),
    };
    let mut data = Dataset::synthetic(&spec, 2_000, 500, 11).unwrap();
    // Read as 4 × 4 pictures by the conv model (the others ignore it).
    data.image = Some(IMAGE);
    data
}

const IMAGE: ImageShape = ImageShape {
    channels: 1,
    height: 4,
    width: 4,
};

/// The model under test: a hidden width of 16, or for conv 4 channels, one
/// stride-2 layer each way (a 2 × 2 grid of latent vectors).
fn model(kind: ModelKind) -> ModelSpec {
    let mut model = ModelSpec {
        hidden: 16,
        ..ModelSpec::of(kind)
    };
    if kind == ModelKind::Conv {
        (model.hidden, model.image, model.layers.depth) = (4, Some(IMAGE), 1);
    }
    model
}

fn config(kind: ModelKind) -> TrainConfig {
    TrainConfig {
        model: model(kind),
        // The conv model's loss sums over pixels: η_W = 0.08 diverges there.
        lr_w: if kind == ModelKind::Conv { 0.03 } else { 0.08 },
        k: 8,
        m: 4,
        steps: 100,
        batch: 256,
        // The linear models start from a random subspace, so that untied's V
        // moves away from W; the mlp only has a random start.
        init: Init::Random,
        ..TrainConfig::report_default()
    }
}

fn report(model: ModelKind) -> GradcheckReport {
    let options = GradcheckOptions {
        config: config(model),
        fd_states: 2,
        long_run_steps: 0,
        estimators: Estimator::ALL.to_vec(),
    };
    gradcheck::run(&data(), &options, None, |_| {}).unwrap()
}

/// Lockstep parity of every estimator (≤ 1e-12 over 100 steps, no
/// assignment difference) and finite differences of every estimator's
/// surrogate on both backends (≤ 1e-6).
fn manual_matches_autograd_and_finite_differences(model: ModelKind) {
    let r = report(model);
    assert_eq!(r.lockstep.len(), Estimator::ALL.len());
    for p in &r.lockstep {
        assert_eq!(p.steps.len(), 100);
        assert!(
            p.max_rel_err_grad < 1e-12,
            "{model:?} {:?}: {:e} {:?}",
            p.estimator,
            p.max_rel_err_grad,
            p.max_rel_err_by_param
        );
        assert!(p.max_abs_err_loss < 1e-12, "{:e}", p.max_abs_err_loss);
        assert_eq!(p.steps_with_assignment_differences, 0);
        // Every parameter (E included) is compared.
        let expected = config(model).model.layout(16, 4).len() + 1;
        assert_eq!(p.max_rel_err_by_param.len(), expected);
    }
    assert_eq!(r.finite_differences.checks.len(), 2 * Estimator::ALL.len());
    for c in &r.finite_differences.checks {
        assert!(c.max_rel_err_grad < 1e-6, "{:?}", c);
    }
    // Free-running: no flip, so final metrics agree to 1e-9 relative.
    let f = &r.free_running;
    if f.first_assignment_flip.is_none() {
        assert!(f.rel_diff_recon_mse < 1e-9, "{:e}", f.rel_diff_recon_mse);
    }
}

/// Where the estimators can differ they do; in the tied model the residual
/// projection is STE to rounding.
fn estimators_part_ways_where_the_model_lets_them(model: ModelKind) {
    let r = report(model);
    let projection = &r.estimators[0];
    assert_eq!(projection.estimator, Estimator::ResidualProjection);
    match model {
        // Tied, orthonormal W: g = (2/B)(q − z) ∥ u, so (g·u)u = g.
        ModelKind::Tied => assert!(
            projection.max_rel_diff_grad < 1e-12,
            "{:e}",
            projection.max_rel_diff_grad
        ),
        _ => assert!(
            projection.max_rel_diff_grad > 1e-3,
            "{model:?}: {:e}",
            projection.max_rel_diff_grad
        ),
    }
    // The published rotation trick changes the gradient in every model.
    assert!(r.estimators[1].max_rel_diff_grad > 1e-3);
}

macro_rules! for_every_model {
    ($($name:ident => $model:expr),* $(,)?) => {
        $(
            mod $name {
                use super::*;
                #[test]
                fn manual_matches_autograd_and_finite_differences() {
                    super::manual_matches_autograd_and_finite_differences($model);
                }
                #[test]
                fn estimators_part_ways_where_the_model_lets_them() {
                    super::estimators_part_ways_where_the_model_lets_them($model);
                }
            }
        )*
    };
}

for_every_model! {
    tied => ModelKind::Tied,
    untied => ModelKind::Untied,
    mlp => ModelKind::Mlp,
    conv => ModelKind::Conv,
}

#[test]
fn every_model_is_covered_by_the_macro() {
    // Guard: adding a model to ModelKind::ALL without adding it above fails here.
    assert_eq!(ModelKind::ALL.len(), 4);
}

#[test]
fn tanh_mlp_matches_autograd() {
    let mut config = config(ModelKind::Mlp);
    config.model.activation = vqlab::model::Activation::Tanh;
    config.steps = 30;
    let options = GradcheckOptions {
        config,
        fd_states: 1,
        long_run_steps: 0,
        estimators: Estimator::ALL.to_vec(),
    };
    let r = gradcheck::run(&data(), &options, None, |_| {}).unwrap();
    assert!(r.max_rel_err_grad < 1e-12, "{:e}", r.max_rel_err_grad);
    assert!(r.max_rel_err_finite_differences < 1e-6);
}

#[test]
fn dump_writes_every_parameter_and_gradient() {
    for model in ModelKind::ALL {
        let dir = tempfile::tempdir().unwrap();
        let options = GradcheckOptions {
            config: TrainConfig {
                steps: 2,
                ..config(model)
            },
            fd_states: 0,
            long_run_steps: 0,
            estimators: Estimator::ALL.to_vec(),
        };
        gradcheck::run(&data(), &options, Some(dir.path()), |_| {}).unwrap();
        let spec = config(model).model;
        for info in spec.layout(16, 4) {
            let p = vqlab::data::load_matrix(&dir.path().join(format!("{}.npy", info.name)));
            assert_eq!(p.unwrap().dim(), info.shape, "{model:?} {}", info.name);
            for e in Estimator::ALL {
                for b in vqlab::model::Backend::ALL {
                    let name = gradcheck::dump_name(info.name, &MethodSpec::new(spec, e, b));
                    let g = vqlab::data::load_matrix(&dir.path().join(&name)).unwrap();
                    assert_eq!(g.dim(), info.shape, "{name}");
                }
            }
        }
        let e = vqlab::data::load_matrix(&dir.path().join("E.npy")).unwrap();
        assert_eq!(e.dim(), (8, 4));
        assert!(dir.path().join("grad_E_ste_manual.npy").exists());
        assert!(dir.path().join("assignments.npy").exists());
    }
}

/// ∂(g·q̃)/∂z through autograd, for a given estimator, z, q and g.
fn torch_backward(estimator: Estimator, z: &[f64], q: &[f64], g: &[f64]) -> Vec<f64> {
    let zt = Tensor::from_slice(z).view([1, -1]).set_requires_grad(true);
    let qt = Tensor::from_slice(q).view([1, -1]);
    let gt = Tensor::from_slice(g).view([1, -1]);
    let q_tilde = straight_through(estimator, &zt, &qt);
    // The forward value is q: exactly for the two projections, up to the
    // rounding of z + (q − z) for the original's STE.
    let forward = Vec::<f64>::try_from(&q_tilde.detach().view([-1])).unwrap();
    if estimator == Estimator::Ste {
        assert!(close(&forward, q));
    } else {
        assert_eq!(forward, q.to_vec());
    }
    (q_tilde * gt).sum(Kind::Double).backward();
    Vec::<f64>::try_from(&zt.grad().view([-1])).unwrap()
}

/// The same through the manual rules.
fn manual_backward(estimator: Estimator, z: &[f64], q: &[f64], g: &[f64]) -> Vec<f64> {
    let row = |v: &[f64]| Array2::from_shape_vec((1, v.len()), v.to_vec()).unwrap();
    let mut gm = row(g);
    backward_rows(estimator, &mut gm, row(z).view(), row(q).view());
    gm.into_raw_vec_and_offset().0
}

fn close(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-15)
}

#[test]
fn backward_rules_on_hand_computed_examples() {
    let g = [1.0, 0.0];
    /// (estimator, z, q, g, what flows to z).
    type Case = (Estimator, [f64; 2], [f64; 2], [f64; 2], [f64; 2]);
    let cases: [Case; 5] = [
        // STE copies g.
        (Estimator::Ste, [1.0, 0.0], [0.0, 1.0], g, g),
        // Residual projection: u = (−1, 1)/√2, (g·u)u = (0.5, −0.5).
        (
            Estimator::ResidualProjection,
            [1.0, 0.0],
            [0.0, 1.0],
            g,
            [0.5, -0.5],
        ),
        // q = z: u = 0, nothing flows.
        (
            Estimator::ResidualProjection,
            [1.0, 2.0],
            [1.0, 2.0],
            g,
            [0.0, 0.0],
        ),
        // Rotation trick: z = (2, 0), q = (0, 1): λ = 1/2, R = rotation by
        // +90°, λ Rᵀ g = 0.5 · (0, −1).
        (
            Estimator::RotationTrick,
            [2.0, 0.0],
            [0.0, 1.0],
            g,
            [0.0, -0.5],
        ),
        // Parallel z and q: R = I, λ = ‖q‖/‖z‖ = 3.
        (
            Estimator::RotationTrick,
            [1.0, 1.0],
            [3.0, 3.0],
            [0.2, -0.1],
            [0.6, -0.3],
        ),
    ];
    for (estimator, z, q, g, expected) in cases {
        let autograd = torch_backward(estimator, &z, &q, &g);
        let manual = manual_backward(estimator, &z, &q, &g);
        assert!(close(&autograd, &expected), "{estimator:?} {autograd:?}");
        assert!(close(&manual, &expected), "{estimator:?} {manual:?}");
    }
}

#[test]
fn stiefel_invariant_holds_over_many_steps() {
    let spec = SyntheticSpec {
        dim: 8,
        spectrum: vec![1.5, 1.0],
        noise_sigma: 0.1,
        latent: Default::default(),
    };
    let data = Dataset::synthetic(&spec, 300, 50, 2).unwrap();
    for model in [ModelKind::Tied, ModelKind::Untied] {
        let config = TrainConfig {
            model: ModelSpec::of(model),
            k: 4,
            m: 2,
            batch: 16,
            ..TrainConfig::report_default()
        };
        for (svd, steps) in [(SvdSource::Lapack, 100_000), (SvdSource::Torch, 10_000)] {
            let run = gradcheck::long_run(&data, &config, steps, svd, || {})
                .unwrap()
                .expect("a Stiefel parameter");
            assert!(
                run.max_stiefel_defect < 1e-12,
                "{model:?} {svd:?}: {:e}",
                run.max_stiefel_defect
            );
        }
    }
    // The mlp has no Stiefel parameter: nothing to run.
    let mlp = TrainConfig {
        model: ModelSpec::of(ModelKind::Mlp),
        init: Init::Random,
        k: 4,
        m: 2,
        batch: 16,
        ..TrainConfig::report_default()
    };
    assert!(
        gradcheck::long_run(&data, &mlp, 10, SvdSource::Lapack, || {})
            .unwrap()
            .is_none()
    );
}

#[test]
fn tensor_bridge_keeps_values_exactly() {
    let a = array![[1.0 / 3.0, -2.5e-300], [f64::MAX, 7.0]];
    assert_eq!(
        to_array2(&to_tensor(a.view(), tch::Device::Cpu)).unwrap(),
        a
    );
    assert!(stiefel_defect(array![[1.0, 0.0], [0.0, 1.0]].view()) == 0.0);
}
