//! The models vqlab trains and the methods that compute their gradients.
//!
//! A training run is a product of independent choices, each its own type:
//!
//! * [`ModelKind`] (with [`ModelSpec`]): what maps x to the code z and the
//!   quantized code back to x̂ — `tied` (the report's model, [`tied`]),
//!   `untied` ([`untied`]) or `mlp` ([`mlp`]);
//! * [`Estimator`]: what flows from q̃ back to z;
//! * [`Backend`]: hand-derived formulas on ndarray, or libtorch autograd
//!   ([`torch`]);
//! * the update ([`update`]), written once and shared by every method.
//!
//! A *method* ([`MethodSpec`]: model × estimator × backend) takes the
//! parameters and a batch and returns the loss parts, the gradient of every
//! parameter and the assignments ([`GradientMethod`]); it never changes the
//! parameters. Applying gradients is the optimizer's job, so the parity
//! harness compares gradient code only. The report's five method names stay
//! as shorthands ([`MethodKind`]).
//!
//! Loss on a batch x_1 … x_B, for every model:
//!
//! L = (1/B) Σ ‖x_b − dec(q̃_b)‖² + α (1/B) Σ ‖sg(z_b) − q_b‖² + β (1/B) Σ ‖z_b − sg(q_b)‖²
//!
//! with z = enc(x), q = e_a, a = argmin_k ‖z − e_k‖² (ties to the lowest k),
//! and q̃ equal to q in the forward pass; the [`Estimator`] decides what flows
//! from q̃ back to z. See `docs/MODEL.md` for the whole model in one place.
pub mod codebook;
pub mod estimator;
pub mod mlp;
pub mod tied;
pub mod torch;
pub mod untied;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

use crate::error::{invalid, Result, VqError};
use crate::numerics::metrics::{self, Metrics};
pub use estimator::Draws;

/// Which model maps data to codes and back.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum ModelKind {
    /// z = Wᵀx, x̂ = W q̃, W on the Stiefel manifold (the report's model).
    #[default]
    Tied,
    /// z = Wᵀx with W on the Stiefel manifold, x̂ = V q̃ with V free.
    Untied,
    /// One hidden layer each way: z = A₂ φ(A₁x + a₁) + a₂,
    /// x̂ = B₂ φ(B₁q̃ + b₁) + b₂, all parameters Euclidean.
    Mlp,
}

impl ModelKind {
    /// Every model, in a fixed order.
    pub const ALL: [ModelKind; 3] = [ModelKind::Tied, ModelKind::Untied, ModelKind::Mlp];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Tied => "tied",
            ModelKind::Untied => "untied",
            ModelKind::Mlp => "mlp",
        }
    }
}

/// The nonlinearity φ of the `mlp` model.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Activation {
    /// max(h, 0); its derivative is taken as 0 at h = 0 (as PyTorch does).
    #[default]
    Relu,
    /// tanh(h); derivative 1 − tanh²(h).
    Tanh,
}

/// A model with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Which model.
    pub kind: ModelKind,
    /// Hidden width h of the `mlp` model (unused by the linear models).
    pub hidden: usize,
    /// φ of the `mlp` model (unused by the linear models).
    pub activation: Activation,
}

/// The default hidden width of the `mlp` model.
pub const DEFAULT_HIDDEN: usize = 64;

impl Default for ModelSpec {
    fn default() -> Self {
        ModelSpec::of(ModelKind::Tied)
    }
}

/// Whether a parameter lives on the Stiefel manifold or in Euclidean space.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Manifold {
    /// Orthonormal columns (WᵀW = I): Riemannian update, polar retraction.
    Stiefel,
    /// No constraint: plain update.
    Euclidean,
}

/// One parameter of a model: its name (as in `--save-params` and `--dump`
/// files), its shape and its manifold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamInfo {
    /// The name, e.g. `W`, `V`, `A1`, `a1`.
    pub name: &'static str,
    /// Rows × columns (biases are 1 × n rows).
    pub shape: (usize, usize),
    /// Where it lives.
    pub manifold: Manifold,
}

