//! The conv model on ndarray: the forward pass by im2col/col2im and GEMM,
//! and the backward pass of the module doc's derivation, in buffers that are
//! sized on the first batch and reused (no allocation per step).
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, Zip};

use super::{decoder_out, encoder_in, geometry, image_of, Layout};
use crate::error::{Result, VqError};
use crate::model::estimator::{Draws, QuantizerPath};
use crate::model::mlp::{activate, linear, times_derivative};
use crate::model::untied::codebook_gradient;
use crate::model::{
    check_batch, fit_buffer, quantize_rows, Activation, Backend, Estimator, Gathered,
    GradientMethod, Gradients, LossParts, LossWeights, MethodSpec, ModelKind, ModelSpec, Params,
};
use crate::numerics::conv::{
    channel_major, channels_first, channels_last, col2im, im2col, offset_major,
};
use crate::numerics::quantize::NearestCode;

/// Images per chunk of [`encode`] and [`decode`] (bounds their buffers).
const CHUNK: usize = 128;

/// The forward pass's activations, channels last.
#[derive(Debug, Clone, Default)]
pub(crate) struct Forward {
    /// The input images, (B·H·W) × C.
    x: Array2<f64>,
    /// The strided layers' weights with their columns in im2col's
    /// (offset, channel) order: the encoder's, the decoder's.
    enc_w: Vec<Array2<f64>>,
    dec_w: Vec<Array2<f64>>,
    /// Per encoder layer: its patches, pre-activation and φ of it.
    enc_cols: Vec<Array2<f64>>,
    enc_h: Vec<Array2<f64>>,
    enc_p: Vec<Array2<f64>>,
    /// The latent vectors, (B·P) × m.
    z: Array2<f64>,
    /// The decoder's 1×1 layer from the codes: pre-activation and φ of it.
    dec_h0: Array2<f64>,
    dec_p0: Array2<f64>,
    /// Per transposed convolution: X Wₜ, the output (pre-activation; the
    /// last is x̂) and φ of it.
    dec_cols: Vec<Array2<f64>>,
    dec_h: Vec<Array2<f64>>,
    dec_p: Vec<Array2<f64>>,
}

/// Rows of the channels-last matrix of `b` images at `level` halvings.
fn rows_at(spec: &ModelSpec, b: usize, level: usize) -> usize {
    let image = image_of(spec);
    b * (image.height >> level) * (image.width >> level)
}

impl Forward {
    /// Sizes every buffer for `b` images and codes of dimension `m`.
    fn fit(&mut self, spec: &ModelSpec, b: usize, m: usize) {
        let (d, c, k2) = (spec.layers.depth, spec.hidden, spec.layers.kernel.pow(2));
        for v in [
            &mut self.enc_w,
            &mut self.dec_w,
            &mut self.enc_cols,
            &mut self.enc_h,
            &mut self.enc_p,
            &mut self.dec_cols,
            &mut self.dec_h,
            &mut self.dec_p,
        ] {
            v.resize_with(d, || Array2::zeros((0, 0)));
        }
        fit_buffer(&mut self.x, (rows_at(spec, b, 0), image_of(spec).channels));
        for l in 0..d {
            let rows = rows_at(spec, b, l + 1);
            fit_buffer(&mut self.enc_w[l], (c, encoder_in(spec, l) * k2));
            fit_buffer(&mut self.dec_w[l], (c, decoder_out(spec, l) * k2));
            fit_buffer(&mut self.enc_cols[l], (rows, encoder_in(spec, l) * k2));
            fit_buffer(&mut self.enc_h[l], (rows, c));
            fit_buffer(&mut self.enc_p[l], (rows, c));
            let (inner, outer) = (rows_at(spec, b, d - l), rows_at(spec, b, d - l - 1));
            fit_buffer(&mut self.dec_cols[l], (inner, decoder_out(spec, l) * k2));
            fit_buffer(&mut self.dec_h[l], (outer, decoder_out(spec, l)));
            fit_buffer(&mut self.dec_p[l], (outer, decoder_out(spec, l)));
        }
        let latent = rows_at(spec, b, d);
        fit_buffer(&mut self.z, (latent, m));
        fit_buffer(&mut self.dec_h0, (latent, c));
        fit_buffer(&mut self.dec_p0, (latent, c));
    }

