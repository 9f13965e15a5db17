//! The model axis: which model (tied, untied, mlp), its shape and the layout
//! of its parameters.
#[allow(unused_imports)]
use super::*;

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