impl ModelSpec {
    /// `kind` with the default hidden width and activation.
    pub fn of(kind: ModelKind) -> Self {
        ModelSpec {
            kind,
            hidden: DEFAULT_HIDDEN,
            activation: Activation::Relu,
        }
    }

    /// Whether this is the report's tied model.
    pub fn is_tied(&self) -> bool {
        self.kind == ModelKind::Tied
    }

    /// The manifold of network parameter `index` (without building the
    /// layout: the update calls this every step).
    pub fn manifold_of(&self, index: usize) -> Manifold {
        match (self.kind, index) {
            (ModelKind::Tied | ModelKind::Untied, 0) => Manifold::Stiefel,
            _ => Manifold::Euclidean,
        }
    }

    /// How many network parameters the model has (the codebook aside).
    pub fn param_count(&self) -> usize {
        match self.kind {
            ModelKind::Tied => 1,
            ModelKind::Untied => 2,
            ModelKind::Mlp => 8,
        }
    }

    /// Network parameter `index` (name, shape, manifold) for data of
    /// dimension `dim` and codes of dimension `m`; allocates nothing.
    ///
    /// # Panics
    /// When `index` ≥ [`ModelSpec::param_count`].
    pub fn param_info(&self, index: usize, dim: usize, m: usize) -> ParamInfo {
        let h = self.hidden;
        let (name, shape) = match (self.kind, index) {
            (ModelKind::Tied | ModelKind::Untied, 0) => ("W", (dim, m)),
            (ModelKind::Untied, 1) => ("V", (dim, m)),
            (ModelKind::Mlp, 0) => ("A1", (h, dim)),
            (ModelKind::Mlp, 1) => ("a1", (1, h)),
            (ModelKind::Mlp, 2) => ("A2", (m, h)),
            (ModelKind::Mlp, 3) => ("a2", (1, m)),
            (ModelKind::Mlp, 4) => ("B1", (h, m)),
            (ModelKind::Mlp, 5) => ("b1", (1, h)),
            (ModelKind::Mlp, 6) => ("B2", (dim, h)),
            (ModelKind::Mlp, 7) => ("b2", (1, dim)),
            (kind, i) => panic!("the {} model has no parameter {i}", kind.name()),
        };
        ParamInfo {
            name,
            shape,
            manifold: self.manifold_of(index),
        }
    }

    /// The network parameters (everything but the codebook), in the order of
    /// [`Params::weights`], for data of dimension `dim` and codes of
    /// dimension `m`. Weights follow PyTorch's `nn.Linear` layout
    /// (out × in); biases are 1 × out rows.
    pub fn layout(&self, dim: usize, m: usize) -> Vec<ParamInfo> {
        (0..self.param_count())
            .map(|i| self.param_info(i, dim, m))
            .collect()
    }
}

/// A model's parameters: the network weights (in the order of
/// [`ModelSpec::layout`]) and the codebook E (K × m, one code per row).
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// The model these parameters belong to.
    pub model: ModelSpec,
    /// The network parameters: `[W]` (tied), `[W, V]` (untied),
    /// `[A1, a1, A2, a2, B1, b1, B2, b2]` (mlp).
    pub weights: Vec<Array2<f64>>,
    /// Codebook, K × m.
    pub codebook: Array2<f64>,
}

impl Params {
    /// The tied model's parameters: encoder / decoder W (D × m) and E.
    pub fn tied(w: Array2<f64>, codebook: Array2<f64>) -> Self {
        Params {
            model: ModelSpec::of(ModelKind::Tied),
            weights: vec![w],
            codebook,
        }
    }

    /// The encoder W (D × m) of a linear model (`tied`, `untied`).
    ///
    /// # Panics
    /// For the `mlp` model, which has no W.
    pub fn w(&self) -> &Array2<f64> {
        assert!(
            self.model.kind != ModelKind::Mlp,
            "the mlp model has no encoder matrix W"
        );
        &self.weights[0]
    }

    /// The data dimension D.
    pub fn dim(&self) -> usize {
        match self.model.kind {
            ModelKind::Tied | ModelKind::Untied => self.weights[0].nrows(),
            ModelKind::Mlp => self.weights[0].ncols(),
        }
    }

    /// The code dimension m.
    pub fn code_dim(&self) -> usize {
        self.codebook.ncols()
    }

