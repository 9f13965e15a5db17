//! The `mlp` model: one hidden layer each way, all parameters Euclidean,
//!
//! z = A₂ φ(A₁x + a₁) + a₂,   x̂ = B₂ φ(B₁q̃ + b₁) + b₂,
//!
//! hidden width h, φ = ReLU (or tanh), weights in PyTorch's `nn.Linear`
//! layout (out × in), and its hand-derived gradients (backpropagation) on
//! ndarray.
//!
//! # Derivation
//!
//! Batch X (B × D), rows as samples, so a layer is H = X Aᵀ + 1aᵀ.
//! Forward: H₁ = X A₁ᵀ + 1a₁ᵀ, P₁ = φ(H₁), Z = P₁ A₂ᵀ + 1a₂ᵀ; the codes Q;
//! H₂ = Q B₁ᵀ + 1b₁ᵀ, P₂ = φ(H₂), X̂ = P₂ B₂ᵀ + 1b₂ᵀ; R = X − X̂. The loss
//! is L = (1/B)‖R‖² + (α/B)‖sg(Z) − Q‖² + (β/B)‖Z − sg(Q)‖².
//!
//! *Decoder.* ∂L/∂X̂ = −(2/B) R =: D̂. For a layer Y = P Bᵀ + 1bᵀ with
//! upstream gradient ∂L/∂Y: ∂L/∂B = (∂L/∂Y)ᵀ P, ∂L/∂b = column sums of
//! ∂L/∂Y, ∂L/∂P = (∂L/∂Y) B. So ∂L/∂B₂ = D̂ᵀ P₂, ∂L/∂b₂ = 1ᵀD̂,
//! ∂L/∂H₂ = (D̂ B₂) ⊙ φ'(H₂) =: Δ₂, ∂L/∂B₁ = Δ₂ᵀ Q, ∂L/∂b₁ = 1ᵀΔ₂, and
//! G = ∂L/∂Q̃ = Δ₂ B₁ (B × m).
//!
//! *Estimator and commitment.* G_z = T(G) + (2β/B)(Z − Q), row by row
//! ([`super::estimator`]).
//!
//! *Encoder.* ∂L/∂A₂ = G_zᵀ P₁, ∂L/∂a₂ = 1ᵀG_z, Δ₁ = (G_z A₂) ⊙ φ'(H₁),
//! ∂L/∂A₁ = Δ₁ᵀ X, ∂L/∂a₁ = 1ᵀΔ₁.
//!
//! *Codebook.* Only the α term reaches E: ∂L/∂e_k = (2α/B) Σ_{a_b = k} (e_k − z_b).
//!
//! φ'(h) is 1{h > 0} for ReLU (0 at h = 0, as PyTorch takes it) and
//! 1 − tanh²(h) for tanh (computed from P, as PyTorch does).
//!
//! # Initialisation
//!
//! As PyTorch's `nn.Linear` default: every weight and bias of a layer with
//! fan-in n uniform on [−1/√n, 1/√n), drawn in the order A₁, a₁, A₂, a₂,
//! B₁, b₁, B₂, b₂ (row-major) from the run's initialisation stream; E by
//! k-means++ and Lloyd on the initial encoder's codes of the training set.
use ndarray::linalg::general_mat_mul;
use ndarray::{Array2, ArrayView2, Axis, Zip};
use rand::{Rng, RngCore};

use super::estimator::{Draws, QuantizerPath};
use super::torch::activate as activate_tensor;
use super::untied::codebook_gradient;
use super::{
    check_batch, fit_buffer, quantize_rows, Activation, Backend, Estimator, Gathered,
    GradientMethod, Gradients, LossParts, LossWeights, Manifold, MethodSpec, Model, ModelKind,
    ModelSpec, ParamInfo, Params, Side,
};
use crate::error::{Result, VqError};
use tch::Tensor;

use crate::numerics::quantize::NearestCode;

/// Indices of the parameters in [`Params::weights`].
const A1: usize = 0;
const BIAS_A1: usize = 1;
const A2: usize = 2;
const BIAS_A2: usize = 3;
const B1: usize = 4;
const BIAS_B1: usize = 5;
const B2: usize = 6;
const BIAS_B2: usize = 7;

/// φ applied elementwise.
pub(crate) fn activate(activation: Activation, h: &Array2<f64>, out: &mut Array2<f64>) {
    match activation {
        Activation::Relu => Zip::from(out).and(h).for_each(|p, &v| *p = v.max(0.0)),
        Activation::Tanh => Zip::from(out).and(h).for_each(|p, &v| *p = v.tanh()),
    }
}

