//! Manual (ndarray) and autograd (libtorch) gradients agree to rounding error;
//! each estimator's backward rule on a hand-computed example; the Stiefel
//! invariant over many steps.
use ndarray::{array, Array2};
use tch::{Kind, Tensor};
use vqlab::data::{Dataset, SyntheticSpec};
use vqlab::gradcheck::{self, GradcheckOptions};
use vqlab::linalg::stiefel_defect;
use vqlab::model::manual::project_onto_residual;
use vqlab::model::torch::straight_through;
use vqlab::model::update::SvdSource;
use vqlab::model::{Estimator, MethodKind};
use vqlab::torch_bridge::{to_array2, to_tensor};
use vqlab::train::TrainConfig;

fn data() -> Dataset {
    let spec = SyntheticSpec {
        dim: 16,
        spectrum: vec![2.0, 1.6, 1.2, 0.9, 0.4],
        noise_sigma: 0.1,
    };
    Dataset::synthetic(&spec, 2_000, 500, 11).unwrap()
}

fn config() -> TrainConfig {
    TrainConfig {
        k: 8,
        m: 4,
        steps: 40,
        batch: 256,
        ..TrainConfig::report_default()
    }
}

#[test]
fn lockstep_manual_matches_autograd_to_rounding() {
    let options = GradcheckOptions {
        config: config(),
        fd_states: 1,
        long_run_steps: 0,
    };
    let report = gradcheck::run(&data(), &options, None, |_| {}).unwrap();
    assert!(
        report.max_rel_err_grad_w < 1e-12,
        "{:e}",
        report.max_rel_err_grad_w
    );
    assert!(
        report.max_rel_err_grad_e < 1e-12,
        "{:e}",
        report.max_rel_err_grad_e
    );
    assert!(
        report.max_abs_err_loss < 1e-12,
        "{:e}",
        report.max_abs_err_loss
    );
    assert_eq!(report.lockstep[0].steps.len(), 40);
    let rot = &report.lockstep[1];
    assert!(rot.max_rel_err_grad_w < 1e-12 && rot.max_rel_err_grad_e < 1e-12);
    // Free-running: no flip, so final metrics agree to 1e-9 relative.
    let f = &report.free_running;
    if f.first_assignment_flip.is_none() {
        assert!(f.rel_diff_recon_mse < 1e-9, "{:e}", f.rel_diff_recon_mse);
    }
    // In this tied, orthonormal model g = (2/B)(q − z) is parallel to u, so
    // the residual projection leaves it unchanged: "rotation" = STE.
    assert!(report.estimators[0].max_rel_diff_grad_w < 1e-10);
    // The published rotation trick does change the gradient.
    assert!(report.estimators[1].max_rel_diff_grad_w > 1e-3);
    for c in &report.finite_differences.checks {
        assert!(
            c.max_rel_err_grad_w < 1e-6 && c.max_rel_err_grad_e < 1e-6,
            "{c:?}"
        );
    }
}

#[test]
fn dump_writes_readable_npy_files() {
    let dir = tempfile::tempdir().unwrap();
    let options = GradcheckOptions {
        config: TrainConfig {
            steps: 2,
            ..config()
        },
        fd_states: 0,
        long_run_steps: 0,
    };
    gradcheck::run(&data(), &options, Some(dir.path()), |_| {}).unwrap();
    let w = vqlab::data::load_matrix(&dir.path().join("W.npy")).unwrap();
    assert_eq!(w.dim(), (16, 4));
    for m in MethodKind::ALL {
        let g =
            vqlab::data::load_matrix(&dir.path().join(format!("grad_w_{}.npy", m.name()))).unwrap();
        assert_eq!(g.dim(), (16, 4));
    }
    assert!(dir.path().join("assignments.npy").exists());
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

fn close(a: &[f64], b: &[f64]) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-15)
}

#[test]
fn backward_rules_on_hand_computed_examples() {
    let g = [1.0, 0.0];
    // STE copies g.
    assert!(close(
        &torch_backward(Estimator::Ste, &[1.0, 0.0], &[0.0, 1.0], &g),
        &g
    ));
    // Residual projection: u = (−1, 1)/√2, (g·u)u = (0.5, −0.5).
    let expected = [0.5, -0.5];
    assert!(close(
        &torch_backward(Estimator::ResidualProjection, &[1.0, 0.0], &[0.0, 1.0], &g),
        &expected
    ));
    let mut gm: Array2<f64> = array![[1.0, 0.0]];
    project_onto_residual(
        &mut gm,
        array![[1.0, 0.0]].view(),
        array![[0.0, 1.0]].view(),
    );
    assert!(close(gm.as_slice().unwrap(), &expected));
    // q = z: u = 0, nothing flows.
    assert!(close(
        &torch_backward(Estimator::ResidualProjection, &[1.0, 2.0], &[1.0, 2.0], &g),
        &[0.0, 0.0]
    ));
    // Rotation trick: z = (2, 0), q = (0, 1): λ = 1/2, R = rotation by +90°,
    // λ Rᵀ g = 0.5 · (0, −1).
    assert!(close(
        &torch_backward(Estimator::RotationTrick, &[2.0, 0.0], &[0.0, 1.0], &g),
        &[0.0, -0.5]
    ));
    // Parallel z and q: R = I, λ = ‖q‖/‖z‖ = 3.
    assert!(close(
        &torch_backward(
            Estimator::RotationTrick,
            &[1.0, 1.0],
            &[3.0, 3.0],
            &[0.2, -0.1]
        ),
        &[0.6, -0.3]
    ));
}

#[test]
fn stiefel_invariant_holds_over_many_steps() {
    let spec = SyntheticSpec {
        dim: 8,
        spectrum: vec![1.5, 1.0],
        noise_sigma: 0.1,
    };
    let data = Dataset::synthetic(&spec, 300, 50, 2).unwrap();
    let config = TrainConfig {
        k: 4,
        m: 2,
        batch: 16,
        ..TrainConfig::report_default()
    };
    for (svd, steps) in [(SvdSource::Lapack, 100_000), (SvdSource::Torch, 10_000)] {
        let run = gradcheck::long_run(&data, &config, steps, svd, || {}).unwrap();
        assert!(
            run.max_stiefel_defect < 1e-12,
            "{svd:?}: {:e}",
            run.max_stiefel_defect
        );
    }
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
