//! Optimizers and learning-rate schedules, written once for every method:
//! the stateful step that turns a method's gradients into new parameters,
//! apart from the methods that compute the gradients ([`Update`]).
//!
//! * [`stiefel`]: the geometry (project, retract, polar);
//! * [`sgd`]: Riemannian SGD on Stiefel parameters (polar retraction), plain SGD
//!   on the rest ([`RiemannianSgd`], the report's update);
//! * [`adam`] (Kingma & Ba 2015) on Euclidean parameters and on E:
//!   m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g⊙g, m̂ = m/(1 − β₁ᵗ),
//!   v̂ = v/(1 − β₂ᵗ), θ ← θ − η m̂/(√v̂ + ε);
//! * Riemannian Adam on Stiefel parameters (Bécigneul & Ganea 2019, as
//!   geoopt's `RiemannianAdam`): the same moments of the Riemannian gradient
//!   ξ = G − W sym(WᵀG), step d = m̂/(√v̂ + ε), W ← polar(W − ηd), then m is
//!   moved to the tangent space at the new W by projection.
//!
//! Schedules scale every rate: `constant`, or `cosine`,
//! η_t = η_final + (η₀ − η_final)(1 + cos(π t/T))/2 with t the steps already
//! taken and T the run's steps.
use serde::{Deserialize, Serialize};

pub mod adam;
pub mod schedule;
pub mod sgd;
pub mod stiefel;

use crate::error::{invalid, Result};
use crate::model::{Gradients, Params};
use adam::Moments;
pub use schedule::{ScheduleKind, ScheduleSpec};
pub use sgd::RiemannianSgd;
pub use stiefel::{SvdSource, UpdateWorkspace};

/// Which optimizer applies the gradients.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum OptimizerKind {
    /// (Riemannian) SGD: the report's update.
    #[default]
    Sgd,
    /// Adam on Euclidean parameters, Riemannian Adam on Stiefel ones.
    Adam,
}

/// The optimizer and Adam's constants (unused by SGD).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct OptimizerSpec {
    /// Which optimizer.
    pub kind: OptimizerKind,
    /// β₁ of Adam.
    pub beta1: f64,
    /// β₂ of Adam.
    pub beta2: f64,
    /// ε of Adam.
    pub eps: f64,
}

impl Default for OptimizerSpec {
    fn default() -> Self {
        OptimizerSpec {
            kind: OptimizerKind::Sgd,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        }
    }
}

impl OptimizerSpec {
    /// The report's SGD with the default Adam constants (left out of JSON).
    pub fn is_default(&self) -> bool {
        *self == OptimizerSpec::default()
    }

    /// Checks the constants: β₁, β₂ in [0, 1), ε > 0.
    pub fn validate(&self) -> Result<()> {
        for (field, value) in [("adam_beta1", self.beta1), ("adam_beta2", self.beta2)] {
            if !(0.0..1.0).contains(&value) {
                return Err(invalid(field, value, "in [0, 1)"));
            }
        }
        if !self.eps.is_finite() || self.eps <= 0.0 {
            return Err(invalid("adam_eps", self.eps, "a finite number > 0"));
        }
        Ok(())
    }
}

/// One step of an optimizer: what the training loop, the harness, the
/// benches and the allocation test call, apart from the methods that
/// compute the gradients.
pub trait Update {
    /// Applies `grads` to `params`: every network parameter, and the
    /// codebook when `update_codebook` (false when another rule, such as the
    /// EMA update, owns E).
    fn apply(
        &mut self,
        params: &mut Params,
        grads: &Gradients,
        svd: SvdSource,
        update_codebook: bool,
    ) -> Result<()>;
}

impl Update for Optimizer {
    fn apply(
        &mut self,
        params: &mut Params,
        grads: &Gradients,
        svd: SvdSource,
        update_codebook: bool,
    ) -> Result<()> {
        self.step(params, grads, svd, update_codebook)
    }
}

/// The stateful update of a run: optimizer, schedule, and their buffers.
#[derive(Debug)]
pub struct Optimizer {
    lr_w: f64,
    lr_e: f64,
    spec: OptimizerSpec,
    schedule: ScheduleSpec,
    total_steps: usize,
    taken: usize,
    moments: Vec<Moments>,
    work: UpdateWorkspace,
}

