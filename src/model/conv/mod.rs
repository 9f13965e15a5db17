//! The `conv` model: a convolutional VQ-VAE on images (van den Oord et al.
//! 2017, in the small form of the estimator papers' experiments). With
//! depth d, c hidden channels, kernel k (even), stride 2 and padding
//! p = (k − 2)/2 (so every layer halves or doubles the image exactly):
//!
//! encoder  x (C × H × W) → [conv k×k/2 → φ] × d → 1×1 conv to m channels
//!          = z, a grid of (H/2^d)·(W/2^d) latent vectors of dimension m;
//! decoder  q̃ → 1×1 conv to c channels → φ → [transposed conv k×k/2 → φ]
//!          × (d − 1) → transposed conv k×k/2 to C channels = x̂.
//!
//! Every latent vector is one row for the quantizer, so the estimators, the
//! codebook updates and the optimizers apply unchanged: a batch of B images
//! has B·P quantizer rows (P = the grid's size), image b's at b·P … b·P + P − 1
//! in row-major grid order. The loss keeps its per-row normalisation: with
//! B images,
//!
//! L = (1/B) Σ_b ‖x_b − x̂_b‖² + (α/B) Σ_{rows r} ‖sg(z_r) − q_r‖² + (β/B) Σ_r ‖z_r − sg(q_r)‖²,
//!
//! i.e. squared errors summed over an image's pixels and over its latent
//! vectors, averaged over images.
//!
//! # Derivation
//!
//! Images are held channels last, a batch as a (B·H·W) × C matrix
//! ([`crate::numerics::conv`]). A convolution with weight W (c' × C·k·k,
//! PyTorch's `Conv2d.weight` flattened) is Y = im2col(X) Wᵀ + 1bᵀ; so, with
//! upstream gradient ∂L/∂Y and K = im2col(X): ∂L/∂W = (∂L/∂Y)ᵀ K,
//! ∂L/∂b = column sums of ∂L/∂Y, ∂L/∂X = col2im((∂L/∂Y) W), col2im being
//! im2col's adjoint. A transposed convolution with weight Wₜ (C_in × c'·k·k,
//! PyTorch's `ConvTranspose2d.weight` flattened) is Y = col2im(X Wₜ) + 1bᵀ
//! on the output grid (the adjoint of the convolution of the same weight);
//! so with M = im2col(∂L/∂Y): ∂L/∂Wₜ = Xᵀ M, ∂L/∂b = column sums of ∂L/∂Y,
//! ∂L/∂X = M Wₜᵀ. A 1×1 convolution is a linear layer on the rows
//! (`mlp`'s). φ' multiplies elementwise after each φ, as in `mlp`.
//!
//! Backward, then, from ∂L/∂X̂ = −(2/B)(X − X̂): through the transposed
//! convolutions (last first), the 1×1 layer to G = ∂L/∂Q̃ ((B·P) × m); the
//! estimator's rule row by row and the commitment term (2β/B)(Z − Q) give
//! ∂L/∂Z; then the encoder's 1×1 layer and its convolutions (last first).
//! Only the α term reaches E directly: ∂L/∂e_k = (2α/B) Σ_{a_r = k} (e_k − z_r).
//!
//! # Initialisation
//!
//! PyTorch's default for `Conv2d` and `ConvTranspose2d`: every weight and
//! bias uniform on [−1/√n, 1/√n) with n the fan-in PyTorch computes — C_in·k²
//! for a convolution, c'·k² (the weight's second dimension times k², as
//! `torch.nn.init._calculate_fan_in_and_fan_out` reads it) for a transposed
//! one, the input channels for a 1×1 layer — drawn in parameter order, each
//! row-major, from the run's initialisation stream; E by k-means++ and
//! Lloyd on the initial encoder's latent vectors of the training set.
mod manual;

use ndarray::{Array2, ArrayView2};
use rand::{Rng, RngCore};
use tch::Tensor;

use super::torch::activate as activate_tensor;
use super::{
    GradientMethod, LossWeights, Manifold, MethodSpec, Model, ModelKind, ModelSpec, ParamInfo,
    Params, Side,
};
use crate::error::{Result, VqError};
use crate::numerics::conv::ConvGeometry;
pub use manual::ConvManual;

