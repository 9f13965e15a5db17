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
//! Altogether: ∂L/∂W = Xᵀ G_z − (2/B) Rᵀ Q, ∂L/∂E as above.
//!
//! # How it is computed
//!
//! The B × D residual R is never formed. Exact reassociations (they hold for
//! any W, orthonormal or not) reduce the step to two skinny GEMMs over the
//! batch, Z = X W and Xᵀ M:
//!
//! * R W = X W − Q (WᵀW) = Z − Q (WᵀW), so G = −(2/B)(Z − Q WᵀW);
//! * Rᵀ Q = XᵀQ − W (QᵀQ), so ∂L/∂W = Xᵀ (G_z − (2/B) Q) + (2/B) W (QᵀQ);
//! * ‖r_b‖² = ‖x_b‖² − 2 z_b·q_b + q_bᵀ (WᵀW) q_b for the loss.
//!
//! All buffers live in a workspace sized on first use: after that a step
//! allocates nothing.
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Zip};

use super::{Estimator, GradientMethod, Gradients, LossParts, LossWeights, MethodKind, Params};
use crate::error::{Result, VqError};
use crate::quantize::NearestCode;

/// Buffers of one manual step, reused across steps.
#[derive(Debug, Clone, Default)]
struct Workspace {
    z: Array2<f64>,
    q: Array2<f64>,
    wtw: Array2<f64>,
    grad_z: Array2<f64>,
    qtq: Array2<f64>,
    counts: Vec<usize>,
    nearest: NearestCode,
}

impl Workspace {
    fn fit(&mut self, b: usize, m: usize, k: usize) {
        if self.z.dim() != (b, m) {
            self.z = Array2::zeros((b, m));
            self.q = Array2::zeros((b, m));
            self.grad_z = Array2::zeros((b, m));
        }
        if self.wtw.dim() != (m, m) {
            self.wtw = Array2::zeros((m, m));
            self.qtq = Array2::zeros((m, m));
        }
        if self.counts.len() != k {
            self.counts = vec![0; k];
        }
    }
}

fn fit_buffer(a: &mut Array2<f64>, shape: (usize, usize)) {
    if a.dim() != shape {
        *a = Array2::zeros(shape);
    }
}

/// A method whose gradients come from the derivation above.
#[derive(Debug, Clone)]
pub struct ManualMethod {
    estimator: Estimator,
    weights: LossWeights,
    work: Workspace,
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
        ManualMethod {
            estimator,
            weights,
            work: Workspace::default(),
        }
    }
}