    /// The encoder on `batch` (B × C·H·W, channels first): fills the
    /// encoder's activations and z.
    fn encoder(&mut self, params: &Params, batch: ArrayView2<f64>) {
        let spec = &params.model;
        let (w, layout, act) = (&params.weights, Layout::of(spec), spec.activation);
        let k2 = spec.layers.kernel.pow(2);
        self.fit(spec, batch.nrows(), params.code_dim());
        channels_last(batch, image_of(spec).channels, &mut self.x);
        for l in 0..spec.layers.depth {
            let g = geometry(spec, batch.nrows(), l, encoder_in(spec, l));
            let input = if l == 0 {
                self.x.view()
            } else {
                self.enc_p[l - 1].view()
            };
            im2col(&g, input, &mut self.enc_cols[l]);
            let i = layout.encoder(l);
            offset_major(w[i].view(), k2, &mut self.enc_w[l]);
            let (cols, weight) = (self.enc_cols[l].view(), &self.enc_w[l]);
            linear(cols, weight, &w[i + 1], &mut self.enc_h[l]);
            activate(act, &self.enc_h[l], &mut self.enc_p[l]);
        }
        let i = layout.encoder_head();
        let last = self.enc_p.last().expect("depth ≥ 1");
        linear(last.view(), &w[i], &w[i + 1], &mut self.z);
    }

    /// The decoder on `q_tilde` ((B·P) × m): fills its activations; x̂ is
    /// the last `dec_h`.
    fn decoder(&mut self, params: &Params, q_tilde: ArrayView2<f64>) {
        let spec = &params.model;
        let (w, layout, act) = (&params.weights, Layout::of(spec), spec.activation);
        let (d, b) = (
            spec.layers.depth,
            q_tilde.nrows() / params.latent_positions(),
        );
        let k2 = spec.layers.kernel.pow(2);
        let i = layout.decoder_head();
        linear(q_tilde, &w[i], &w[i + 1], &mut self.dec_h0);
        activate(act, &self.dec_h0, &mut self.dec_p0);
        for l in 0..d {
            let input = if l == 0 {
                self.dec_p0.view()
            } else {
                self.dec_p[l - 1].view()
            };
            let i = layout.decoder(l);
            offset_major(w[i].view(), k2, &mut self.dec_w[l]);
            general_mat_mul(1.0, &input, &self.dec_w[l], 0.0, &mut self.dec_cols[l]);
            let g = geometry(spec, b, d - l - 1, decoder_out(spec, l));
            col2im(&g, self.dec_cols[l].view(), &mut self.dec_h[l]);
            self.dec_h[l] += &w[i + 1].row(0);
            if l + 1 < d {
                activate(act, &self.dec_h[l], &mut self.dec_p[l]);
            }
        }
    }

    /// x̂, channels last.
    fn x_hat(&self) -> &Array2<f64> {
        self.dec_h.last().expect("depth ≥ 1")
    }
}

/// The latent vectors z of every row of `x` ((N·P) × m), in chunks.
pub(super) fn encode(params: &Params, x: ArrayView2<f64>) -> Array2<f64> {
    let p = params.latent_positions();
    let mut out = Array2::zeros((x.nrows() * p, params.code_dim()));
    let mut fwd = Forward::default();
    for start in (0..x.nrows()).step_by(CHUNK) {
        let end = (start + CHUNK).min(x.nrows());
        fwd.encoder(params, x.slice(s![start..end, ..]));
        out.slice_mut(s![start * p..end * p, ..]).assign(&fwd.z);
    }
    out
}