    /// The layout of these parameters.
    pub fn layout(&self) -> Vec<ParamInfo> {
        self.model.layout(self.dim(), self.code_dim())
    }

    /// The codes z = enc(x) of every row of `x` (N × D → N × m).
    pub fn encode(&self, x: ArrayView2<f64>) -> Array2<f64> {
        match self.model.kind {
            ModelKind::Tied | ModelKind::Untied => x.dot(&self.weights[0]),
            ModelKind::Mlp => mlp::encode(self, x),
        }
    }

    /// The reconstructions x̂ = dec(q) of every row of `q` (N × m → N × D).
    pub fn decode(&self, q: ArrayView2<f64>) -> Array2<f64> {
        match self.model.kind {
            ModelKind::Tied => q.dot(&self.weights[0].t()),
            ModelKind::Untied => q.dot(&self.weights[1].t()),
            ModelKind::Mlp => mlp::decode(self, q),
        }
    }

    /// The metrics of these parameters on every row of `x` (N×D): z =
    /// enc(x), the nearest codes, x̂ = dec(q). The tied model goes through
    /// [`metrics::evaluate`] (and gets a residual); the others get
    /// `residual: null`.
    pub fn evaluate(&self, x: ArrayView2<f64>) -> Metrics {
        if self.model.is_tied() {
            return metrics::evaluate(x, self.w().view(), self.codebook.view());
        }
        let z = self.encode(x);
        metrics::evaluate_coded(x, z.view(), self.codebook.view(), |q| self.decode(q))
    }

    /// Checks that the weights have the shapes of the model's layout
    /// (allocates nothing unless they do not).
    pub fn check_shapes(&self) -> Result<()> {
        let count = self.model.param_count();
        if count != self.weights.len() {
            return Err(VqError::Shape(format!(
                "the {} model has {} parameters besides E, got {}",
                self.model.kind.name(),
                count,
                self.weights.len()
            )));
        }
        let (dim, m) = (self.dim(), self.code_dim());
        for (i, w) in self.weights.iter().enumerate() {
            let info = self.model.param_info(i, dim, m);
            if w.dim() != info.shape {
                return Err(VqError::Shape(format!(
                    "{} is {}x{}, the {} model needs {}x{}",
                    info.name,
                    w.nrows(),
                    w.ncols(),
                    self.model.kind.name(),
                    info.shape.0,
                    info.shape.1
                )));
            }
        }
        Ok(())
    }
}

/// The weights of the two auxiliary loss terms.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LossWeights {
    /// α: weight of the codebook term ‖sg(z) − q‖².
    pub alpha: f64,
    /// β: weight of the commitment term ‖z − sg(q)‖².
    pub beta: f64,
}

/// The loss on one batch, by part (each already weighted and averaged).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct LossParts {
    /// (1/B) Σ ‖x − dec(q)‖².
    pub recon: f64,
    /// α (1/B) Σ ‖z − q‖².
    pub codebook: f64,
    /// β (1/B) Σ ‖z − q‖².
    pub commitment: f64,
    /// The sum of the three.
    pub total: f64,
}

impl LossParts {
    /// The parts from the batch's mean reconstruction error and mean
    /// in-subspace distortion (1/B) Σ ‖z − q‖² (the α and β terms have the
    /// same forward value).
    pub fn from_distortions(recon: f64, insub: f64, weights: LossWeights) -> Self {
        let LossWeights { alpha, beta } = weights;
        LossParts {
            recon,
            codebook: alpha * insub,
            commitment: beta * insub,
            total: recon + (alpha + beta) * insub,
        }
    }
}

/// What a method returns for one batch.
#[derive(Debug, Clone)]
pub struct Gradients {
    /// The loss parts at the parameters on the batch.
    pub loss: LossParts,
    /// ∂L/∂θ (Euclidean) of every network parameter, in the order of
    /// [`Params::weights`].
    pub grad_weights: Vec<Array2<f64>>,
    /// ∂L/∂E, K × m.
    pub grad_e: Array2<f64>,
    /// The code of every batch row.
    pub assignments: Vec<usize>,
    /// The codes z = enc(x) of the batch rows (B × m), for the codebook
    /// updates that average them (EMA, dead-code restart).
    pub codes: Array2<f64>,
}