/// Applies the residual projection row by row: g_b ← (g_b·u_b) u_b with
/// u_b = (q_b − z_b)/‖q_b − z_b‖, and g_b ← 0 where q_b = z_b.
pub fn project_onto_residual(g: &mut Array2<f64>, z: ArrayView2<f64>, q: ArrayView2<f64>) {
    Zip::from(g.rows_mut())
        .and(z.rows())
        .and(q.rows())
        .for_each(|mut g_row, z_row, q_row| {
            let mut norm_sq = 0.0;
            let mut along = 0.0;
            for ((g, z), q) in g_row.iter().zip(z_row.iter()).zip(q_row.iter()) {
                norm_sq += (q - z) * (q - z);
                along += g * (q - z);
            }
            if norm_sq == 0.0 {
                g_row.fill(0.0);
            } else {
                // (g·u) u with u = d/‖d‖ is (g·d) d / ‖d‖².
                let factor = along / norm_sq;
                for ((g, z), q) in g_row.iter_mut().zip(z_row.iter()).zip(q_row.iter()) {
                    *g = factor * (q - z);
                }
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
        let mut out = Gradients::empty();
        self.gradients_into(params, batch, &mut out)?;
        Ok(out)
    }

    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        out: &mut Gradients,
    ) -> Result<()> {
        let Params { w, codebook } = params;
        let (b, d) = batch.dim();
        let (m, k) = (w.ncols(), codebook.nrows());
        if d != w.nrows() || codebook.ncols() != m {
            return Err(VqError::Shape(format!(
                "batch has {d} columns, W is {}x{}, E is {}x{}",
                w.nrows(),
                m,
                k,
                codebook.ncols()
            )));
        }
        let scale = 1.0 / b as f64;
        let LossWeights { alpha, beta } = self.weights;
        let ws = &mut self.work;
        ws.fit(b, m, k);
        fit_buffer(&mut out.grad_w, (d, m));
        fit_buffer(&mut out.grad_e, (k, m));
        out.assignments.resize(b, 0);

        // Forward: Z = X W, assignments, Q.
        general_mat_mul(1.0, &batch, w, 0.0, &mut ws.z);
        let insub_total = ws
            .nearest
            .assign(ws.z.view(), codebook.view(), &mut out.assignments);
        for (mut q_row, &a) in ws.q.outer_iter_mut().zip(out.assignments.iter()) {
            q_row.assign(&codebook.row(a));
        }
        general_mat_mul(1.0, &w.t(), w, 0.0, &mut ws.wtw);

        // ‖r_b‖² = ‖x_b‖² − 2 z_b·q_b + q_bᵀ (WᵀW) q_b (plain loops: a BLAS
        // call per row would cost more than the row).
        let mut recon_total = 0.0;
        for ((x, z), q) in batch
            .outer_iter()
            .zip(ws.z.outer_iter())
            .zip(ws.q.outer_iter())
        {
            let x_sq: f64 = match x.as_slice() {
                Some(xs) => xs.iter().map(|v| v * v).sum(),
                None => x.iter().map(|v| v * v).sum(),
            };
            let mut cross = 0.0;
            let mut quad = 0.0;
            for i in 0..m {
                cross += z[i] * q[i];
                let mut row = 0.0;
                for j in 0..m {
                    row += ws.wtw[[i, j]] * q[j];
                }
                quad += q[i] * row;
            }
            recon_total += x_sq - 2.0 * cross + quad;
        }
        let recon = recon_total * scale;
        let insub = insub_total * scale;
        out.loss = LossParts {
            recon,
            codebook: alpha * insub,
            commitment: beta * insub,
            total: recon + (alpha + beta) * insub,
        };

        // G = −(2/B) R W = −(2/B)(Z − Q WᵀW), then the estimator's rule.
        ws.grad_z.assign(&ws.z);
        general_mat_mul(-1.0, &ws.q, &ws.wtw, 1.0, &mut ws.grad_z);
        ws.grad_z.mapv_inplace(|v| -2.0 * scale * v);
        if self.estimator == Estimator::ResidualProjection {
            project_onto_residual(&mut ws.grad_z, ws.z.view(), ws.q.view());
        }
        // Commitment: + (2β/B)(Z − Q); then M = G_z − (2/B) Q in place.
        Zip::from(&mut ws.grad_z)
            .and(&ws.z)
            .and(&ws.q)
            .for_each(|g, &z, &q| {
                *g += 2.0 * beta * scale * (z - q) - 2.0 * scale * q;
            });

        // ∂L/∂W = Xᵀ M + (2/B) W (QᵀQ), QᵀQ = Σ_k n_k e_k e_kᵀ.
        general_mat_mul(1.0, &batch.t(), &ws.grad_z, 0.0, &mut out.grad_w);
        ws.counts.iter_mut().for_each(|c| *c = 0);
        for &a in out.assignments.iter() {
            ws.counts[a] += 1;
        }
        ws.qtq.fill(0.0);
        for (e, &n) in codebook.outer_iter().zip(ws.counts.iter()) {
            if n > 0 {
                for i in 0..m {
                    for j in 0..m {
                        ws.qtq[[i, j]] += n as f64 * e[i] * e[j];
                    }
                }
            }
        }
        general_mat_mul(2.0 * scale, w, &ws.qtq, 1.0, &mut out.grad_w);

        // ∂L/∂e_k = (2α/B) Σ_{a_b = k} (e_k − z_b) = (2α/B)(n_k e_k − Σ z_b).
        for ((mut g, e), &n) in out
            .grad_e
            .outer_iter_mut()
            .zip(codebook.outer_iter())
            .zip(ws.counts.iter())
        {
            g.assign(&e);
            g.mapv_inplace(|v| v * (2.0 * alpha * scale * n as f64));
        }
        for (z, &a) in ws.z.outer_iter().zip(out.assignments.iter()) {
            out.grad_e.row_mut(a).scaled_add(-2.0 * alpha * scale, &z);
        }
        Ok(())
    }
}