/// The reconstructions of the latent vectors `q` ((N·P) × m → N × D), in
/// chunks.
pub(super) fn decode(params: &Params, q: ArrayView2<f64>) -> Array2<f64> {
    let p = params.latent_positions();
    let n = q.nrows() / p;
    let mut out = Array2::zeros((n, params.dim()));
    let mut fwd = Forward::default();
    for start in (0..n).step_by(CHUNK) {
        let end = (start + CHUNK).min(n);
        fwd.fit(&params.model, end - start, params.code_dim());
        fwd.decoder(params, q.slice(s![start * p..end * p, ..]));
        channels_first(fwd.x_hat().view(), out.slice_mut(s![start..end, ..]));
    }
    out
}

/// Whether each ReLU unit (encoder, and decoder fed `decoder_input`) is
/// on; empty for tanh, which has no kink.
pub(super) fn kink_pattern(
    params: &Params,
    batch: ArrayView2<f64>,
    decoder_input: ArrayView2<f64>,
) -> Vec<bool> {
    if params.model.activation != Activation::Relu {
        return Vec::new();
    }
    let mut fwd = Forward::default();
    fwd.encoder(params, batch);
    fwd.decoder(params, decoder_input);
    let d = params.model.layers.depth;
    let decoder_hidden = fwd.dec_h[..d - 1].iter();
    fwd.enc_h
        .iter()
        .chain([&fwd.dec_h0])
        .chain(decoder_hidden)
        .flat_map(|h| h.iter().map(|&v| v > 0.0))
        .collect()
}

/// out (1 × n) = c · the column sums of `a`, each summed with Neumaier's
/// compensation: a bias's gradient sums B·H·W terms that nearly cancel
/// once the bias fits (the last layer's is the mean residual), and a plain
/// running sum would leave its rounding error at ~1e-12 of the result.
fn column_sums(a: ArrayView2<f64>, c: f64, out: &mut Array2<f64>) {
    // Rows in order, a block of columns at a time (each column's sum in the
    // same order as one column alone, read row by row).
    const BLOCK: usize = 64;
    let a = a.as_standard_layout();
    let values = a.as_slice().expect("standard layout");
    let n = a.ncols();
    for start in (0..n).step_by(BLOCK) {
        let width = (start + BLOCK).min(n) - start;
        let (mut sum, mut compensation) = ([0.0f64; BLOCK], [0.0f64; BLOCK]);
        for row in values.chunks_exact(n) {
            let block = &row[start..start + width];
            for ((s, e), &v) in sum.iter_mut().zip(compensation.iter_mut()).zip(block) {
                let t = *s + v;
                let (big, small) = if s.abs() >= v.abs() { (*s, v) } else { (v, *s) };
                *e += (big - t) + small;
                *s = t;
            }
        }
        let mut row = out.row_mut(0);
        for (j, o) in row
            .slice_mut(s![start..start + width])
            .iter_mut()
            .enumerate()
        {
            *o = c * (sum[j] + compensation[j]);
        }
    }
}

#[derive(Debug, Clone, Default)]
struct Workspace {
    fwd: Forward,
    path: QuantizerPath,
    q: Array2<f64>,
    residual: Array2<f64>,
    grad_z: Array2<f64>,
    delta0: Array2<f64>,
    enc_delta: Vec<Array2<f64>>,
    dec_delta: Vec<Array2<f64>>,
    /// The strided layers' weight gradients in (offset, channel) order.
    grad_offset_major: Vec<Array2<f64>>,
    nearest: NearestCode,
}

/// The conv model's gradients by the derivation of the module doc.
#[derive(Debug, Clone)]
pub struct ConvManual {
    estimator: Estimator,
    model: ModelSpec,
    weights: LossWeights,
    work: Workspace,
    gathered: Gathered,
}

