//! The untied linear model: z = Wᵀx with W ∈ St(D, m) (Riemannian update),
//! x̂ = V q̃ with V ∈ R^{D×m} free (Euclidean update), and its hand-derived
//! gradients on ndarray.
//!
//! Once V ≠ W, g = ∂L/∂q̃ is no longer parallel to q − z, so the report's
//! residual projection differs from STE: the case the tied model cannot show.
//!
//! # Derivation
//!
//! Batch X (B × D). Forward: Z = X W; a_b = argmin_k ‖z_b − e_k‖²; Q = rows
//! e_{a_b}; the residual R = X − Q Vᵀ (B × D). The loss is
//!
//! L = (1/B) ‖R‖² + (α/B) ‖sg(Z) − Q‖² + (β/B) ‖Z − sg(Q)‖².
//!
//! *Decoder.* x̂_b = V q̃_b, so ∂L/∂x̂_b = −(2/B) r_b and
//! ∂L/∂V = Σ_b (−2/B) r_b q̃_bᵀ = −(2/B) Rᵀ Q (q̃ has the forward value q).
//!
//! *Through q̃.* g_b = ∂L/∂q̃_b = Vᵀ ∂L/∂x̂_b, i.e. G = −(2/B) R V (B × m);
//! the estimator turns each g_b into what flows to z_b
//! ([`super::estimator`]).
//!
//! *Commitment.* (2β/B)(z_b − q_b) to z_b.
//!
//! *Encoder.* z_b = Wᵀx_b, so ∂L/∂W = Xᵀ G_z with G_z = T(G) + (2β/B)(Z − Q).
//! Only W's Euclidean gradient is computed here; the update projects it onto
//! the tangent space (the update is shared, `src/optim/`).
//!
//! *Codebook.* Only the α term reaches E: ∂L/∂e_k = (2α/B) Σ_{a_b = k} (e_k − z_b).
//!
//! # How it is computed
//!
//! Three skinny GEMMs over the batch (Z = X W, R = X − Q Vᵀ, then Xᵀ G_z and
//! Rᵀ Q) plus m × m work per row. The residual is formed directly (no
//! reassociation), so the loss has no cancellation error. Every buffer lives
//! in a workspace: after the first step of a shape nothing is allocated.
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Zip};

use super::estimator::{Draws, QuantizerPath};
use super::tied::Tied;
use super::{
    check_batch, quantize_rows, Backend, Estimator, Gathered, GradientMethod, Gradients, LossParts,
    LossWeights, Manifold, MethodSpec, Model, ModelKind, ModelSpec, ParamInfo, Params, Side,
};
use crate::error::{Result, VqError};
use crate::numerics::linalg::random_stiefel;
use rand::RngCore;
use tch::Tensor;

use crate::numerics::quantize::NearestCode;

/// z = Wᵀx with W (D × m) on the Stiefel manifold, x̂ = V q̃ with V (D × m)
/// free.
#[derive(Debug, Clone, Copy, Default)]
pub struct Untied;

impl Model for Untied {
    fn kind(&self) -> ModelKind {
        ModelKind::Untied
    }

    fn param_count(&self, _: &ModelSpec) -> usize {
        2
    }

    fn param_info(&self, _: &ModelSpec, index: usize, dim: usize, m: usize) -> ParamInfo {
        let name = match index {
            0 => "W",
            1 => "V",
            i => panic!("the untied model has no parameter {i}"),
        };
        ParamInfo {
            name,
            shape: (dim, m),
            manifold: self.manifold_of(index),
        }
    }

    fn manifold_of(&self, index: usize) -> Manifold {
        if index == 0 {
            Manifold::Stiefel
        } else {
            Manifold::Euclidean
        }
    }

    /// The encoder is the tied model's: z = Wᵀx.
    fn sides_of(&self, _: &ModelSpec, index: usize) -> &'static [Side] {
        if index == 0 {
            &[Side::Encode]
        } else {
            &[Side::Decode]
        }
    }

    fn data_dim(&self, _: &ModelSpec, weights: &[Array2<f64>]) -> usize {
        weights[0].nrows()
    }

    fn row_cost(&self, _: &ModelSpec, m: usize) -> f64 {
        2.0 * m as f64
    }

    fn encode(&self, params: &Params, x: ArrayView2<f64>) -> Array2<f64> {
        Tied.encode(params, x)
    }

    fn decode(&self, params: &Params, q: ArrayView2<f64>) -> Array2<f64> {
        q.dot(&params.weights[1].t())
    }

    fn starts_from_basis(&self) -> bool {
        true
    }

    /// W = V = the basis.
    fn network_from_basis(&self, w: Array2<f64>) -> Vec<Array2<f64>> {
        vec![w.clone(), w]
    }

    fn random_network(
        &self,
        _: &ModelSpec,
        dim: usize,
        m: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<Array2<f64>>> {
        Ok(self.network_from_basis(random_stiefel(dim, m, rng)?))
    }

    fn manual(&self, spec: MethodSpec, weights: LossWeights) -> Box<dyn GradientMethod> {
        Box::new(UntiedManual::new(spec.estimator, weights))
    }

    fn forward(&self, spec: &ModelSpec, w: &[Tensor], side: Side, input: &Tensor) -> Tensor {
        match side {
            Side::Encode => Tied.forward(spec, w, side, input),
            Side::Decode => input.matmul(&w[1].tr()),
        }
    }
}

/// Buffers of the linear models' step (untied, and tied with the
/// estimators that change q̃'s forward value).
#[derive(Debug, Clone, Default)]
pub(crate) struct Workspace {
    path: QuantizerPath,
    z: Array2<f64>,
    q: Array2<f64>,
    residual: Array2<f64>,
    grad_z: Array2<f64>,
    nearest: NearestCode,
}