impl Gradients {
    /// Empty gradients, to be filled by [`GradientMethod::gradients_into`].
    pub fn empty() -> Self {
        Gradients {
            loss: LossParts::default(),
            grad_weights: Vec::new(),
            grad_e: Array2::zeros((0, 0)),
            assignments: Vec::new(),
            codes: Array2::zeros((0, 0)),
        }
    }

    /// ∂L/∂W of a linear model (the first network parameter).
    pub fn grad_w(&self) -> &Array2<f64> {
        &self.grad_weights[0]
    }

    /// Sizes the buffers for `params` and a batch of `b` rows (allocating
    /// only when a shape changes).
    pub fn fit(&mut self, params: &Params, b: usize) {
        self.grad_weights
            .resize_with(params.weights.len(), || Array2::zeros((0, 0)));
        for (g, w) in self.grad_weights.iter_mut().zip(&params.weights) {
            fit_buffer(g, w.dim());
        }
        fit_buffer(&mut self.grad_e, params.codebook.dim());
        fit_buffer(&mut self.codes, (b, params.code_dim()));
        self.assignments.resize(b, 0);
    }
}

/// Resizes `a` to `shape` (zeros) unless it already has it.
pub(crate) fn fit_buffer(a: &mut Array2<f64>, shape: (usize, usize)) {
    if a.dim() != shape {
        *a = Array2::zeros(shape);
    }
}

/// The backward rule for ∂L/∂z from the q̃ path, g = ∂L/∂q̃.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Estimator {
    /// Straight-through: g copied unchanged.
    Ste,
    /// The report's "rotation" estimator: (g·u) u with u = (q − z)/‖q − z‖
    /// (0 when q = z). A projection onto the residual direction.
    ResidualProjection,
    /// The rotation trick of Fifty et al. (2024): λ Rᵀ g with λ = ‖q‖/‖z‖ and
    /// R the rotation taking z/‖z‖ to q/‖q‖ (two Householder reflections);
    /// λ and R are constants.
    RotationTrick,
    /// Noise substitution (Vali & Bäckström 2022): q̃ = z + ‖z − q‖ v/‖v‖,
    /// v ~ N(0, I), differentiated through the formula.
    Nsvq,
    /// Gumbel-Softmax (Jang et al. 2017), soft: q̃ = Σ_k y_k e_k,
    /// y = softmax((−‖z − e_k‖² + G_k)/τ).
    Gumbel,
    /// Gumbel-Softmax, straight-through "hard": forward e_{argmax y},
    /// backward through the soft y.
    GumbelHard,
}

impl Estimator {
    /// Every estimator, in a fixed order.
    pub const ALL: [Estimator; 6] = [
        Estimator::Ste,
        Estimator::ResidualProjection,
        Estimator::RotationTrick,
        Estimator::Nsvq,
        Estimator::Gumbel,
        Estimator::GumbelHard,
    ];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Estimator::Ste => "ste",
            Estimator::ResidualProjection => "residual-projection",
            Estimator::RotationTrick => "rotation-trick",
            Estimator::Nsvq => "nsvq",
            Estimator::Gumbel => "gumbel",
            Estimator::GumbelHard => "gumbel-hard",
        }
    }

    /// Whether the forward value of q̃ differs from q (NSVQ, Gumbel), so
    /// the decoder sees q̃ and the estimator needs random draws.
    pub fn changes_forward(self) -> bool {
        matches!(
            self,
            Estimator::Nsvq | Estimator::Gumbel | Estimator::GumbelHard
        )
    }
}

/// Where a method's gradients come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Backend {
    /// Hand-derived formulas on ndarray.
    Manual,
    /// libtorch autograd through `tch`.
    Autograd,
}

impl Backend {
    /// Both backends.
    pub const ALL: [Backend; 2] = [Backend::Manual, Backend::Autograd];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Manual => "manual",
            Backend::Autograd => "autograd",
        }
    }
}