impl ConvManual {
    /// The manual conv method for `estimator` and the conv `model`.
    pub fn new(estimator: Estimator, model: ModelSpec, weights: LossWeights) -> Self {
        ConvManual {
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
        (estimator, model, draws): (Estimator, &ModelSpec, &Draws),
        loss_weights: LossWeights,
        params: &Params,
        batch: ArrayView2<f64>,
        out: &mut Gradients,
    ) -> Result<()> {
        if params.model.kind != ModelKind::Conv || params.model != *model {
            return Err(VqError::Shape(format!(
                "the method of {} got parameters of {}",
                model.describe(),
                params.model.describe()
            )));
        }
        check_batch(params, batch.ncols(), None)?;
        let (b, m) = (batch.nrows(), params.code_dim());
        let latent = params.latent_rows(b);
        draws.check(estimator, latent, m, params.codebook.nrows())?;
        let spec = &params.model;
        let (w, layout, act) = (&params.weights, Layout::of(spec), spec.activation);
        let (d, k2) = (spec.layers.depth, spec.layers.kernel.pow(2));
        let scale = 1.0 / b as f64;
        let LossWeights { alpha, beta } = loss_weights;
        let ws = self;
        ws.enc_delta.resize_with(d, || Array2::zeros((0, 0)));
        ws.dec_delta.resize_with(d, || Array2::zeros((0, 0)));
        ws.grad_offset_major
            .resize_with(2 * d, || Array2::zeros((0, 0)));
        let strided = (0..d)
            .map(|l| layout.encoder(l))
            .chain((0..d).map(|l| layout.decoder(l)));
        for (buf, i) in ws.grad_offset_major.iter_mut().zip(strided) {
            fit_buffer(buf, w[i].dim());
        }
        for l in 0..d {
            fit_buffer(&mut ws.enc_delta[l], (rows_at(spec, b, l + 1), spec.hidden));
            let outer = (rows_at(spec, b, d - l - 1), decoder_out(spec, l));
            fit_buffer(&mut ws.dec_delta[l], outer);
        }
        for (buf, shape) in [
            (&mut ws.q, (latent, m)),
            (&mut ws.grad_z, (latent, m)),
            (&mut ws.delta0, (latent, spec.hidden)),
            (
                &mut ws.residual,
                (rows_at(spec, b, 0), image_of(spec).channels),
            ),
        ] {
            fit_buffer(buf, shape);
        }
        out.fit(params, b);

        // Forward.
        ws.fwd.encoder(params, batch);
        let insub_total = quantize_rows(
            &mut ws.nearest,
            ws.fwd.z.view(),
            params.codebook.view(),
            &mut out.assignments,
            &mut ws.q,
        );
        let q_tilde = ws.path.forward(
            estimator,
            ws.fwd.z.view(),
            ws.q.view(),
            params.codebook.view(),
            draws,
        );
        ws.fwd.decoder(params, q_tilde);
        // R = X − X̂ (channels last; the sum of squares does not care).
        ws.residual.assign(&ws.fwd.x);
        ws.residual -= ws.fwd.x_hat();
        let recon = ws.residual.iter().map(|r| r * r).sum::<f64>() * scale;
        out.loss = LossParts::from_distortions(recon, insub_total * scale, loss_weights);

        // Decoder, last transposed convolution first: ∂L/∂X̂ = −(2/B) R.
        let g = &mut out.grad_weights;
        let f = &mut ws.fwd;
        Zip::from(&mut ws.dec_delta[d - 1])
            .and(&ws.residual)
            .for_each(|o, &r| *o = -2.0 * scale * r);
        for l in (0..d).rev() {
            let i = layout.decoder(l);
            let geom = geometry(spec, b, d - l - 1, decoder_out(spec, l));
            column_sums(ws.dec_delta[l].view(), 1.0, &mut g[i + 1]);
            im2col(&geom, ws.dec_delta[l].view(), &mut f.dec_cols[l]);
            let (input, h, p, below) = if l == 0 {
                (&f.dec_p0, &f.dec_h0, &f.dec_p0, &mut ws.delta0)
            } else {
                let (lower, _) = ws.dec_delta.split_at_mut(l);
                (
                    &f.dec_p[l - 1],
                    &f.dec_h[l - 1],
                    &f.dec_p[l - 1],
                    &mut lower[l - 1],
                )
            };
            let grad = &mut ws.grad_offset_major[d + l];
            general_mat_mul(1.0, &input.t(), &f.dec_cols[l], 0.0, grad);
            channel_major(grad.view(), k2, &mut g[i]);
            general_mat_mul(1.0, &f.dec_cols[l], &f.dec_w[l].t(), 0.0, below);
            times_derivative(act, below, h, p);
        }
        let i = layout.decoder_head();
        let q_tilde = ws.path.forward_value(estimator, ws.q.view());
        general_mat_mul(1.0, &ws.delta0.t(), &q_tilde, 0.0, &mut g[i]);
        column_sums(ws.delta0.view(), 1.0, &mut g[i + 1]);
        // G = Δ₀ D_z, the estimator's rule, the α and β terms.
        codebook_gradient(
            params.codebook.view(),
            f.z.view(),
            &out.assignments,
            2.0 * alpha * scale,
            &mut out.grad_e,
        );
        general_mat_mul(1.0, &ws.delta0, &w[i], 0.0, &mut ws.grad_z);
        ws.path.backward(
            estimator,
            (f.z.view(), ws.q.view(), params.codebook.view()),
            (&out.assignments, draws),
            &mut ws.grad_z,
            &mut out.grad_e,
        );
        Zip::from(&mut ws.grad_z)
            .and(&f.z)
            .and(&ws.q)
            .for_each(|g, &z, &q| *g += 2.0 * beta * scale * (z - q));
        // Encoder: the 1×1 layer to the codes, then its convolutions.
        let i = layout.encoder_head();
        general_mat_mul(1.0, &ws.grad_z.t(), &f.enc_p[d - 1], 0.0, &mut g[i]);
        column_sums(ws.grad_z.view(), 1.0, &mut g[i + 1]);
        general_mat_mul(1.0, &ws.grad_z, &w[i], 0.0, &mut ws.enc_delta[d - 1]);
        times_derivative(
            act,
            &mut ws.enc_delta[d - 1],
            &f.enc_h[d - 1],
            &f.enc_p[d - 1],
        );
        for l in (0..d).rev() {
            let i = layout.encoder(l);
            let grad = &mut ws.grad_offset_major[l];
            general_mat_mul(1.0, &ws.enc_delta[l].t(), &f.enc_cols[l], 0.0, grad);
            channel_major(grad.view(), k2, &mut g[i]);
            column_sums(ws.enc_delta[l].view(), 1.0, &mut g[i + 1]);
            if l > 0 {
                // The patches are spent: reuse their buffer for ∂L/∂patches.
                let weight = &f.enc_w[l];
                general_mat_mul(1.0, &ws.enc_delta[l], weight, 0.0, &mut f.enc_cols[l]);
                let geom = geometry(spec, b, l, encoder_in(spec, l));
                let (lower, _) = ws.enc_delta.split_at_mut(l);
                col2im(&geom, f.enc_cols[l].view(), &mut lower[l - 1]);
                times_derivative(act, &mut lower[l - 1], &f.enc_h[l - 1], &f.enc_p[l - 1]);
            }
        }
        out.codes.assign(&f.z);
        Ok(())
    }
}

impl GradientMethod for ConvManual {
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
        let choices = (self.estimator, &self.model, draws);
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
        let choices = (self.estimator, &self.model, draws);
        self.work.compute(choices, self.weights, params, batch, out)
    }
}
