//! Hand-derived gradients on ndarray.
//!
//! # Derivation
//!
//! Batch X (B × D). Forward: Z = X W (B × m); a_b = argmin_k ‖z_b − e_k‖²;
//! Q = rows e_{a_b} (B × m); the residual R = X − Q Wᵀ (B × D). The loss is
//!
//! L = (1/B) ‖R‖² + (α/B) ‖sg(Z) − Q‖² + (β/B) ‖Z − sg(Q)‖²   (Frobenius norms).
//!
//! *Reconstruction, decoder path.* x̂_b = W q̃_b, so ∂L/∂x̂_b = −(2/B) r_b and
//! ∂L/∂W|_dec = Σ_b (−2/B) r_b q̃_bᵀ = −(2/B) Rᵀ Q.
//!
//! *Reconstruction, through q̃.* g_b = ∂L/∂q̃_b = Wᵀ ∂L/∂x̂_b, i.e.
//! G = −(2/B) R W (B × m). The estimator turns it into ∂L/∂z_b:
//! STE: g_b; residual projection: (g_b·u_b) u_b with u_b = (q_b − z_b)/‖q_b − z_b‖
//! (0 when q_b = z_b).
//!
//! *Commitment.* ∂/∂z_b of (β/B)‖z_b − sg(q_b)‖² is (2β/B)(z_b − q_b).
//!
//! *Encoder.* z_b = Wᵀ x_b, so ∂L/∂W|_enc = Σ_b x_b (∂L/∂z_b)ᵀ = Xᵀ G_z with
//! G_z = T(G) + (2β/B)(Z − Q).
//!
//! *Codebook.* Only the α term reaches E (q̃ carries nothing to E, sg(z) is a
//! constant): ∂L/∂e_k = (2α/B) Σ_{b: a_b = k} (e_k − z_b).
//!
//! Altogether: ∂L/∂W = Xᵀ G_z − (2/B) Rᵀ Q, ∂L/∂E as above. R is computed
//! as written (not replaced by Z − Q through WᵀW = I), so the formulas hold
//! for any W and match autograd to rounding error.
use ndarray::{Array2, ArrayView2, Axis, Zip};

use super::{Estimator, GradientMethod, Gradients, LossParts, LossWeights, MethodKind, Params};
use crate::error::{Result, VqError};
use crate::quantize::assign_nearest;

/// A method whose gradients come from the derivation above.
#[derive(Debug, Clone)]
pub struct ManualMethod {
    estimator: Estimator,
    weights: LossWeights,
}

impl ManualMethod {
    /// A manual method for `estimator` (STE or residual projection).
    ///
    /// # Panics
    /// For [`Estimator::RotationTrick`], which has no hand-derived twin.
    pub fn new(estimator: Estimator, weights: LossWeights) -> Self {
        assert!(
            estimator != Estimator::RotationTrick,
            "the rotation trick has no manual implementation"
        );
        ManualMethod { estimator, weights }
    }
}

/// Applies the residual projection row by row: g_b ← (g_b·u_b) u_b with
/// u_b = (q_b − z_b)/‖q_b − z_b‖, and g_b ← 0 where q_b = z_b.
pub fn project_onto_residual(g: &mut Array2<f64>, z: ArrayView2<f64>, q: ArrayView2<f64>) {
    Zip::from(g.rows_mut())
        .and(z.rows())
        .and(q.rows())
        .for_each(|mut g_row, z_row, q_row| {
            let diff = &q_row - &z_row;
            let norm = diff.dot(&diff).sqrt();
            if norm == 0.0 {
                g_row.fill(0.0);
            } else {
                let u = diff / norm;
                let along = g_row.dot(&u);
                g_row.assign(&(u * along));
            }
        });
}

impl GradientMethod for ManualMethod {
    fn kind(&self) -> MethodKind {
        match self.estimator {
            Estimator::Ste => MethodKind::ManualSte,
            _ => MethodKind::ManualRotation,
        }
    }

    fn gradients(&mut self, params: &Params, batch: ArrayView2<f64>) -> Result<Gradients> {
        let Params { w, codebook } = params;
        let b = batch.nrows();
        if batch.ncols() != w.nrows() {
            return Err(VqError::Shape(format!(
                "batch has {} columns, W has {} rows",
                batch.ncols(),
                w.nrows()
            )));
        }
        let scale = 1.0 / b as f64;
        let LossWeights { alpha, beta } = self.weights;

        // Forward.
        let z = batch.dot(w);
        let mut assignments = vec![0; b];
        let sq_dist_total = assign_nearest(z.view(), codebook.view(), &mut assignments);
        let q = codebook.select(Axis(0), &assignments);
        let mut residual = batch.to_owned();
        ndarray::linalg::general_mat_mul(-1.0, &q, &w.t(), 1.0, &mut residual);
        let recon = residual.iter().map(|v| v * v).sum::<f64>() * scale;
        let insub = sq_dist_total * scale;
        let loss = LossParts {
            recon,
            codebook: alpha * insub,
            commitment: beta * insub,
            total: recon + (alpha + beta) * insub,
        };

        // G = ∂L/∂q̃ = −(2/B) R W, then the estimator's backward rule.
        let mut grad_z = residual.dot(w) * (-2.0 * scale);
        if self.estimator == Estimator::ResidualProjection {
            project_onto_residual(&mut grad_z, z.view(), q.view());
        }
        // Commitment: + (2β/B)(Z − Q).
        let z_minus_q = &z - &q;
        grad_z.scaled_add(2.0 * beta * scale, &z_minus_q);

        // ∂L/∂W = Xᵀ G_z − (2/B) Rᵀ Q.
        let mut grad_w = batch.t().dot(&grad_z);
        ndarray::linalg::general_mat_mul(-2.0 * scale, &residual.t(), &q, 1.0, &mut grad_w);

        // ∂L/∂e_k = (2α/B) Σ_{a_b = k} (e_k − z_b).
        let mut grad_e = Array2::<f64>::zeros(codebook.raw_dim());
        for (row, &k) in z_minus_q.outer_iter().zip(&assignments) {
            let mut g = grad_e.row_mut(k);
            g.scaled_add(-2.0 * alpha * scale, &row);
        }

        Ok(Gradients {
            loss,
            grad_w,
            grad_e,
            assignments,
        })
    }
}