const ENC_WEIGHT: [&str; 4] = ["C1", "C2", "C3", "C4"];
const ENC_BIAS: [&str; 4] = ["c1", "c2", "c3", "c4"];
const DEC_WEIGHT: [&str; 4] = ["D1", "D2", "D3", "D4"];
const DEC_BIAS: [&str; 4] = ["d1", "d2", "d3", "d4"];

/// Where each parameter sits in [`Params::weights`] for depth d: the
/// encoder's convolutions (weight, bias) × d, its 1×1 layer to the codes,
/// the decoder's 1×1 layer from the codes, its transposed convolutions × d.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Layout {
    depth: usize,
}

impl Layout {
    pub(crate) fn of(spec: &ModelSpec) -> Self {
        Layout {
            depth: spec.layers.depth,
        }
    }
    pub(crate) fn encoder(&self, layer: usize) -> usize {
        2 * layer
    }
    pub(crate) fn encoder_head(&self) -> usize {
        2 * self.depth
    }
    pub(crate) fn decoder_head(&self) -> usize {
        2 * self.depth + 2
    }
    pub(crate) fn decoder(&self, layer: usize) -> usize {
        2 * self.depth + 4 + 2 * layer
    }
    fn count(&self) -> usize {
        4 * self.depth + 4
    }
}

/// The image shape of a conv `spec` (set from the data before any use).
pub(crate) fn image_of(spec: &ModelSpec) -> super::ImageShape {
    spec.image
        .expect("the conv model's image shape is set from the data before use")
}

/// Kernel, stride 2 and padding (k − 2)/2 of layer geometries for `batch`
/// images at `scale` = 2^level halvings, with `channels` input channels.
pub(crate) fn geometry(
    spec: &ModelSpec,
    batch: usize,
    level: usize,
    channels: usize,
) -> ConvGeometry {
    let image = image_of(spec);
    let k = spec.layers.kernel;
    ConvGeometry {
        batch,
        height: image.height >> level,
        width: image.width >> level,
        channels,
        kernel: k,
        stride: 2,
        padding: (k - 2) / 2,
    }
}

/// The input channels of encoder layer `l` and the output channels of
/// decoder layer `l`.
pub(crate) fn encoder_in(spec: &ModelSpec, l: usize) -> usize {
    if l == 0 {
        image_of(spec).channels
    } else {
        spec.hidden
    }
}
pub(crate) fn decoder_out(spec: &ModelSpec, l: usize) -> usize {
    if l + 1 == spec.layers.depth {
        image_of(spec).channels
    } else {
        spec.hidden
    }
}

/// Checks a conv `spec` for data of dimension `dim`: an image shape of `dim`
/// values whose sides divide by 2^depth, channels ≥ 1, depth 1 …
/// [`super::MAX_CONV_DEPTH`], an even kernel ≥ 2.
pub fn check_spec(spec: &ModelSpec, dim: usize) -> Result<()> {
    let bad = |field, value: String, allowed: String| {
        Err(VqError::InvalidConfig {
            field,
            value,
            allowed,
        })
    };
    let Some(image) = spec.image else {
        return bad(
            "image_shape",
            "none".into(),
            "an image shape: the conv model reads each row as a picture (use --set mnist, digits or photos, or --image-shape C,H,W for other data)".into(),
        );
    };
    if image.len() != dim {
        return bad(
            "image_shape",
            image.to_string(),
            format!("a shape of {dim} values, the data's dimension"),
        );
    }
    if spec.hidden == 0 {
        return bad("channels", "0".into(), "at least 1".into());
    }
    let depth = spec.layers.depth;
    if depth == 0 || depth > super::MAX_CONV_DEPTH {
        return bad(
            "depth",
            depth.to_string(),
            format!("1 to {}", super::MAX_CONV_DEPTH),
        );
    }
    let k = spec.layers.kernel;
    if k < 2 || k % 2 == 1 {
        return bad(
            "kernel",
            k.to_string(),
            "an even number ≥ 2 (stride 2 with padding (k − 2)/2 halves the image exactly)".into(),
        );
    }
    let step = 1 << depth;
    if image.height % step != 0 || image.width % step != 0 {
        return bad(
            "image_shape",
            image.to_string(),
            format!("height and width divisible by 2^depth = {step} (depth {depth})"),
        );
    }
    Ok(())
}

