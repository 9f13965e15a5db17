//! The [`Model`] trait: everything a model supplies, implemented once per
//! model file (`tied.rs`, `untied.rs`, `mlp.rs`). [`ModelKind`] is the name
//! on the command line and in JSON; [`ModelKind::model`] is the one place it
//! is turned into the model's implementation.
#[allow(unused_imports)]
use super::*;
use rand::RngCore;
use tch::Tensor;

/// What a model maps and how its gradients are computed: the parameter
/// layout, the initial network, encode/decode on ndarray, the hand-derived
/// gradient method and the forward pass on libtorch tensors (whose
/// `backward()` gives the autograd method).
///
/// ```
/// use vqlab::model::{ModelKind, ModelSpec};
/// let untied = ModelSpec::of(ModelKind::Untied);
/// let model = untied.kind.model();
/// assert_eq!(model.param_count(&untied), 2);
/// assert_eq!(model.param_info(&untied, 1, 10, 3).name, "V");
/// assert!(model.starts_from_basis());
/// ```
pub trait Model: Sync {
    /// Which model this is.
    fn kind(&self) -> ModelKind;

    /// How many network parameters the model of `spec` has (the codebook
    /// aside).
    fn param_count(&self, spec: &ModelSpec) -> usize;

    /// Network parameter `index` (name, shape, manifold) of `spec` for data
    /// of dimension `dim` and codes of dimension `m`; allocates nothing.
    ///
    /// # Panics
    /// When `index` ≥ [`Model::param_count`].
    fn param_info(&self, spec: &ModelSpec, index: usize, dim: usize, m: usize) -> ParamInfo;

    /// The manifold of network parameter `index` (the update asks every
    /// step).
    fn manifold_of(&self, index: usize) -> Manifold;

    /// The halves of the autoencoder that network parameter `index` of
    /// `spec` is part of (the tied W: both).
    fn sides_of(&self, spec: &ModelSpec, index: usize) -> &'static [Side];

    /// The data dimension D of the network `weights` of `spec`.
    fn data_dim(&self, spec: &ModelSpec, weights: &[Array2<f64>]) -> usize;

    /// Latent vectors (quantizer rows) per data row: 1 for the models that
    /// code a row as one vector; the latent grid's size for `conv`. The
    /// codes of N rows are the N·P rows of [`Model::encode`], row n's
    /// vectors at n·P … n·P + P − 1.
    fn latent_positions(&self, _spec: &ModelSpec) -> usize {
        1
    }

    /// The codes z = enc(x) of every row of `x` (N × D → (N·P) × m, P =
    /// [`Model::latent_positions`]).
    fn encode(&self, params: &Params, x: ArrayView2<f64>) -> Array2<f64>;

    /// The reconstructions x̂ = dec(q) of the codes `q` ((N·P) × m → N × D).
    fn decode(&self, params: &Params, q: ArrayView2<f64>) -> Array2<f64>;

    /// For each row of `batch`, how far its ReLU units are from their kink,
    /// in units of the margin a finite-difference check needs (≥ 1: safe),
    /// the decoder fed `decoder_input` ((N·P) × m); infinity for a model
    /// without kinks.
    fn kink_safety(
        &self,
        _params: &Params,
        batch: ArrayView2<f64>,
        _decoder_input: ArrayView2<f64>,
    ) -> Vec<f64> {
        vec![f64::INFINITY; batch.nrows()]
    }

    /// Which of the model's ReLU units are on (pre-activation > 0) on
    /// `batch`, the decoder fed `decoder_input`: a finite-difference check
    /// leaves out a step that changes this pattern. Empty for a model that
    /// filters rows by [`Model::kink_safety`] instead (or has no kink).
    fn kink_pattern(
        &self,
        _params: &Params,
        _batch: ArrayView2<f64>,
        _decoder_input: ArrayView2<f64>,
    ) -> Vec<bool> {
        Vec::new()
    }

    /// The metrics of `params` on every row of `x`; the default encodes,
    /// quantizes and decodes (residual: null).
    fn evaluate(&self, params: &Params, x: ArrayView2<f64>) -> Metrics {
        let z = self.encode(params, x);
        metrics::evaluate_coded(x, z.view(), params.codebook.view(), |q| {
            self.decode(params, q)
        })
    }

    /// Whether the model has a hidden layer (and so takes the width and φ
    /// of its [`ModelSpec`]).
    fn has_hidden_layer(&self) -> bool {
        false
    }

    /// Multiply-adds per data coordinate of one row through encoder and
    /// decoder, roughly: what the studies' planners weigh a run by.
    fn row_cost(&self, spec: &ModelSpec, m: usize) -> f64;

    /// Whether the model can start from a PCA basis W (D × m, the
    /// baseline's): the linear models can, the mlp cannot.
    fn starts_from_basis(&self) -> bool;

    /// The network whose encoder is the basis `w` (D × m).
    ///
    /// # Panics
    /// When [`Model::starts_from_basis`] is false.
    fn network_from_basis(&self, w: Array2<f64>) -> Vec<Array2<f64>>;

    /// A random network of `spec` for data of dimension `dim` and codes of
    /// dimension `m`, from `rng` (the run's initialisation stream).
    fn random_network(
        &self,
        spec: &ModelSpec,
        dim: usize,
        m: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<Array2<f64>>>;

    /// The hand-derived gradient method of `spec` (its backend is manual).
    fn manual(&self, spec: MethodSpec, weights: LossWeights) -> Box<dyn GradientMethod>;

    /// One side of the model on tensors: the encoder x ↦ z or the decoder
    /// q̃ ↦ x̂, with parameter tensors `w` (in the order of
    /// [`Params::weights`]).
    fn forward(&self, spec: &ModelSpec, w: &[Tensor], side: Side, input: &Tensor) -> Tensor;
}

/// Which half of the autoencoder [`Model::forward`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// x ↦ z.
    Encode,
    /// q̃ ↦ x̂.
    Decode,
}

impl ModelKind {
    /// The model's implementation: the one dispatch on the model's name.
    pub fn model(self) -> &'static dyn Model {
        match self {
            ModelKind::Tied => &tied::Tied,
            ModelKind::Untied => &untied::Untied,
            ModelKind::Mlp => &mlp::Mlp,
            ModelKind::Conv => &conv::Conv,
        }
    }
}
