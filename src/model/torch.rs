//! Gradients from libtorch's autograd, mirroring the PyTorch original.
//!
//! Each estimator is built from `detach` tricks so that the forward value of
//! q̃ is exactly q while autograd produces the estimator's backward rule:
//!
//! * STE: q̃ = z + (q − z).detach() (as in the original; its forward value is
//!   q up to one rounding, the other two are exactly q);
//! * residual projection (the report's "rotation"): with u = (q − z)/‖q − z‖
//!   detached, s = u·z, q̃ = q.detach() + u (s − s.detach()); then
//!   ∂q̃/∂z = u uᵀ and the backward rule is (g·u) u;
//! * rotation trick (Fifty et al. 2024): with ẑ = z/‖z‖, q̂ = q/‖q‖,
//!   r = (ẑ + q̂)/‖ẑ + q̂‖ and λ = ‖q‖/‖z‖ all detached,
//!   y = λ (z − 2 r (r·z) + 2 q̂ (ẑ·z)) = λ R z, q̃ = q.detach() + y − y.detach();
//!   then ∂q̃/∂z = λ R and the backward rule is λ Rᵀ g.
use ndarray::ArrayView2;
use tch::{Device, Kind, Tensor};

use super::{Estimator, GradientMethod, Gradients, LossParts, LossWeights, MethodKind, Params};
use crate::error::{Result, VqError};
use crate::torch_bridge::{to_array2, to_indices, to_tensor};

/// Smallest norm used as a divisor in the rotation trick (z = 0 or ẑ = −q̂).
const TINY: f64 = 1e-300;

/// A method whose gradients come from `backward()`.
#[derive(Debug)]
pub struct AutogradMethod {
    estimator: Estimator,
    weights: LossWeights,
    device: Device,
}

impl AutogradMethod {
    /// An autograd method for `estimator` on `device`.
    pub fn new(estimator: Estimator, weights: LossWeights, device: Device) -> Self {
        AutogradMethod {
            estimator,
            weights,
            device,
        }
    }
}

fn row_dot(a: &Tensor, b: &Tensor) -> Tensor {
    (a * b).sum_dim_intlist(1, true, Kind::Double)
}

fn row_norm(a: &Tensor) -> Tensor {
    row_dot(a, a).sqrt()
}

/// q̃ for `estimator`: forward value q, backward rule of the estimator.
/// `z` carries gradient, `q` is detached here.
pub fn straight_through(estimator: Estimator, z: &Tensor, q: &Tensor) -> Tensor {
    let q = q.detach();
    match estimator {
        Estimator::Ste => z + (&q - z).detach(),
        Estimator::ResidualProjection => {
            let diff = (&q - z).detach();
            let norm = row_norm(&diff);
            let safe = norm.clamp_min(TINY);
            let u = (&diff / &safe) * norm.gt(0.0).to_kind(Kind::Double);
            let along = row_dot(&u, z);
            &q + &u * (&along - along.detach())
        }
        Estimator::RotationTrick => {
            let zd = z.detach();
            let z_norm = row_norm(&zd).clamp_min(TINY);
            let q_norm = row_norm(&q);
            let z_hat = &zd / &z_norm;
            let q_hat = &q / q_norm.clamp_min(TINY);
            let sum = &z_hat + &q_hat;
            let r = &sum / row_norm(&sum).clamp_min(TINY);
            let lambda = &q_norm / &z_norm;
            let rotated = z - &r * row_dot(&r, z) * 2.0 + &q_hat * row_dot(&z_hat, z) * 2.0;
            let y = &lambda * rotated;
            &q + (&y - y.detach())
        }
    }
}

impl GradientMethod for AutogradMethod {
    fn kind(&self) -> MethodKind {
        match self.estimator {
            Estimator::Ste => MethodKind::AutogradSte,
            Estimator::ResidualProjection => MethodKind::Rotation,
            Estimator::RotationTrick => MethodKind::RotationTrick,
        }
    }

    fn gradients(&mut self, params: &Params, batch: ArrayView2<f64>) -> Result<Gradients> {
        if batch.ncols() != params.w.nrows() {
            return Err(VqError::Shape(format!(
                "batch has {} columns, W has {} rows",
                batch.ncols(),
                params.w.nrows()
            )));
        }
        let b = batch.nrows() as f64;
        let x = to_tensor(batch, self.device);
        let w = to_tensor(params.w.view(), self.device).set_requires_grad(true);
        let e = to_tensor(params.codebook.view(), self.device).set_requires_grad(true);

        let z = x.matmul(&w);
        // Nearest codes as most VQ-VAE code does it: ‖e_k‖² − 2 z·e_k (the
        // ‖z‖² term is the same for every k), one B × K matrix product, no
        // B × K × m temporary.
        let assignments = tch::no_grad(|| {
            let code_sq = e.square().sum_dim_intlist(1, false, Kind::Double);
            let dist = code_sq.unsqueeze(0) - z.matmul(&e.tr()) * 2.0;
            dist.argmin(1, false)
        });
        let q = e.index_select(0, &assignments);
        let q_tilde = straight_through(self.estimator, &z, &q);
        let x_hat = q_tilde.matmul(&w.tr());
        let recon = (&x - x_hat).square().sum(Kind::Double) / b;
        let insub_cb = (z.detach() - &q).square().sum(Kind::Double) / b;
        let insub_commit = (&z - q.detach()).square().sum(Kind::Double) / b;
        let codebook = insub_cb * self.weights.alpha;
        let commitment = insub_commit * self.weights.beta;
        let total = &recon + &codebook + &commitment;
        total.backward();

        let scalar =
            |t: &Tensor| -> Result<f64> { Ok(f64::try_from(t.detach().to_device(Device::Cpu))?) };
        Ok(Gradients {
            loss: LossParts {
                recon: scalar(&recon)?,
                codebook: scalar(&codebook)?,
                commitment: scalar(&commitment)?,
                total: scalar(&total)?,
            },
            grad_w: to_array2(&w.grad())?,
            grad_e: to_array2(&e.grad())?,
            assignments: to_indices(&assignments)?,
        })
    }
}