/// The network parameters of a conv `spec` with codes of dimension `m`,
/// initialised as PyTorch's default (see the module doc) from `rng`.
pub fn init_network<R: Rng + ?Sized>(spec: &ModelSpec, m: usize, rng: &mut R) -> Vec<Array2<f64>> {
    let dim = image_of(spec).len();
    let layout = Layout::of(spec);
    let k2 = spec.layers.kernel * spec.layers.kernel;
    (0..layout.count())
        .map(|i| {
            let info = Conv.param_info(spec, i, dim, m);
            let weight = i - i % 2;
            let fan_in = if weight < layout.encoder_head() {
                encoder_in(spec, weight / 2) * k2
            } else if weight < layout.decoder(0) {
                Conv.param_info(spec, weight, dim, m).shape.1
            } else {
                // ConvTranspose2d: PyTorch reads the fan-in from the
                // weight's second dimension (the output channels).
                decoder_out(spec, (weight - layout.decoder(0)) / 2) * k2
            };
            let bound = 1.0 / (fan_in as f64).sqrt();
            Array2::from_shape_simple_fn(info.shape, || rng.gen_range(-bound..bound))
        })
        .collect()
}

/// Strided convolutions down to a grid of latent vectors and transposed
/// convolutions back (see the module doc); width, depth, kernel and φ come
/// from the [`ModelSpec`], the image shape from the data.
#[derive(Debug, Clone, Copy, Default)]
pub struct Conv;

impl Model for Conv {
    fn kind(&self) -> ModelKind {
        ModelKind::Conv
    }

    fn param_count(&self, spec: &ModelSpec) -> usize {
        Layout::of(spec).count()
    }