/// A method: model × estimator × backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MethodSpec {
    /// The model and its hyperparameters.
    pub model: ModelSpec,
    /// The estimator.
    pub estimator: Estimator,
    /// The backend.
    pub backend: Backend,
}

impl MethodSpec {
    /// A method from its three choices.
    pub fn new(model: ModelSpec, estimator: Estimator, backend: Backend) -> Self {
        MethodSpec {
            model,
            estimator,
            backend,
        }
    }

    /// The report's shorthand for this method, when it has one (tied model).
    pub fn shorthand(&self) -> Option<MethodKind> {
        MethodKind::ALL.into_iter().find(|k| {
            let s = k.spec();
            self.model.is_tied() && s.estimator == self.estimator && s.backend == self.backend
        })
    }

    /// The name in tables and JSON: the report's shorthand where there is
    /// one (`manual-ste`, …), otherwise `model/estimator/backend`.
    pub fn name(&self) -> String {
        match self.shorthand() {
            Some(kind) => kind.name().to_string(),
            None => format!(
                "{}/{}/{}",
                self.model.kind.name(),
                self.estimator.name(),
                self.backend.name()
            ),
        }
    }

    /// Builds the method with the given loss weights (CPU for libtorch).
    pub fn build(self, weights: LossWeights) -> Box<dyn GradientMethod> {
        self.build_on(weights, tch::Device::Cpu)
    }

    /// Builds the method; autograd computes on `device`, the manual backend
    /// always on the CPU. Every model × estimator × backend is implemented.
    pub fn build_on(self, weights: LossWeights, device: tch::Device) -> Box<dyn GradientMethod> {
        match (self.backend, self.model.kind) {
            (Backend::Autograd, _) => Box::new(torch::AutogradMethod::new(self, weights, device)),
            (Backend::Manual, ModelKind::Tied) => {
                Box::new(tied::TiedManual::new(self.estimator, weights))
            }
            (Backend::Manual, ModelKind::Untied) => {
                Box::new(untied::UntiedManual::new(self.estimator, weights))
            }
            (Backend::Manual, ModelKind::Mlp) => Box::new(mlp::MlpManual::new(
                self.estimator,
                self.model.activation,
                weights,
            )),
        }
    }
}

impl fmt::Display for MethodSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl FromStr for MethodSpec {
    type Err = VqError;
    /// A shorthand (`manual-ste`, …) or `model/estimator/backend`; the model
    /// gets its default hyperparameters.
    fn from_str(s: &str) -> Result<Self> {
        if let Ok(kind) = s.parse::<MethodKind>() {
            return Ok(kind.spec());
        }
        let parts: Vec<&str> = s.split('/').collect();
        let parse = || -> Option<MethodSpec> {
            let [model, estimator, backend] = parts.as_slice() else {
                return None;
            };
            let model = ModelKind::ALL.into_iter().find(|m| m.name() == *model)?;
            let estimator = Estimator::ALL
                .into_iter()
                .find(|e| e.name() == *estimator)?;
            let backend = Backend::ALL.into_iter().find(|b| b.name() == *backend)?;
            Some(MethodSpec::new(ModelSpec::of(model), estimator, backend))
        };
        parse().ok_or_else(|| {
            invalid(
                "method",
                s,
                format!(
                    "one of {} or model/estimator/backend",
                    MethodKind::ALL.map(|m| m.name()).join(", ")
                ),
            )
        })
    }
}

impl Serialize for MethodSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for MethodSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// The report's methods, by their command-line names: shorthands for the
/// tied model with one estimator and one backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum MethodKind {
    /// tied / ste / manual.
    ManualSte,
    /// tied / residual-projection / manual.
    ManualRotation,
    /// tied / ste / autograd (`z + (q − z).detach()`).
    AutogradSte,
    /// tied / residual-projection / autograd (the report's "rotation").
    Rotation,
    /// tied / rotation-trick / autograd (Fifty et al. 2024).
    RotationTrick,
}

