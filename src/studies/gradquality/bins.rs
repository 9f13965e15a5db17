//! STE's bias on the encoder by the rows' quantization error ‖z − q‖
//! (docs/TRUE-GRADIENT.md, "STE's bias by quantization error").
//!
//! The reconstruction part of STE's expected update on the rows and the
//! true gradient ∇J differ only through the encoder: both take the
//! decoder's part with the same fixed assignments, so on every network
//! parameter
//!
//!   E ĝ_STE,recon − ∇J = (1/N) Σ_n (∂z_n/∂θ)ᵀ (u_n − S_n),
//!
//! u_n = ∂‖x_n − dec(q)‖²/∂q at q_n (what STE hands z) and S_n the row's
//! code-space slope ([`super::truth::code_space_slopes`], whose mean
//! carries the boundary part of ∇J). The sum splits over any partition of
//! the rows; here, bins of equal counts by ‖z_n − q_n‖. A bin's bias is
//! the mean of its rows' terms, relative to ‖∇J‖ on the encoder's group: u
//! is exact on the rows, so its only noise is S's, whose standard error
//! comes from blocks of the bin's rows.
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use super::objective::Direction;
use super::truth::{decoder_slopes, encoder_pullback, mean_and_error, TrueGradient};
use crate::error::Result;
use crate::model::Params;
use crate::numerics::quantize::nearest_codes;

/// Bins of ‖z − q‖ (equal counts).
pub const ERROR_BINS: usize = 5;

/// Blocks of each bin's rows its standard error is computed over (S is
/// heavy-tailed: few rows near a boundary carry it).
const BIN_BLOCKS: usize = super::truth::ERROR_BLOCKS;

/// STE's bias over the rows of one bin of ‖z − q‖.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorBin {
    /// The smallest ‖z − q‖ of the bin's rows (code-space units).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub low: f64,
    /// The largest.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub high: f64,
    /// The mean.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub mean_error: f64,
    /// Rows in the bin.
    pub rows: usize,
    /// ‖mean over the bin of (∂z/∂θ)ᵀ(u − S)‖ / ‖∇J‖ on the encoder's
    /// group, S's noise taken out: √max(0, raw² − noise²).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub relative_bias: f64,
    /// The same as measured.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub relative_bias_raw: f64,
    /// The standard error of the bin's mean of (∂z/∂θ)ᵀS, √(Σ se²), over
    /// ‖∇J‖.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub noise: f64,
}

/// Row indices split into `bins` groups of (nearly) equal counts by
/// `values`, smallest first; each group in row order.
fn equal_count_bins(values: &[f64], bins: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]).then(a.cmp(&b)));
    let n = values.len();
    (0..bins)
        .map(|b| {
            let mut rows = order[b * n / bins..(b + 1) * n / bins].to_vec();
            rows.sort_unstable();
            rows
        })
        .collect()
}

