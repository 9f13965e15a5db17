//! Gradients from libtorch's autograd for every model, mirroring the PyTorch
//! original: each model's forward pass ([`super::Model::forward`]) on tensors that require
//! gradients, then `backward()`.
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

use super::estimator::TINY;
use super::{
    Activation, Draws, Estimator, GradientMethod, Gradients, LossParts, LossWeights, MethodSpec,
    Params, Side,
};
use crate::error::{Result, VqError};
use crate::infra::torch_bridge::{to_array2, to_indices, to_tensor};

/// A method whose gradients come from `backward()`.
#[derive(Debug)]
pub struct AutogradMethod {
    spec: MethodSpec,
    weights: LossWeights,
    device: Device,
}

impl AutogradMethod {
    /// An autograd method for `spec` (its backend is autograd) on `device`.
    pub fn new(spec: MethodSpec, weights: LossWeights, device: Device) -> Self {
        AutogradMethod {
            spec,
            weights,
            device,
        }
    }
}

/// φ on a tensor (the mlp's forward pass).
pub(crate) fn activate(activation: Activation, h: &Tensor) -> Tensor {
    match activation {
        Activation::Relu => h.relu(),
        Activation::Tanh => h.tanh(),
    }
}

fn row_dot(a: &Tensor, b: &Tensor) -> Tensor {
    (a * b).sum_dim_intlist(1, true, Kind::Double)
}

fn row_norm(a: &Tensor) -> Tensor {
    row_dot(a, a).sqrt()
}

/// q̃ for `estimator` (see [`super::estimator`] for the rules). `z` carries
/// gradient; `q` (the rows e_a of `codebook`) may carry gradient to E, which
/// only NSVQ and the Gumbel estimators use; `noise` holds the step's draws
/// (NSVQ's v̂ rows, Gumbel's G rows) and `tau` Gumbel's temperature.
pub fn quantizer_path(
    estimator: Estimator,
    z: &Tensor,
    q: &Tensor,
    codebook: &Tensor,
    noise: Option<&Tensor>,
    tau: f64,
) -> Tensor {
    let need = || noise.expect("the estimator's draws are checked before");
    match estimator {
        Estimator::Nsvq => {
            let diff = z - q;
            let r = row_dot(&diff, &diff)
                .clamp_min(super::estimator::NSVQ_MIN_SQ)
                .sqrt();
            z + r * need()
        }
        Estimator::Gumbel | Estimator::GumbelHard => {
            let dist = (z.unsqueeze(1) - codebook.unsqueeze(0))
                .square()
                .sum_dim_intlist(2, false, Kind::Double);
            let y = ((need() - dist) / tau).softmax(1, Kind::Double);
            let weights = if estimator == Estimator::GumbelHard {
                let hard = y.argmax(1, true);
                let one_hot = y.zeros_like().scatter_value(1, &hard, 1.0);
                one_hot + &y - y.detach()
            } else {
                y
            };
            weights.matmul(codebook)
        }
        other => straight_through(other, z, q),
    }
}

/// q̃ for the estimators that keep q's forward value (STE, the residual
/// projection, the rotation trick): forward value q, backward rule of the
/// estimator. `z` carries gradient, `q` is detached here.
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
        other => panic!(
            "{} changes q̃'s forward value: use quantizer_path",
            other.name()
        ),
    }
}

/// The quantizer on tensors: the nearest codes (as most VQ-VAE code finds
/// them: ‖e_k‖² − 2 z·e_k, the ‖z‖² term being the same for every k; one
/// B × K matrix product, no B × K × m temporary), q = their rows of `e`,
/// and q̃ for `estimator` with the step's draws.
fn quantize(
    estimator: Estimator,
    z: &Tensor,
    e: &Tensor,
    draws: &Draws,
    device: Device,
) -> (Tensor, Tensor, Tensor) {
    let assignments = tch::no_grad(|| {
        let code_sq = e.square().sum_dim_intlist(1, false, Kind::Double);
        let dist = code_sq.unsqueeze(0) - z.matmul(&e.tr()) * 2.0;
        dist.argmin(1, false)
    });
    let q = e.index_select(0, &assignments);
    let noise = estimator
        .changes_forward()
        .then(|| to_tensor(draws.noise.view(), device));
    let q_tilde = quantizer_path(estimator, z, &q, e, noise.as_ref(), draws.tau);
    (assignments, q, q_tilde)
}

impl GradientMethod for AutogradMethod {
    fn spec(&self) -> MethodSpec {
        self.spec
    }

    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        super::check_batch(params, batch.ncols(), None)?;
        let estimator = self.spec.estimator;
        draws.check(
            estimator,
            params.latent_rows(batch.nrows()),
            params.code_dim(),
            params.codebook.nrows(),
        )?;
        if params.model.kind != self.spec.model.kind
            || params.model.activation != self.spec.model.activation
            || (params.model.kind == super::ModelKind::Conv && params.model != self.spec.model)
        {
            return Err(VqError::Shape(format!(
                "the {} method got parameters of the {} model",
                self.spec.name(),
                params.model.kind.name()
            )));
        }
        let (spec, model) = (&params.model, params.model.model());
        let b = batch.nrows() as f64;
        let x = to_tensor(batch, self.device);
        let w: Vec<Tensor> = params
            .weights
            .iter()
            .map(|p| to_tensor(p.view(), self.device).set_requires_grad(true))
            .collect();
        let e = to_tensor(params.codebook.view(), self.device).set_requires_grad(true);

