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
    /// A convolutional VQ-VAE on images: strided convolutions down to a
    /// grid of latent vectors, each quantized on its own, and transposed
    /// convolutions back (`model::conv`).
    Conv,
}

impl ModelKind {
    /// Every model, in a fixed order.
    pub const ALL: [ModelKind; 4] = [
        ModelKind::Tied,
        ModelKind::Untied,
        ModelKind::Mlp,
        ModelKind::Conv,
    ];

    /// The command-line and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            ModelKind::Tied => "tied",
            ModelKind::Untied => "untied",
            ModelKind::Mlp => "mlp",
            ModelKind::Conv => "conv",
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

pub use crate::data::ImageShape;

/// The layers of the `conv` model besides its width: `depth` stride-2
/// convolutions each way with a square `kernel` (padding (k − 2)/2, so each
/// halves the image exactly).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ConvLayers {
    /// Stride-2 layers each way (the latent grid is the image / 2^depth).
    pub depth: usize,
    /// Kernel side k (even, ≥ 2).
    pub kernel: usize,
}

/// The deepest `conv` model (a typo guard; names are fixed per layer).
pub const MAX_CONV_DEPTH: usize = 4;

impl Default for ConvLayers {
    fn default() -> Self {
        ConvLayers {
            depth: 2,
            kernel: 4,
        }
    }
}

impl ConvLayers {
    /// Whether these are the defaults (left out of JSON).
    pub fn is_default(&self) -> bool {
        *self == ConvLayers::default()
    }
}

/// A model with its hyperparameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ModelSpec {
    /// Which model.
    pub kind: ModelKind,
    /// Hidden width h of the `mlp` model, channels of the `conv` model's
    /// hidden layers (unused by the linear models).
    pub hidden: usize,
    /// φ of the `mlp` and `conv` models (unused by the linear models).
    pub activation: Activation,
    /// The `conv` model's input images (taken from the data; `None` for the
    /// other models).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageShape>,
    /// The `conv` model's depth and kernel.
    #[serde(default, skip_serializing_if = "ConvLayers::is_default")]
    pub layers: ConvLayers,
}

/// The default hidden width of the `mlp` model.
pub const DEFAULT_HIDDEN: usize = 64;

/// The default channel count of the `conv` model's hidden layers.
pub const DEFAULT_CONV_CHANNELS: usize = 32;

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
            hidden: if kind == ModelKind::Conv {
                DEFAULT_CONV_CHANNELS
            } else {
                DEFAULT_HIDDEN
            },
            activation: Activation::Relu,
            image: None,
            layers: ConvLayers::default(),
        }
    }

    /// The `conv` model with `channels` hidden channels on images of
    /// `image`'s shape (default depth and kernel).
    pub fn conv(image: ImageShape, channels: usize) -> Self {
        ModelSpec {
            hidden: channels,
            image: Some(image),
            ..ModelSpec::of(ModelKind::Conv)
        }
    }

    /// Latent vectors per data row: 1, or the `conv` model's latent grid
    /// (H/2^depth)·(W/2^depth).
    pub fn latent_positions(&self) -> usize {
        self.model().latent_positions(self)
    }

    /// The model in words: its name, with the hidden width and φ of a model
    /// that has a hidden layer (`mlp (hidden 64, relu)`).
    pub fn describe(&self) -> String {
        if self.kind == ModelKind::Conv {
            let image = self.image.map_or("no image".to_string(), |i| i.to_string());
            format!(
                "conv ({image}, {} channels, depth {}, kernel {}, {})",
                self.hidden,
                self.layers.depth,
                self.layers.kernel,
                self.activation.name()
            )
        } else if self.model().has_hidden_layer() {
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
        self.model().param_count(self)
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
    use super::{Activation, ConvLayers, ImageShape, ModelKind, ModelSpec};
    use serde::{Deserialize, Serialize};

    #[derive(Serialize, Deserialize)]
    struct OwnFields {
        kind: ModelKind,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        hidden: Option<usize>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        activation: Option<Activation>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<ImageShape>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        layers: Option<ConvLayers>,
    }

    /// Writes `model`'s own fields.
    pub fn serialize<S: serde::Serializer>(model: &ModelSpec, out: S) -> Result<S::Ok, S::Error> {
        let hidden = model.model().has_hidden_layer();
        let conv = model.kind == ModelKind::Conv;
        OwnFields {
            kind: model.kind,
            hidden: hidden.then_some(model.hidden),
            activation: hidden.then_some(model.activation),
            image: model.image.filter(|_| conv),
            layers: conv.then_some(model.layers),
        }
        .serialize(out)
    }

    /// Reads a model, the fields it does not list at their defaults.
    pub fn deserialize<'de, D: serde::Deserializer<'de>>(input: D) -> Result<ModelSpec, D::Error> {
        let own = OwnFields::deserialize(input)?;
        let mut spec = ModelSpec::of(own.kind);
        spec.hidden = own.hidden.unwrap_or(spec.hidden);
        spec.activation = own.activation.unwrap_or(spec.activation);
        spec.image = own.image;
        spec.layers = own.layers.unwrap_or_default();
        Ok(spec)
    }
}