/// STE's reconstruction bias on the encoder's parameters per bin of
/// ‖z − q‖ ([`ERROR_BINS`] of equal counts) on `x`, against `truth` (∇J
/// on the same rows); `norm` measures a direction on the encoder's group.
pub fn ste_bias_by_error(
    params: &Params,
    x: ArrayView2<f64>,
    truth: &TrueGradient,
    norm: impl Fn(&Direction) -> f64,
) -> Result<Vec<ErrorBin>> {
    let model = params.model.kind.model();
    let z = model.encode(params, x);
    let q = params
        .codebook
        .select(Axis(0), &nearest_codes(z.view(), params.codebook.view()));
    let errors: Vec<f64> = z
        .outer_iter()
        .zip(q.outer_iter())
        .map(|(a, b)| {
            a.iter()
                .zip(b)
                .map(|(u, v)| (u - v) * (u - v))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let upstream = decoder_slopes(params, x, q.view())? - &truth.slopes;
    let direction = |weights: Vec<Array2<f64>>| Direction {
        weights,
        codebook: Array2::zeros(params.codebook.raw_dim()),
    };
    let truth_norm = norm(&truth.gradient);
    let mut out = Vec::with_capacity(ERROR_BINS);
    for rows in equal_count_bins(&errors, ERROR_BINS) {
        let n = rows.len();
        let xb = x.select(Axis(0), &rows);
        let bias = direction(encoder_pullback(
            params,
            xb.view(),
            upstream.select(Axis(0), &rows).view(),
            1.0 / n as f64,
        )?);
        // S's noise: the spread of its block sums, Var(Σ) = blocks · Var(block).
        let slopes = truth.slopes.select(Axis(0), &rows);
        let blocks = BIN_BLOCKS.min(n / 2).max(2);
        let sums: Vec<Vec<Array2<f64>>> = (0..blocks)
            .map(|b| {
                let r = ndarray::s![b * n / blocks..(b + 1) * n / blocks, ..];
                encoder_pullback(params, xb.slice(r), slopes.slice(r), 1.0)
            })
            .collect::<Result<_>>()?;
        // The block sums' mean has standard error √(Var/blocks); the
        // bin's mean, Σ/n, blocks/n times that.
        let se: Vec<Array2<f64>> = (0..params.weights.len())
            .map(|i| mean_and_error(sums.iter().map(|s| &s[i])).1 * (blocks as f64 / n as f64))
            .collect();
        let (raw, noise) = (norm(&bias), norm(&direction(se)));
        let bin_errors: Vec<f64> = rows.iter().map(|&r| errors[r]).collect();
        out.push(ErrorBin {
            low: bin_errors.iter().copied().fold(f64::INFINITY, f64::min),
            high: bin_errors.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean_error: bin_errors.iter().sum::<f64>() / n as f64,
            rows: n,
            relative_bias: (raw * raw - noise * noise).max(0.0).sqrt() / truth_norm,
            relative_bias_raw: raw / truth_norm,
            noise: noise / truth_norm,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Backend, Draws, Estimator, LossWeights, Manifold, MethodSpec, ModelKind};
    use crate::optim::stiefel::riemannian_gradient;
    use crate::studies::gradquality::measure::Group;
    use crate::studies::gradquality::truth::true_gradient;

    #[test]
    fn equal_count_bins_split_by_value_and_keep_row_order() {
        let bins = equal_count_bins(&[5.0, 1.0, 4.0, 2.0, 3.0, 0.0], 3);
        assert_eq!(bins, vec![vec![1, 5], vec![3, 4], vec![0, 2]]);
    }

    /// The exp-1 start of `model` and 20,000 fresh rows.
    fn start(model: ModelKind) -> (Params, Array2<f64>) {
        let (params, _, data) = crate::studies::gradquality::objective::tests::exp1_start(model);
        (
            params,
            data.eval.slice(ndarray::s![..20_000, ..]).to_owned(),
        )
    }

    #[test]
    fn the_pullback_of_u_is_stes_reconstruction_gradient_on_the_encoder() {
        // On the untied model the encoder's part of STE's reconstruction
        // gradient over all rows (one batch) is (1/N) Σ (∂z/∂θ)ᵀ u.
        let (params, x) = start(ModelKind::Untied);
        let z = params.model.kind.model().encode(&params, x.view());
        let q = params
            .codebook
            .select(Axis(0), &nearest_codes(z.view(), params.codebook.view()));
        let u = decoder_slopes(&params, x.view(), q.view()).unwrap();
        let ours = encoder_pullback(&params, x.view(), u.view(), 1.0 / x.nrows() as f64).unwrap();
        let mut recon =
            MethodSpec::new(params.model, Estimator::Ste, Backend::Manual).build(LossWeights {
                alpha: 0.0,
                beta: 0.0,
            });
        let theirs = recon.gradients(&params, x.view(), &Draws::none()).unwrap();
        let model = params.model.kind.model();
        let mut compared = 0;
        for (i, (a, b)) in ours.iter().zip(&theirs.grad_weights).enumerate() {
            // The method's gradient is Euclidean; ours is Riemannian.
            let b = &match model.manifold_of(i) {
                Manifold::Stiefel => riemannian_gradient(params.weights[i].view(), b.view()),
                Manifold::Euclidean => b.clone(),
            };
            if matches!(
                model.sides_of(&params.model, i),
                [crate::model::Side::Encode]
            ) {
                let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let worst = (a - b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
                assert!(worst <= 1e-10 * scale, "parameter {i}: {worst} vs {scale}");
                compared += 1;
            }
        }
        assert!(compared > 0);
    }

    #[test]
    fn the_tied_model_bins_match_the_closed_form_and_grow_with_the_error() {
        // Tied, W orthonormal: u_n = −2 Wᵀ(x_n − W q_n) = −2 (z_n − q_n),
        // and S is zero in expectation (the reconstruction is continuous
        // across boundaries), so a bin's bias is the tangent part of
        // (1/n) Σ x_n (−2 (z_n − q_n))ᵀ: it grows with ‖z − q‖.
        let (params, x) = start(ModelKind::Tied);
        let truth = true_gradient(&params, x.view(), 0.01).unwrap();
        let group = Group::encoder_of(&params);
        assert_eq!(group, Group::EncoderDecoder);
        let norm = |d: &Direction| group.dot(&params, d, d).sqrt();
        let bins = ste_bias_by_error(&params, x.view(), &truth, norm).unwrap();
        assert_eq!(bins.len(), ERROR_BINS);
        assert_eq!(bins.iter().map(|b| b.rows).sum::<usize>(), x.nrows());
        let z = params.model.kind.model().encode(&params, x.view());
        let q = params
            .codebook
            .select(Axis(0), &nearest_codes(z.view(), params.codebook.view()));
        let errors: Vec<f64> = (&z - &q).outer_iter().map(|r| r.dot(&r).sqrt()).collect();
        let truth_norm = norm(&truth.gradient);
        for (bin, rows) in bins.iter().zip(equal_count_bins(&errors, ERROR_BINS)) {
            let xb = x.select(Axis(0), &rows);
            let residual = (&z - &q).select(Axis(0), &rows) * -2.0;
            let euclidean = xb.t().dot(&residual) / rows.len() as f64;
            let closed = riemannian_gradient(params.weights[0].view(), euclidean.view());
            let closed_norm = closed.iter().map(|v| v * v).sum::<f64>().sqrt() / truth_norm;
            assert!(
                (bin.relative_bias_raw - closed_norm).abs() < 3.0 * bin.noise + 1e-9,
                "{} vs closed form {closed_norm} (noise {})",
                bin.relative_bias_raw,
                bin.noise
            );
            assert!(bin.low <= bin.mean_error && bin.mean_error <= bin.high);
        }
        for pair in bins.windows(2) {
            assert!(pair[0].high <= pair[1].low);
        }
        // The norm of a bin's mean need not rise bin by bin (its terms
        // partly cancel), but across the range it grows with ‖z − q‖ (here
        // 0.41 in the first bin, 3.2 in the last).
        let (first, last) = (&bins[0], &bins[ERROR_BINS - 1]);
        assert!(
            last.relative_bias > 3.0 * first.relative_bias,
            "{} then {}",
            first.relative_bias,
            last.relative_bias
        );
    }
}
