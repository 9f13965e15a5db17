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

impl Activation {
    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Tanh => "tanh",
        }
    }
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

    /// The model in words: its name, with the hidden width and φ of a model
    /// that has a hidden layer (`mlp (hidden 64, relu)`).
    pub fn describe(&self) -> String {
        if self.model().has_hidden_layer() {
            format!(
                "{} (hidden {}, {})",
                self.kind.name(),
                self.hidden,
                self.activation.name()
            )
        } else {
            self.kind.name().to_string()
        }
    }

    /// Whether this is the report's tied model.
    pub fn is_tied(&self) -> bool {
        self.kind == ModelKind::Tied
    }

    /// The model's implementation ([`ModelKind::model`]).
    pub fn model(&self) -> &'static dyn Model {
        self.kind.model()
    }

    /// The manifold of network parameter `index` (without building the
    /// layout: the update calls this every step).
    pub fn manifold_of(&self, index: usize) -> Manifold {
        self.model().manifold_of(index)
    }

    /// How many network parameters the model has (the codebook aside).
    pub fn param_count(&self) -> usize {
        self.model().param_count()
    }

    /// Network parameter `index` (name, shape, manifold) for data of
    /// dimension `dim` and codes of dimension `m`; allocates nothing.
    ///
    /// # Panics
    /// When `index` ≥ [`ModelSpec::param_count`].
    pub fn param_info(&self, index: usize, dim: usize, m: usize) -> ParamInfo {
        self.model().param_info(self, index, dim, m)
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

/// A model as JSON with its own fields only: the hidden width and the
/// activation only for a model with a hidden layer (`params.json`, a
/// training run's `config.model`). Reads both forms. Use with
/// `#[serde(with = "crate::model::own_fields")]`.
pub mod own_fields {
    use super::{Activation, ModelKind, ModelSpec};
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct OwnFields {
        kind: ModelKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hidden: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<Activation>,
    }

    /// Writes `model`'s own fields.
    pub fn serialize<S: serde::Serializer>(model: &ModelSpec, out: S) -> Result<S::Ok, S::Error> {
        let hidden = model.model().has_hidden_layer();
        OwnFields {
            kind: model.kind,
            hidden: hidden.then_some(model.hidden),
            activation: hidden.then_some(model.activation),
        }
        .serialize(out)
    }

    /// Reads a model, the fields it does not list at their defaults.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(input: D) -> Result<ModelSpec, D::Error> {
        let own = OwnFields::deserialize(input)?;
        let mut spec = ModelSpec::of(own.kind);
        spec.hidden = own.hidden.unwrap_or(spec.hidden);
        spec.activation = own.activation.unwrap_or(spec.activation);
        Ok(spec)
    }
}