/// The untied model's gradients from the derivation above.
#[derive(Debug, Clone)]
pub struct UntiedManual {
    estimator: Estimator,
    weights: LossWeights,
    work: Workspace,
    gathered: Gathered,
}

impl UntiedManual {
    /// The manual untied method for `estimator`.
    pub fn new(estimator: Estimator, weights: LossWeights) -> Self {
        UntiedManual {
            estimator,
            weights,
            work: Workspace::default(),
            gathered: Gathered::default(),
        }
    }
}

impl Workspace {
    /// One step of a linear model: untied (x̂ = V q̃), or tied (x̂ = W q̃, the
    /// decoder's gradient added to the encoder's) — the tied model comes here
    /// for the estimators that change q̃'s forward value.
    pub(crate) fn compute(
        &mut self,
        (estimator, draws): (Estimator, &Draws),
        loss_weights: LossWeights,
        params: &Params,
        batch: ArrayView2<f64>,
        out: &mut Gradients,
    ) -> Result<()> {
        let tied = match params.model.kind {
            ModelKind::Untied => false,
            ModelKind::Tied => true,
            other => {
                return Err(VqError::Shape(format!(
                    "a linear method got parameters of the {} model",
                    other.name()
                )))
            }
        };
        check_batch(params, batch.ncols(), None)?;
        let w = &params.weights[0];
        let (v, codebook) = (&params.weights[usize::from(!tied)], &params.codebook);
        draws.check(estimator, batch.nrows(), w.ncols(), codebook.nrows())?;
        let (b, d) = batch.dim();
        let m = w.ncols();
        let scale = 1.0 / b as f64;
        let LossWeights { alpha, beta } = loss_weights;
        let ws = self;
        for (buf, shape) in [
            (&mut ws.z, (b, m)),
            (&mut ws.q, (b, m)),
            (&mut ws.grad_z, (b, m)),
            (&mut ws.residual, (b, d)),
        ] {
            super::fit_buffer(buf, shape);
        }
        out.fit(params, b);

        // Forward: Z = X W, the codes, Q, R = X − Q Vᵀ.
        general_mat_mul(1.0, &batch, w, 0.0, &mut ws.z);
        let insub_total = quantize_rows(
            &mut ws.nearest,
            ws.z.view(),
            codebook.view(),
            &mut out.assignments,
            &mut ws.q,
        );
        let q_tilde = ws
            .path
            .forward(estimator, ws.z.view(), ws.q.view(), codebook.view(), draws);
        ws.residual.assign(&batch);
        general_mat_mul(-1.0, &q_tilde, &v.t(), 1.0, &mut ws.residual);
        let recon = ws.residual.iter().map(|r| r * r).sum::<f64>() * scale;
        let insub = insub_total * scale;
        out.loss = LossParts::from_distortions(recon, insub, LossWeights { alpha, beta });

        codebook_gradient(
            codebook.view(),
            ws.z.view(),
            &out.assignments,
            2.0 * alpha * scale,
            &mut out.grad_e,
        );
        // G = −(2/B) R V, the estimator's rule (which may reach E), the
        // commitment term.
        general_mat_mul(-2.0 * scale, &ws.residual, v, 0.0, &mut ws.grad_z);
        ws.path.backward(
            estimator,
            (ws.z.view(), ws.q.view(), codebook.view()),
            (&out.assignments, draws),
            &mut ws.grad_z,
            &mut out.grad_e,
        );
        Zip::from(&mut ws.grad_z)
            .and(&ws.z)
            .and(&ws.q)
            .for_each(|g, &z, &q| *g += 2.0 * beta * scale * (z - q));
        // ∂L/∂W = Xᵀ G_z, plus the decoder's −(2/B) Rᵀ Q̃ when tied; untied:
        // ∂L/∂V = −(2/B) Rᵀ Q̃.
        general_mat_mul(1.0, &batch.t(), &ws.grad_z, 0.0, &mut out.grad_weights[0]);
        let q_tilde = ws.path.forward_value(estimator, ws.q.view());
        let (decoder, keep) = if tied { (0, 1.0) } else { (1, 0.0) };
        general_mat_mul(
            -2.0 * scale,
            &ws.residual.t(),
            &q_tilde,
            keep,
            &mut out.grad_weights[decoder],
        );
        out.codes.assign(&ws.z);
        Ok(())
    }
}

/// ∂L/∂e_k = c Σ_{a_b = k} (e_k − z_b) into `out` (K × m), with c = 2α/B:
/// the α term's gradient, the same for every model.
pub fn codebook_gradient(
    codebook: ArrayView2<f64>,
    z: ArrayView2<f64>,
    assignments: &[usize],
    c: f64,
    out: &mut Array2<f64>,
) {
    out.fill(0.0);
    for (z_row, &a) in z.outer_iter().zip(assignments) {
        let mut g = out.row_mut(a);
        let e = codebook.row(a);
        for i in 0..g.len() {
            g[i] += c * (e[i] - z_row[i]);
        }
    }
}

impl GradientMethod for UntiedManual {
    fn spec(&self) -> MethodSpec {
        MethodSpec::new(
            ModelSpec::of(ModelKind::Untied),
            self.estimator,
            Backend::Manual,
        )
    }

    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        self.work
            .compute((self.estimator, draws), self.weights, params, batch, out)
    }

    fn gradients_rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        let batch = self.gathered.rows(params, data, rows)?;
        self.work
            .compute((self.estimator, draws), self.weights, params, batch, out)
    }
}
