//! Strided 2-D convolutions as matrix products: the geometry of one layer,
//! `im2col` (the patches of an image batch as rows) and its adjoint
//! `col2im` (scatter-add of patch rows back onto the image), on images
//! stored channels-last: a batch of B images of H × W pixels with C channels
//! is a (B·H·W) × C matrix whose row (b·H + y)·W + x holds pixel (y, x) of
//! image b. A data row, in PyTorch's channels-first order (c, y, x), turns
//! into that layout by [`channels_last`] and back by [`channels_first`].
//!
//! With `cols = im2col(X)` ((B·H'·W') × (k·k·C), column (i·k + j)·C + c
//! holding input pixel (y'·s + i − p, x'·s + j − p) of channel c, zero
//! outside the image: kernel offset major, so that each offset copies one
//! pixel's C contiguous channels), a convolution with weight W (C' × k·k·C,
//! PyTorch's `weight.view(C', -1)` with its columns put in that order by
//! [`offset_major`]) is `cols · Wᵀ`, and a transposed convolution with
//! weight Wₜ (C_in × k·k·C', PyTorch's `ConvTranspose2d` weight viewed as
//! `(C_in, -1)`, reordered the same way) is `col2im(X · Wₜ)` on the output
//! grid. Both are exact adjoints: ⟨im2col(X), C⟩ = ⟨X, col2im(C)⟩ (tested
//! below), which is what the backward passes of `model::conv` use.
use ndarray::{Array2, ArrayView2, ArrayViewMut2};

/// One strided convolution's geometry: input images `height` × `width` with
/// `channels` channels, a square `kernel`, `stride` and zero `padding`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvGeometry {
    /// Images in the batch.
    pub batch: usize,
    /// Input rows.
    pub height: usize,
    /// Input columns.
    pub width: usize,
    /// Input channels.
    pub channels: usize,
    /// Kernel side k.
    pub kernel: usize,
    /// Stride s.
    pub stride: usize,
    /// Zero padding p on every side.
    pub padding: usize,
}

impl ConvGeometry {
    /// Output rows ⌊(H + 2p − k)/s⌋ + 1.
    pub fn out_height(&self) -> usize {
        (self.height + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Output columns ⌊(W + 2p − k)/s⌋ + 1.
    pub fn out_width(&self) -> usize {
        (self.width + 2 * self.padding - self.kernel) / self.stride + 1
    }

    /// Rows of the input matrix, B·H·W.
    pub fn input_rows(&self) -> usize {
        self.batch * self.height * self.width
    }

    /// Rows of the output (and of `im2col`), B·H'·W'.
    pub fn output_rows(&self) -> usize {
        self.batch * self.out_height() * self.out_width()
    }

    /// Columns of `im2col`, C·k·k.
    pub fn patch_len(&self) -> usize {
        self.channels * self.kernel * self.kernel
    }

    /// For every output pixel (its row of `im2col`) and kernel offset
    /// (i·k + j), the input pixel row it reads, or `None` in the padding.
    fn for_each_tap(&self, mut f: impl FnMut(usize, usize, Option<usize>)) {
        let (oh, ow, k) = (self.out_height(), self.out_width(), self.kernel);
        let inside = |v: isize, n: usize| (v >= 0 && (v as usize) < n).then_some(v as usize);
        for b in 0..self.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    let out_row = (b * oh + oy) * ow + ox;
                    for i in 0..k {
                        let y = inside(
                            (oy * self.stride + i) as isize - self.padding as isize,
                            self.height,
                        );
                        for j in 0..k {
                            let x = inside(
                                (ox * self.stride + j) as isize - self.padding as isize,
                                self.width,
                            );
                            let pixel = y
                                .zip(x)
                                .map(|(y, x)| (b * self.height + y) * self.width + x);
                            f(out_row, i * k + j, pixel);
                        }
                    }
                }
            }
        }
    }
}