impl Optimizer {
    /// An optimizer for a run of `total_steps` steps with start rates
    /// `lr_w` (network parameters) and `lr_e` (codebook).
    pub fn new(
        lr_w: f64,
        lr_e: f64,
        spec: OptimizerSpec,
        schedule: ScheduleSpec,
        total_steps: usize,
    ) -> Self {
        Optimizer {
            lr_w,
            lr_e,
            spec,
            schedule,
            total_steps,
            taken: 0,
            moments: Vec::new(),
            work: UpdateWorkspace::default(),
        }
    }

    /// The rates (η_W, η_E) the next step will use.
    pub fn rates(&self) -> (f64, f64) {
        (
            self.schedule.rate(
                self.lr_w,
                self.schedule.lr_final_w,
                self.taken,
                self.total_steps,
            ),
            self.schedule.rate(
                self.lr_e,
                self.schedule.lr_final_e,
                self.taken,
                self.total_steps,
            ),
        )
    }

    /// Steps taken so far.
    pub fn steps_taken(&self) -> usize {
        self.taken
    }

    /// Applies `grads` to `params`: every network parameter, and the
    /// codebook when `update_codebook` (false when another rule, such as the
    /// EMA update, owns E). Allocates nothing once its buffers exist (with
    /// the LAPACK SVD).
    pub fn step(
        &mut self,
        params: &mut Params,
        grads: &Gradients,
        svd: SvdSource,
        update_codebook: bool,
    ) -> Result<()> {
        let (lr_w, lr_e) = self.rates();
        self.taken += 1;
        match self.spec.kind {
            OptimizerKind::Sgd => {
                let sgd = RiemannianSgd {
                    lr_w,
                    lr_e: if update_codebook { lr_e } else { 0.0 },
                };
                if update_codebook {
                    sgd.step_with(params, grads, svd, &mut self.work)
                } else {
                    sgd.step_network(params, grads, svd, &mut self.work)
                }
            }
            OptimizerKind::Adam => self.adam_step(params, grads, svd, lr_w, lr_e, update_codebook),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelKind, ModelSpec};
    use crate::numerics::linalg::{gaussian_matrix, random_stiefel, stiefel_defect};
    use crate::numerics::rng::{rng_for, Stream};
    use ndarray::Array2;

    fn adam() -> OptimizerSpec {
        OptimizerSpec {
            kind: OptimizerKind::Adam,
            ..OptimizerSpec::default()
        }
    }

    fn grads_for(params: &Params, rng: &mut crate::numerics::rng::VqRng) -> Gradients {
        Gradients {
            grad_weights: params
                .weights
                .iter()
                .map(|w| gaussian_matrix(w.nrows(), w.ncols(), rng))
                .collect(),
            grad_e: gaussian_matrix(params.codebook.nrows(), params.codebook.ncols(), rng),
            ..Gradients::empty()
        }
    }

    #[test]
    fn adams_first_step_moves_every_coordinate_by_the_rate() {
        let mut rng = rng_for(1, Stream::Harness);
        let mut params = Params {
            model: ModelSpec {
                hidden: 3,
                ..ModelSpec::of(ModelKind::Mlp)
            },
            weights: crate::model::mlp::init_network(
                &ModelSpec {
                    hidden: 3,
                    ..ModelSpec::of(ModelKind::Mlp)
                },
                5,
                2,
                &mut rng,
            ),
            codebook: gaussian_matrix(4, 2, &mut rng),
        };
        let before = params.clone();
        let grads = grads_for(&params, &mut rng);
        let spec = OptimizerSpec {
            eps: 1e-12,
            ..adam()
        };
        let mut opt = Optimizer::new(0.01, 0.03, spec, ScheduleSpec::default(), 10);
        opt.step(&mut params, &grads, SvdSource::Lapack, true)
            .unwrap();
        // m̂ = g, v̂ = g², so every coordinate moves by η sign(g).
        for ((w0, w1), g) in before
            .weights
            .iter()
            .zip(&params.weights)
            .zip(&grads.grad_weights)
        {
            for ((a, b), g) in w0.iter().zip(w1.iter()).zip(g.iter()) {
                assert!((a - b - 0.01 * g.signum()).abs() < 1e-10, "{a} {b} {g}");
            }
        }
        for ((a, b), g) in before
            .codebook
            .iter()
            .zip(params.codebook.iter())
            .zip(grads.grad_e.iter())
        {
            assert!((a - b - 0.03 * g.signum()).abs() < 1e-10);
        }
    }

    /// A plain re-implementation of Riemannian Adam on one Stiefel matrix,
    /// with allocating ndarray expressions and LAPACK's polar factor.
    fn reference_radam(
        w: &mut Array2<f64>,
        m: &mut Array2<f64>,
        v: &mut Array2<f64>,
        g: &Array2<f64>,
        t: i32,
        lr: f64,
    ) {
        let proj = |w: &Array2<f64>, a: &Array2<f64>| {
            let wta = w.t().dot(a);
            a - &w.dot(&((&wta + &wta.t()) * 0.5))
        };
        let xi = proj(w, g);
        *m = &*m * 0.9 + &xi * 0.1;
        *v = &*v * 0.999 + &(&xi * &xi) * 0.001;
        let m_hat = &*m / (1.0 - 0.9f64.powi(t));
        let v_hat = &*v / (1.0 - 0.999f64.powi(t));
        let d = &m_hat / &(v_hat.mapv(f64::sqrt) + 1e-8);
        *w = crate::numerics::linalg::polar_lapack((&*w - &(d * lr)).view()).unwrap();
        *m = proj(w, m);
    }

    #[test]
    fn riemannian_adam_matches_a_plain_reimplementation() {
        let mut rng = rng_for(2, Stream::Harness);
        let w0 = random_stiefel(9, 3, &mut rng).unwrap();
        let mut params = Params::tied(w0.clone(), gaussian_matrix(4, 3, &mut rng));
        let mut opt = Optimizer::new(0.05, 0.1, adam(), ScheduleSpec::default(), 5);
        let (mut w, mut m, mut v) = (w0, Array2::zeros((9, 3)), Array2::zeros((9, 3)));
        for t in 1..=5 {
            let grads = grads_for(&params, &mut rng);
            reference_radam(&mut w, &mut m, &mut v, &grads.grad_weights[0], t, 0.05);
            opt.step(&mut params, &grads, SvdSource::Lapack, true)
                .unwrap();
            let gap = (&w - &params.weights[0])
                .iter()
                .fold(0.0f64, |a, b| a.max(b.abs()));
            assert!(gap < 1e-13, "step {t}: {gap:e}");
        }
    }

    #[test]
    fn riemannian_adam_keeps_w_on_the_manifold() {
        let mut rng = rng_for(3, Stream::Harness);
        let mut params = Params::tied(
            random_stiefel(12, 4, &mut rng).unwrap(),
            gaussian_matrix(5, 4, &mut rng),
        );
        let mut opt = Optimizer::new(0.05, 0.1, adam(), ScheduleSpec::default(), 10_000);
        let grads = grads_for(&params, &mut rng);
        let mut worst: f64 = 0.0;
        for _ in 0..10_000 {
            opt.step(&mut params, &grads, SvdSource::Lapack, true)
                .unwrap();
            worst = worst.max(stiefel_defect(params.weights[0].view()));
        }
        assert!(worst < 1e-12, "{worst:e}");
    }

    #[test]
    fn cosine_schedule_runs_from_start_to_final() {
        let s = ScheduleSpec {
            kind: ScheduleKind::Cosine,
            lr_final_w: 0.01,
            lr_final_e: 0.0,
        };
        assert_eq!(s.rate(0.1, 0.01, 0, 100), 0.1);
        assert!((s.rate(0.1, 0.01, 50, 100) - 0.055).abs() < 1e-15);
        assert!((s.rate(0.1, 0.01, 100, 100) - 0.01).abs() < 1e-15);
        assert!(s.validate(0.1, 0.2).is_ok());
        let bad = ScheduleSpec {
            lr_final_w: 0.2,
            ..s
        };
        assert!(bad
            .validate(0.1, 0.2)
            .unwrap_err()
            .to_string()
            .contains("lr_final_w = 0.2"));
        let spec = OptimizerSpec {
            beta1: 1.0,
            ..adam()
        };
        assert!(spec
            .validate()
            .unwrap_err()
            .to_string()
            .contains("adam_beta1 = 1"));
    }
}