/// grad ← grad ⊙ φ'(h), with p = φ(h).
pub(crate) fn times_derivative(
    activation: Activation,
    grad: &mut Array2<f64>,
    h: &Array2<f64>,
    p: &Array2<f64>,
) {
    match activation {
        Activation::Relu => Zip::from(grad).and(h).for_each(|g, &v| {
            if v <= 0.0 {
                *g = 0.0;
            }
        }),
        Activation::Tanh => Zip::from(grad).and(p).for_each(|g, &y| *g *= 1.0 - y * y),
    }
}

/// out = input · weightᵀ + bias (a linear layer on the rows of `input`).
pub(crate) fn linear(
    input: ArrayView2<f64>,
    weight: &Array2<f64>,
    bias: &Array2<f64>,
    out: &mut Array2<f64>,
) {
    general_mat_mul(1.0, &input, &weight.t(), 0.0, out);
    *out += &bias.row(0);
}

/// The codes z = A₂ φ(A₁x + a₁) + a₂ of every row of `x`.
pub fn encode(params: &Params, x: ArrayView2<f64>) -> Array2<f64> {
    let w = &params.weights;
    let act = params.model.activation;
    let mut h1 = Array2::zeros((x.nrows(), w[A1].nrows()));
    linear(x, &w[A1], &w[BIAS_A1], &mut h1);
    let mut p1 = Array2::zeros(h1.raw_dim());
    activate(act, &h1, &mut p1);
    let mut z = Array2::zeros((x.nrows(), w[A2].nrows()));
    linear(p1.view(), &w[A2], &w[BIAS_A2], &mut z);
    z
}

/// The reconstructions x̂ = B₂ φ(B₁q + b₁) + b₂ of every row of `q`.
pub fn decode(params: &Params, q: ArrayView2<f64>) -> Array2<f64> {
    let w = &params.weights;
    let act = params.model.activation;
    let mut h2 = Array2::zeros((q.nrows(), w[B1].nrows()));
    linear(q, &w[B1], &w[BIAS_B1], &mut h2);
    let mut p2 = Array2::zeros(h2.raw_dim());
    activate(act, &h2, &mut p2);
    let mut x_hat = Array2::zeros((q.nrows(), w[B2].nrows()));
    linear(p2.view(), &w[B2], &w[BIAS_B2], &mut x_hat);
    x_hat
}

/// The network parameters of `model` for data of dimension `dim` and codes
/// of dimension `m`, initialised as PyTorch's `nn.Linear` default (see the
/// module doc) from `rng`.
pub fn init_network<R: Rng + ?Sized>(
    model: &ModelSpec,
    dim: usize,
    m: usize,
    rng: &mut R,
) -> Vec<Array2<f64>> {
    (0..model.param_count())
        .map(|i| {
            // The fan-in of a layer is its weight's column count; a bias
            // (odd index) shares the fan-in of the weight before it.
            let info = model.param_info(i, dim, m);
            let fan_in = model.param_info(i - i % 2, dim, m).shape.1;
            let bound = 1.0 / (fan_in as f64).sqrt();
            Array2::from_shape_simple_fn(info.shape, || rng.gen_range(-bound..bound))
        })
        .collect()
}

/// One hidden layer each way: z = A₂ φ(A₁x + a₁) + a₂,
/// x̂ = B₂ φ(B₁q̃ + b₁) + b₂, every parameter Euclidean; hidden width and φ
/// come from the [`ModelSpec`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Mlp;

impl Model for Mlp {
    fn kind(&self) -> ModelKind {
        ModelKind::Mlp
    }

    fn param_count(&self, _: &ModelSpec) -> usize {
        8
    }

    fn param_info(&self, spec: &ModelSpec, index: usize, dim: usize, m: usize) -> ParamInfo {
        let h = spec.hidden;
        let (name, shape) = match index {
            A1 => ("A1", (h, dim)),
            BIAS_A1 => ("a1", (1, h)),
            A2 => ("A2", (m, h)),
            BIAS_A2 => ("a2", (1, m)),
            B1 => ("B1", (h, m)),
            BIAS_B1 => ("b1", (1, h)),
            B2 => ("B2", (dim, h)),
            BIAS_B2 => ("b2", (1, dim)),
            i => panic!("the mlp model has no parameter {i}"),
        };
        ParamInfo {
            name,
            shape,
            manifold: Manifold::Euclidean,
        }
    }

    fn manifold_of(&self, _: usize) -> Manifold {
        Manifold::Euclidean
    }