/// The patches of `input` ((B·H·W) × C, channels last) as rows of `cols`
/// ((B·H'·W') × (k·k·C), offset major), zero in the padding. `cols` must have that shape
/// (and be in standard layout).
pub fn im2col(geometry: &ConvGeometry, input: ArrayView2<f64>, cols: &mut Array2<f64>) {
    let (c, kk) = (geometry.channels, geometry.kernel * geometry.kernel);
    assert_eq!(input.dim(), (geometry.input_rows(), c), "im2col input");
    assert_eq!(
        cols.dim(),
        (geometry.output_rows(), geometry.patch_len()),
        "im2col output"
    );
    let input = input.as_standard_layout();
    let pixels = input.as_slice().expect("standard layout");
    let patches = cols
        .as_slice_mut()
        .expect("im2col writes a standard-layout matrix");
    let patch = c * kk;
    geometry.for_each_tap(|row, tap, pixel| {
        let out = &mut patches[row * patch + tap * c..row * patch + (tap + 1) * c];
        match pixel {
            Some(p) => out.copy_from_slice(&pixels[p * c..(p + 1) * c]),
            None => out.fill(0.0),
        }
    });
}

/// The adjoint of [`im2col`]: `out` ((B·H·W) × C) = the sum, over every
/// patch row of `cols` and kernel offset, of its entries at the input pixel
/// they came from (the padding's entries dropped). `out` is overwritten
/// (and must be in standard layout).
pub fn col2im(geometry: &ConvGeometry, cols: ArrayView2<f64>, out: &mut Array2<f64>) {
    let (c, kk) = (geometry.channels, geometry.kernel * geometry.kernel);
    assert_eq!(out.dim(), (geometry.input_rows(), c), "col2im output");
    assert_eq!(
        cols.dim(),
        (geometry.output_rows(), geometry.patch_len()),
        "col2im input"
    );
    let cols = cols.as_standard_layout();
    let patches = cols.as_slice().expect("standard layout");
    out.fill(0.0);
    let pixels = out
        .as_slice_mut()
        .expect("col2im writes a standard-layout matrix");
    let patch = c * kk;
    geometry.for_each_tap(|row, tap, pixel| {
        if let Some(p) = pixel {
            let src = &patches[row * patch + tap * c..row * patch + (tap + 1) * c];
            for (v, &s) in pixels[p * c..(p + 1) * c].iter_mut().zip(src) {
                *v += s;
            }
        }
    });
}

/// Reorders the columns of a weight from PyTorch's (channel, offset) order
/// (column c·kk + t) to [`im2col`]'s (offset, channel) order (column
/// t·C + c), `kk` offsets and C = columns / kk channels, into `out` (the
/// same shape).
pub fn offset_major(weight: ArrayView2<f64>, kk: usize, out: &mut Array2<f64>) {
    reorder_columns(weight, kk, out, true);
}

/// The inverse of [`offset_major`]: (offset, channel) columns back to
/// PyTorch's (channel, offset) order.
pub fn channel_major(weight: ArrayView2<f64>, kk: usize, out: &mut Array2<f64>) {
    reorder_columns(weight, kk, out, false);
}

/// Column c·kk + t of (channel, offset) order is column t·C + c of
/// (offset, channel) order: copies one order into the other.
fn reorder_columns(weight: ArrayView2<f64>, kk: usize, out: &mut Array2<f64>, to_offset: bool) {
    let c = weight.ncols() / kk;
    assert_eq!(out.dim(), weight.dim(), "a reordering keeps the shape");
    for (row, mut out_row) in weight.outer_iter().zip(out.outer_iter_mut()) {
        for ch in 0..c {
            for t in 0..kk {
                let (channel_first, offset_first) = (ch * kk + t, t * c + ch);
                if to_offset {
                    out_row[offset_first] = row[channel_first];
                } else {
                    out_row[channel_first] = row[offset_first];
                }
            }
        }
    }
}

/// Data rows (N × C·H·W, channels first) as channels-last pixels
/// ((N·H·W) × C) in `out`, which must have that shape.
pub fn channels_last(rows: ArrayView2<f64>, channels: usize, out: &mut Array2<f64>) {
    let pixels = rows.ncols() / channels;
    assert_eq!(
        out.dim(),
        (rows.nrows() * pixels, channels),
        "channels_last"
    );
    for (n, row) in rows.outer_iter().enumerate() {
        for c in 0..channels {
            for p in 0..pixels {
                out[[n * pixels + p, c]] = row[c * pixels + p];
            }
        }
    }
}