        let z = model.forward(spec, &w, Side::Encode, &x);
        let (assignments, q, q_tilde) = quantize(estimator, &z, &e, draws, self.device);
        let x_hat = model.forward(spec, &w, Side::Decode, &q_tilde);
        let recon = (&x - x_hat).square().sum(Kind::Double) / b;
        let insub_cb = (z.detach() - &q).square().sum(Kind::Double) / b;
        let insub_commit = (&z - q.detach()).square().sum(Kind::Double) / b;
        let codebook = insub_cb * self.weights.alpha;
        let commitment = insub_commit * self.weights.beta;
        let total = &recon + &codebook + &commitment;
        total.backward();

        let scalar =
            |t: &Tensor| -> Result<f64> { Ok(f64::try_from(t.detach().to_device(Device::Cpu))?) };
        *out = Gradients {
            loss: LossParts {
                recon: scalar(&recon)?,
                codebook: scalar(&codebook)?,
                commitment: scalar(&commitment)?,
                total: scalar(&total)?,
            },
            grad_weights: w
                .iter()
                .map(|t| to_array2(&t.grad()))
                .collect::<Result<_>>()?,
            grad_e: to_array2(&e.grad())?,
            assignments: to_indices(&assignments)?,
            codes: to_array2(&z.detach())?,
        };
        Ok(())
    }
}

/// One batch through the quantizer layer of a model, as a probe for
/// `vqlab check` (`docs/PROBE.md`), computed by libtorch's autograd: z from
/// the encoder (a leaf), the nearest codes, q̃ by [`quantizer_path`], the
/// upstream gradient u = ∂recon/∂q̃ through the decoder at q̃'s value, and
/// the gradients of L = Σ u ⊙ q̃ + α ‖sg(z) − q‖²/B + β ‖z − sg(q)‖²/B with
/// respect to z and the codebook. The draws go into the probe.
pub fn layer_probe(
    params: &Params,
    batch: ArrayView2<f64>,
    estimator: Estimator,
    draws: &Draws,
    weights: LossWeights,
) -> Result<super::layer_check::Probe> {
    use super::layer_check::probe::ProbeMeta;
    let device = Device::Cpu;
    draws.check(
        estimator,
        params.latent_rows(batch.nrows()),
        params.code_dim(),
        params.codebook.nrows(),
    )?;
    let (spec, model) = (&params.model, params.model.model());
    let b = batch.nrows() as f64;
    let x = to_tensor(batch, device);
    let w: Vec<Tensor> = params
        .weights
        .iter()
        .map(|p| to_tensor(p.view(), device))
        .collect();
    let z = tch::no_grad(|| model.forward(spec, &w, Side::Encode, &x)).set_requires_grad(true);
    let e = to_tensor(params.codebook.view(), device).set_requires_grad(true);
    let (assignments, q, q_tilde) = quantize(estimator, &z, &e, draws, device);
    // u: what the decoder sends back to q̃.
    let at = q_tilde.detach().set_requires_grad(true);
    let x_hat = model.forward(spec, &w, Side::Decode, &at);
    ((&x - x_hat).square().sum(Kind::Double) / b).backward();
    let upstream = at.grad();
    let aux = (z.detach() - &q).square().sum(Kind::Double) / b * weights.alpha
        + (&z - q.detach()).square().sum(Kind::Double) / b * weights.beta;
    let loss = (&upstream * &q_tilde).sum(Kind::Double) + &aux;
    loss.backward();
    let noise_if = |wanted: bool| wanted.then(|| draws.noise.clone());
    Ok(super::layer_check::Probe {
        dir: Default::default(),
        z: to_array2(&z.detach())?,
        codebook: params.codebook.clone(),
        output: to_array2(&q_tilde.detach())?,
        assignments: to_indices(&assignments)?,
        aux_loss: f64::try_from(aux.detach())?,
        upstream: to_array2(&upstream)?,
        grad_z: to_array2(&z.grad())?,
        grad_codebook: Some(to_array2(&e.grad())?),
        nsvq_directions: noise_if(estimator == Estimator::Nsvq),
        gumbel_noise: noise_if(matches!(
            estimator,
            Estimator::Gumbel | Estimator::GumbelHard
        )),
        meta: ProbeMeta {
            library: "vqlab".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            layer: format!("{} quantizer, {}", spec.kind.name(), estimator.name()),
            flags: serde_json::json!({
                "estimator": estimator.name(),
                "alpha": weights.alpha,
                "beta": weights.beta,
            }),
            dtype: "float64".into(),
            codebook_trainable: Some(true),
            tau: matches!(estimator, Estimator::Gumbel | Estimator::GumbelHard)
                .then_some(draws.tau),
            ..Default::default()
        },
    })
}