impl MethodKind {
    /// Every shorthand, in a fixed order.
    pub const ALL: [MethodKind; 5] = [
        MethodKind::ManualSte,
        MethodKind::ManualRotation,
        MethodKind::AutogradSte,
        MethodKind::Rotation,
        MethodKind::RotationTrick,
    ];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            MethodKind::ManualSte => "manual-ste",
            MethodKind::ManualRotation => "manual-rotation",
            MethodKind::AutogradSte => "autograd-ste",
            MethodKind::Rotation => "rotation",
            MethodKind::RotationTrick => "rotation-trick",
        }
    }

    /// The method this shorthand stands for.
    pub fn spec(self) -> MethodSpec {
        let (estimator, backend) = match self {
            MethodKind::ManualSte => (Estimator::Ste, Backend::Manual),
            MethodKind::ManualRotation => (Estimator::ResidualProjection, Backend::Manual),
            MethodKind::AutogradSte => (Estimator::Ste, Backend::Autograd),
            MethodKind::Rotation => (Estimator::ResidualProjection, Backend::Autograd),
            MethodKind::RotationTrick => (Estimator::RotationTrick, Backend::Autograd),
        };
        MethodSpec::new(ModelSpec::of(ModelKind::Tied), estimator, backend)
    }

    /// The estimator this method implements.
    pub fn estimator(self) -> Estimator {
        self.spec().estimator
    }

    /// Which backend computes its gradients.
    pub fn backend(self) -> Backend {
        self.spec().backend
    }

    /// Builds the method with the given loss weights (CPU for libtorch).
    pub fn build(self, weights: LossWeights) -> Box<dyn GradientMethod> {
        self.spec().build(weights)
    }

    /// Builds the method; the autograd methods compute on `device`, the
    /// manual ones always on the CPU.
    pub fn build_on(self, weights: LossWeights, device: tch::Device) -> Box<dyn GradientMethod> {
        self.spec().build_on(weights, device)
    }
}

impl fmt::Display for MethodKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for MethodKind {
    type Err = crate::VqError;
    fn from_str(s: &str) -> Result<Self> {
        MethodKind::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = MethodKind::ALL.iter().map(|m| m.name()).collect();
                invalid("method", s, format!("one of {}", names.join(", ")))
            })
    }
}

/// Where the autograd methods compute: `cpu`, or `cuda` when libtorch sees a
/// GPU. A clear error otherwise (the libtorch of `libtorch-setup.sh` is the
/// CPU build, so `cuda` needs a CUDA libtorch and a GPU).
pub fn parse_device(name: &str) -> Result<tch::Device> {
    match name {
        "cpu" => Ok(tch::Device::Cpu),
        "cuda" => {
            if tch::Cuda::is_available() {
                Ok(tch::Device::Cuda(0))
            } else {
                Err(invalid(
                    "device",
                    name,
                    "cpu: libtorch sees no CUDA device here (libtorch-setup.sh installs the CPU-only build; cuda needs a CUDA libtorch and a GPU)",
                ))
            }
        }
        other => Err(invalid("device", other, "cpu or cuda")),
    }
}

/// A method that, given the parameters, a batch and the step's random draws
/// (empty for the estimators that need none), returns the loss parts and
/// the gradient of every parameter (plus the assignments and the codes).
/// Implemented by the libtorch autograd methods and by the hand-derived
/// ndarray methods; the draws come from the run's seeded stream, so both
/// backends see the same ones.
pub trait GradientMethod {
    /// Which method this is.
    fn spec(&self) -> MethodSpec;

    /// Loss and gradients at `params` on `batch` (B × D). Does not change
    /// `params`.
    fn gradients(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
    ) -> Result<Gradients> {
        let mut out = Gradients::empty();
        self.gradients_into(params, batch, draws, &mut out)?;
        Ok(out)
    }

    /// Like [`GradientMethod::gradients`], writing into `out` (whose buffers
    /// are reused when their shapes fit). The manual methods allocate nothing
    /// here once their buffers exist.
    fn gradients_into(
        &mut self,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()>;

    /// Loss and gradients on the batch made of `rows` of `data`. The default
    /// gathers the rows into a batch; the manual methods gather into a
    /// reused buffer, or (tied) read them in place.
    fn gradients_rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
        draws: &Draws,
        out: &mut Gradients,
    ) -> Result<()> {
        let batch = data.select(ndarray::Axis(0), rows);
        self.gradients_into(params, batch.view(), draws, out)
    }
}