/// The inverse of [`channels_last`]: pixels ((N·H·W) × C) as data rows
/// (N × C·H·W) in `out`, which must have that shape.
pub fn channels_first(pixels: ArrayView2<f64>, mut out: ArrayViewMut2<f64>) {
    let channels = pixels.ncols();
    let per_image = out.ncols() / channels;
    assert_eq!(pixels.nrows(), out.nrows() * per_image, "channels_first");
    for (n, mut row) in out.outer_iter_mut().enumerate() {
        for c in 0..channels {
            for p in 0..per_image {
                row[c * per_image + p] = pixels[[n * per_image + p, c]];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::rng::{rng_for, Stream};

    /// out[b, y', x', c'] = Σ w[c', c, i, j] in[b, y's + i − p, x's + j − p, c],
    /// by the definition, loop by loop.
    fn direct_conv(g: &ConvGeometry, input: &Array2<f64>, weight: &Array2<f64>) -> Array2<f64> {
        let (oh, ow, k) = (g.out_height(), g.out_width(), g.kernel);
        let mut out = Array2::zeros((g.output_rows(), weight.nrows()));
        for b in 0..g.batch {
            for oy in 0..oh {
                for ox in 0..ow {
                    for co in 0..weight.nrows() {
                        let mut sum = 0.0;
                        for c in 0..g.channels {
                            for i in 0..k {
                                for j in 0..k {
                                    let y = (oy * g.stride + i) as isize - g.padding as isize;
                                    let x = (ox * g.stride + j) as isize - g.padding as isize;
                                    if y < 0
                                        || x < 0
                                        || y >= g.height as isize
                                        || x >= g.width as isize
                                    {
                                        continue;
                                    }
                                    let p = (b * g.height + y as usize) * g.width + x as usize;
                                    sum += weight[[co, (c * k + i) * k + j]] * input[[p, c]];
                                }
                            }
                        }
                        out[[(b * oh + oy) * ow + ox, co]] = sum;
                    }
                }
            }
        }
        out
    }

    fn geometry(kernel: usize, padding: usize) -> ConvGeometry {
        ConvGeometry {
            batch: 2,
            height: 6,
            width: 4,
            channels: 3,
            kernel,
            stride: 2,
            padding,
        }
    }

    #[test]
    fn im2col_times_the_weight_is_the_convolution() {
        let mut rng = rng_for(3, Stream::Harness);
        for (k, p) in [(4, 1), (2, 0), (3, 1)] {
            let g = geometry(k, p);
            let input = gaussian_matrix(g.input_rows(), g.channels, &mut rng);
            let weight = gaussian_matrix(5, g.patch_len(), &mut rng);
            let mut cols = Array2::zeros((g.output_rows(), g.patch_len()));
            im2col(&g, input.view(), &mut cols);
            let mut reordered = Array2::zeros(weight.dim());
            offset_major(weight.view(), k * k, &mut reordered);
            let by_gemm = cols.dot(&reordered.t());
            let mut back = Array2::zeros(weight.dim());
            channel_major(reordered.view(), k * k, &mut back);
            assert_eq!(back, weight);
            let direct = direct_conv(&g, &input, &weight);
            let err = (&by_gemm - &direct)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(err < 1e-12, "k {k} p {p}: {err}");
        }
    }

    #[test]
    fn col2im_is_the_adjoint_of_im2col() {
        let mut rng = rng_for(4, Stream::Harness);
        let g = geometry(4, 1);
        assert_eq!((g.out_height(), g.out_width()), (3, 2));
        let x = gaussian_matrix(g.input_rows(), g.channels, &mut rng);
        let c = gaussian_matrix(g.output_rows(), g.patch_len(), &mut rng);
        let mut cols = Array2::zeros(c.dim());
        im2col(&g, x.view(), &mut cols);
        let mut back = Array2::zeros(x.dim());
        col2im(&g, c.view(), &mut back);
        let left: f64 = (&cols * &c).sum();
        let right: f64 = (&x * &back).sum();
        assert!(
            (left - right).abs() < 1e-10 * left.abs().max(1.0),
            "{left} vs {right}"
        );
    }

    #[test]
    fn channel_orders_round_trip() {
        let mut rng = rng_for(5, Stream::Harness);
        let rows = gaussian_matrix(3, 2 * 4 * 5, &mut rng);
        let mut pixels = Array2::zeros((3 * 20, 2));
        channels_last(rows.view(), 2, &mut pixels);
        // Pixel (y, x) = (1, 3) of image 2, channel 1.
        assert_eq!(pixels[[2 * 20 + 4 + 3, 1]], rows[[2, 20 + 4 + 3]]);
        let mut back = Array2::zeros(rows.dim());
        channels_first(pixels.view(), back.view_mut());
        assert_eq!(back, rows);
    }
}