    fn param_info(&self, spec: &ModelSpec, index: usize, _dim: usize, m: usize) -> ParamInfo {
        let layout = Layout::of(spec);
        let (c, k2, d) = (spec.hidden, spec.layers.kernel.pow(2), spec.layers.depth);
        let is_bias = index % 2 == 1;
        let (name, weight_shape) = if index < layout.encoder_head() {
            let l = index / 2;
            let name = if is_bias { ENC_BIAS[l] } else { ENC_WEIGHT[l] };
            (name, (c, encoder_in(spec, l) * k2))
        } else if index < layout.decoder_head() {
            (if is_bias { "cz" } else { "Cz" }, (m, c))
        } else if index < layout.decoder(0) {
            (if is_bias { "dz" } else { "Dz" }, (c, m))
        } else if index < layout.count() {
            let l = (index - layout.decoder(0)) / 2;
            let name = if is_bias { DEC_BIAS[l] } else { DEC_WEIGHT[l] };
            (name, (c, decoder_out(spec, l) * k2))
        } else {
            panic!("the conv model of depth {d} has no parameter {index}")
        };
        let shape = if !is_bias {
            weight_shape
        } else if index >= layout.decoder(0) {
            (1, weight_shape.1 / k2)
        } else {
            (1, weight_shape.0)
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

    fn sides_of(&self, spec: &ModelSpec, index: usize) -> &'static [Side] {
        if index < Layout::of(spec).decoder_head() {
            &[Side::Encode]
        } else {
            &[Side::Decode]
        }
    }

    fn data_dim(&self, spec: &ModelSpec, _: &[Array2<f64>]) -> usize {
        image_of(spec).len()
    }

    fn latent_positions(&self, spec: &ModelSpec) -> usize {
        let image = image_of(spec);
        let d = spec.layers.depth;
        (image.height >> d) * (image.width >> d)
    }

    fn has_hidden_layer(&self) -> bool {
        true
    }

    fn row_cost(&self, spec: &ModelSpec, m: usize) -> f64 {
        // Multiply-adds per pixel value, both ways: each stride-2 layer
        // costs c·c_in·k²/4 per input pixel; the 1×1 layers c·m per latent.
        let image = image_of(spec);
        let (c, k2) = (spec.hidden as f64, spec.layers.kernel.pow(2) as f64);
        let mut per_image = 0.0;
        for l in 0..spec.layers.depth {
            let out_pixels = ((image.height * image.width) >> (2 * (l + 1))) as f64;
            per_image += 2.0 * out_pixels * c * encoder_in(spec, l) as f64 * k2;
        }
        per_image += 2.0 * self.latent_positions(spec) as f64 * c * m as f64;
        per_image / image.len() as f64
    }

    fn encode(&self, params: &Params, x: ArrayView2<f64>) -> Array2<f64> {
        manual::encode(params, x)
    }

    fn decode(&self, params: &Params, q: ArrayView2<f64>) -> Array2<f64> {
        manual::decode(params, q)
    }

    fn kink_pattern(
        &self,
        params: &Params,
        batch: ArrayView2<f64>,
        decoder_input: ArrayView2<f64>,
    ) -> Vec<bool> {
        manual::kink_pattern(params, batch, decoder_input)
    }

    fn starts_from_basis(&self) -> bool {
        false
    }

    fn network_from_basis(&self, _: Array2<f64>) -> Vec<Array2<f64>> {
        panic!("the conv model does not start from a PCA basis")
    }

    fn random_network(
        &self,
        spec: &ModelSpec,
        dim: usize,
        m: usize,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<Array2<f64>>> {
        check_spec(spec, dim)?;
        Ok(init_network(spec, m, rng))
    }

    fn manual(&self, spec: MethodSpec, weights: LossWeights) -> Box<dyn GradientMethod> {
        Box::new(ConvManual::new(spec.estimator, spec.model, weights))
    }

    fn forward(&self, spec: &ModelSpec, w: &[Tensor], side: Side, input: &Tensor) -> Tensor {
        let image = image_of(spec);
        let layout = Layout::of(spec);
        let (c, k, d) = (
            spec.hidden as i64,
            spec.layers.kernel as i64,
            spec.layers.depth,
        );
        let pad = (k - 2) / 2;
        let (grid_h, grid_w) = ((image.height >> d) as i64, (image.width >> d) as i64);
        let kernel = |weight: &Tensor, rows: i64, cols: i64| weight.view([rows, cols, k, k]);
        let flat_bias = |b: &Tensor| b.view([-1]);
        match side {
            Side::Encode => {
                let n = input.size()[0];
                let mut h = input.view([
                    n,
                    image.channels as i64,
                    image.height as i64,
                    image.width as i64,
                ]);
                for l in 0..d {
                    let i = layout.encoder(l);
                    let weight = kernel(&w[i], c, encoder_in(spec, l) as i64);
                    let y = h.conv2d(
                        &weight,
                        Some(flat_bias(&w[i + 1])),
                        [2, 2],
                        [pad, pad],
                        [1, 1],
                        1,
                    );
                    h = activate_tensor(spec.activation, &y);
                }
                let rows = h.permute([0, 2, 3, 1]).reshape([-1, c]);
                let i = layout.encoder_head();
                rows.matmul(&w[i].tr()) + &w[i + 1]
            }
            Side::Decode => {
                let i = layout.decoder_head();
                let hidden =
                    activate_tensor(spec.activation, &(input.matmul(&w[i].tr()) + &w[i + 1]));
                let mut h = hidden
                    .reshape([-1, grid_h, grid_w, c])
                    .permute([0, 3, 1, 2]);
                for l in 0..d {
                    let i = layout.decoder(l);
                    let weight = kernel(&w[i], c, decoder_out(spec, l) as i64);
                    let y = h.conv_transpose2d(
                        &weight,
                        Some(flat_bias(&w[i + 1])),
                        [2, 2],
                        [pad, pad],
                        [0, 0],
                        1,
                        [1, 1],
                    );
                    h = if l + 1 == d {
                        y
                    } else {
                        activate_tensor(spec.activation, &y)
                    };
                }
                h.reshape([h.size()[0], -1])
            }
        }
    }
}

#[cfg(test)]
mod tests;