    fn sides_of(&self, _: &ModelSpec, index: usize) -> &'static [Side] {
        if index < B1 {
            &[Side::Encode]
        } else {
            &[Side::Decode]
        }
    }

    fn data_dim(&self, _: &ModelSpec, weights: &[Array2<f64>]) -> usize {
        weights[A1].ncols()
    }

    fn has_hidden_layer(&self) -> bool {
        true
    }

    fn row_cost(&self, spec: &ModelSpec, _: usize) -> f64 {
        3.0 * spec.hidden as f64
    }

    fn encode(&self, params: &Params, x: ArrayView2<f64>) -> Array2<f64> {
        encode(params, x)
    }

    /// The smallest |pre-activation| of the hidden units of each row
    /// (encoder, and decoder fed `decoder_input`) over 1e-2; infinity for
    /// tanh.
    fn kink_safety(
        &self,
        params: &Params,
        batch: ArrayView2<f64>,
        decoder_input: ArrayView2<f64>,
    ) -> Vec<f64> {
        const MIN_KINK: f64 = 1e-2;
        if params.model.activation != Activation::Relu {
            return vec![f64::INFINITY; batch.nrows()];
        }
        let w = &params.weights;
        let h1 = batch.dot(&w[A1].t()) + w[BIAS_A1].row(0);
        let h2 = decoder_input.dot(&w[B1].t()) + w[BIAS_B1].row(0);
        h1.outer_iter()
            .zip(h2.outer_iter())
            .map(|(a, b)| {
                a.iter()
                    .chain(b.iter())
                    .fold(f64::INFINITY, |m, v| m.min(v.abs()))
                    / MIN_KINK
            })
            .collect()
    }

    fn decode(&self, params: &Params, q: ArrayView2<f64>) -> Array2<f64> {
        decode(params, q)
    }

    fn starts_from_basis(&self) -> bool {
        false
    }

    fn network_from_basis(&self, _: Array2<f64>) -> Vec<Array2<f64>> {
        panic!("the mlp model does not start from a PCA basis")
    }

    fn random_network(
        &self,
        spec: &ModelSpec,
        dim: usize,
        m: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<Array2<f64>>> {
        Ok(init_network(spec, dim, m, rng))
    }

    fn manual(&self, spec: MethodSpec, weights: LossWeights) -> Box<dyn GradientMethod> {
        Box::new(MlpManual::new(spec.estimator, spec.model, weights))
    }

    fn forward(&self, spec: &ModelSpec, w: &[Tensor], side: Side, input: &Tensor) -> Tensor {
        let layer = |first: usize| {
            let hidden = activate_tensor(
                spec.activation,
                &(input.matmul(&w[first].tr()) + &w[first + 1]),
            );
            hidden.matmul(&w[first + 2].tr()) + &w[first + 3]
        };
        match side {
            Side::Encode => layer(A1),
            Side::Decode => layer(B1),
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Workspace {
    path: QuantizerPath,
    h1: Array2<f64>,
    p1: Array2<f64>,
    z: Array2<f64>,
    q: Array2<f64>,
    h2: Array2<f64>,
    p2: Array2<f64>,
    residual: Array2<f64>,
    delta2: Array2<f64>,
    grad_z: Array2<f64>,
    delta1: Array2<f64>,
    nearest: NearestCode,
}

/// The mlp model's gradients by the backpropagation above.
#[derive(Debug, Clone)]
pub struct MlpManual {
    estimator: Estimator,
    model: ModelSpec,
    weights: LossWeights,
    work: Workspace,
    gathered: Gathered,
}

impl MlpManual {
    /// The manual mlp method for `estimator` and the mlp `model` (its hidden
    /// width and nonlinearity).
    pub fn new(estimator: Estimator, model: ModelSpec, weights: LossWeights) -> Self {
        MlpManual {
            estimator,
            model,
            weights,
            work: Workspace::default(),
            gathered: Gathered::default(),
        }
    }
}

impl Workspace {
    fn compute(
        &mut self,
        (estimator, act, draws): (Estimator, Activation, &Draws),
        loss_weights: LossWeights,
        params: &Params,
        batch: ArrayView2<f64>,
        out: &mut Gradients,
    ) -> Result<()> {
        if params.model.kind != ModelKind::Mlp || params.model.activation != act {
            return Err(VqError::Shape(format!(
                "the mlp method ({:?}) got parameters of the {} model ({:?})",
                act,
                params.model.kind.name(),
                params.model.activation
            )));
        }
        check_batch(params, batch.ncols(), None)?;
        draws.check(
            estimator,
            batch.nrows(),
            params.code_dim(),
            params.codebook.nrows(),
        )?;
        let w = &params.weights;
        let (b, d) = batch.dim();
        let (h, m) = (w[A1].nrows(), params.code_dim());
        let scale = 1.0 / b as f64;
        let LossWeights { alpha, beta } = loss_weights;
        let ws = self;
        for (buf, shape) in [
            (&mut ws.h1, (b, h)),
            (&mut ws.p1, (b, h)),
            (&mut ws.h2, (b, h)),
            (&mut ws.p2, (b, h)),
            (&mut ws.delta2, (b, h)),
            (&mut ws.delta1, (b, h)),
            (&mut ws.z, (b, m)),
            (&mut ws.q, (b, m)),
            (&mut ws.grad_z, (b, m)),
            (&mut ws.residual, (b, d)),
        ] {
            fit_buffer(buf, shape);
        }
        out.fit(params, b);

        // Forward.
        linear(batch, &w[A1], &w[BIAS_A1], &mut ws.h1);
        activate(act, &ws.h1, &mut ws.p1);
        linear(ws.p1.view(), &w[A2], &w[BIAS_A2], &mut ws.z);
        let insub_total = quantize_rows(
            &mut ws.nearest,
            ws.z.view(),
            params.codebook.view(),
            &mut out.assignments,
            &mut ws.q,
        );
        let q_tilde = ws.path.forward(
            estimator,
            ws.z.view(),
            ws.q.view(),
            params.codebook.view(),
            draws,
        );
        linear(q_tilde, &w[B1], &w[BIAS_B1], &mut ws.h2);
        activate(act, &ws.h2, &mut ws.p2);
        // R = X − (P₂ B₂ᵀ + 1b₂ᵀ).
        ws.residual.assign(&batch);
        general_mat_mul(-1.0, &ws.p2, &w[B2].t(), 1.0, &mut ws.residual);
        ws.residual -= &w[BIAS_B2].row(0);
        let recon = ws.residual.iter().map(|r| r * r).sum::<f64>() * scale;
        let insub = insub_total * scale;
        out.loss = LossParts::from_distortions(recon, insub, LossWeights { alpha, beta });

        // Decoder: D̂ = −(2/B) R.
        let g = &mut out.grad_weights;
        let c = -2.0 * scale;
        general_mat_mul(c, &ws.residual.t(), &ws.p2, 0.0, &mut g[B2]);
        column_sums(ws.residual.view(), c, &mut g[BIAS_B2]);
        general_mat_mul(c, &ws.residual, &w[B2], 0.0, &mut ws.delta2);
        times_derivative(act, &mut ws.delta2, &ws.h2, &ws.p2);
        let q_tilde = ws.path.forward_value(estimator, ws.q.view());
        general_mat_mul(1.0, &ws.delta2.t(), &q_tilde, 0.0, &mut g[B1]);
        column_sums(ws.delta2.view(), 1.0, &mut g[BIAS_B1]);
        // G = Δ₂ B₁, the estimator's rule (which may reach E), the
        // commitment term.
        codebook_gradient(
            params.codebook.view(),
            ws.z.view(),
            &out.assignments,
            2.0 * alpha * scale,
            &mut out.grad_e,
        );
        general_mat_mul(1.0, &ws.delta2, &w[B1], 0.0, &mut ws.grad_z);
        ws.path.backward(
            estimator,
            (ws.z.view(), ws.q.view(), params.codebook.view()),
            (&out.assignments, draws),
            &mut ws.grad_z,
            &mut out.grad_e,
        );
        Zip::from(&mut ws.grad_z)
            .and(&ws.z)
            .and(&ws.q)
            .for_each(|g, &z, &q| *g += 2.0 * beta * scale * (z - q));
        // Encoder.
        general_mat_mul(1.0, &ws.grad_z.t(), &ws.p1, 0.0, &mut g[A2]);
        column_sums(ws.grad_z.view(), 1.0, &mut g[BIAS_A2]);
        general_mat_mul(1.0, &ws.grad_z, &w[A2], 0.0, &mut ws.delta1);
        times_derivative(act, &mut ws.delta1, &ws.h1, &ws.p1);
        general_mat_mul(1.0, &ws.delta1.t(), &batch, 0.0, &mut g[A1]);
        column_sums(ws.delta1.view(), 1.0, &mut g[BIAS_A1]);
        out.codes.assign(&ws.z);
        Ok(())
    }
}

/// out (1 × n) = c · the column sums of `a` (B × n).
pub(crate) fn column_sums(a: ArrayView2<f64>, c: f64, out: &mut Array2<f64>) {
    out.fill(0.0);
    let mut row = out.row_mut(0);
    for a_row in a.axis_iter(Axis(0)) {
        row.zip_mut_with(&a_row, |o, &v| *o += v);
    }
    row.mapv_inplace(|v| c * v);
}

impl GradientMethod for MlpManual {
    fn spec(&self) -> MethodSpec {
        MethodSpec::new(self.model, self.estimator, Backend::Manual)
    }

    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        let choices = (self.estimator, self.model.activation, draws);
        self.work.compute(choices, self.weights, params, batch, out)
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
        let choices = (self.estimator, self.model.activation, draws);
        self.work.compute(choices, self.weights, params, batch, out)
    }
}