/// Gathers `rows` of `data` into `buffer` (resized only when its shape
/// changes), for the manual methods that work on a contiguous batch.
pub(crate) fn gather_rows(data: ArrayView2<f64>, rows: &[usize], buffer: &mut Array2<f64>) {
    fit_buffer(buffer, (rows.len(), data.ncols()));
    for (mut dst, &i) in buffer.outer_iter_mut().zip(rows) {
        dst.assign(&data.row(i));
    }
}

/// A reusable buffer for the batch rows a manual method gathers.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gathered(Array2<f64>);

impl Gathered {
    /// Checks `rows` against `data` and `params`, gathers them, and returns
    /// the batch (allocating only when the batch shape changes).
    pub(crate) fn rows(
        &mut self,
        params: &Params,
        data: ArrayView2<f64>,
        rows: &[usize],
    ) -> Result<ArrayView2<'_, f64>> {
        check_batch(params, data.ncols(), Some((rows, data.nrows())))?;
        gather_rows(data, rows, &mut self.0);
        Ok(self.0.view())
    }
}

/// The nearest code of every row of `z`: writes the assignments and the
/// quantized rows Q (B × m), returns Σ_b ‖z_b − q_b‖².
pub(crate) fn quantize_rows(
    nearest: &mut crate::numerics::quantize::NearestCode,
    z: ArrayView2<f64>,
    codebook: ArrayView2<f64>,
    assignments: &mut [usize],
    q: &mut Array2<f64>,
) -> f64 {
    let insub_total = nearest.assign(z, codebook, assignments);
    for (mut q_row, &a) in q.outer_iter_mut().zip(assignments.iter()) {
        q_row.assign(&codebook.row(a));
    }
    insub_total
}

/// Checks that `params` fit a batch of `dim` columns and that `rows` index
/// into `n` rows.
pub(crate) fn check_batch(
    params: &Params,
    dim: usize,
    rows: Option<(&[usize], usize)>,
) -> Result<()> {
    params.check_shapes()?;
    if dim != params.dim() {
        return Err(VqError::Shape(format!(
            "the batch has {dim} columns, the model's data dimension is {}",
            params.dim()
        )));
    }
    if let Some((rows, n)) = rows {
        if let Some(&bad) = rows.iter().find(|&&i| i >= n) {
            return Err(VqError::Shape(format!("row {bad} of a {n}-row matrix")));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands_name_their_tied_methods() {
        for kind in MethodKind::ALL {
            let spec = kind.spec();
            assert!(spec.model.is_tied());
            assert_eq!(spec.name(), kind.name());
            assert_eq!(spec.name().parse::<MethodSpec>().unwrap(), spec);
        }
        let spec = MethodSpec::new(
            ModelSpec::of(ModelKind::Mlp),
            Estimator::RotationTrick,
            Backend::Manual,
        );
        assert_eq!(spec.name(), "mlp/rotation-trick/manual");
        assert_eq!(spec.name().parse::<MethodSpec>().unwrap(), spec);
        let tied_manual_trick = MethodSpec::new(
            ModelSpec::of(ModelKind::Tied),
            Estimator::RotationTrick,
            Backend::Manual,
        );
        assert_eq!(tied_manual_trick.name(), "tied/rotation-trick/manual");
        let err = "mlp/ste".parse::<MethodSpec>().unwrap_err().to_string();
        assert!(err.contains("model/estimator/backend"), "{err}");
    }

    #[test]
    fn layouts_name_every_parameter() {
        let mlp = ModelSpec {
            hidden: 5,
            ..ModelSpec::of(ModelKind::Mlp)
        };
        let names: Vec<_> = mlp.layout(7, 3).iter().map(|p| p.name).collect();
        assert_eq!(names, ["A1", "a1", "A2", "a2", "B1", "b1", "B2", "b2"]);
        assert_eq!(mlp.layout(7, 3)[0].shape, (5, 7));
        let untied = ModelSpec::of(ModelKind::Untied).layout(7, 3);
        assert_eq!(untied[0].manifold, Manifold::Stiefel);
        assert_eq!(untied[1].manifold, Manifold::Euclidean);
    }
}
