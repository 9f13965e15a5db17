//! The evaluation metrics (`docs/MODEL.md`), always over a whole data set.
use ndarray::{Array2, ArrayView2, Axis};
use serde::{Deserialize, Serialize};

use crate::numerics::quantize::assign_nearest;

/// Metrics of a model on a data set. Field names are the JSON names.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Mean over samples of ‖x − dec(q)‖² (summed over the D coordinates).
    pub recon_mse: f64,
    /// Mean over samples of ‖z − q‖², z = enc(x) (code space).
    pub insub_distortion: f64,
    /// recon_mse − insub_distortion: the out-of-subspace energy. Exact only
    /// for the tied model (orthonormal W, x̂ = Wq); `null` for the others,
    /// where the difference means nothing.
    pub residual: Option<f64>,
    /// −Σ_k p_k ln p_k (nats), p_k the share of points assigned to code k.
    pub usage_entropy: f64,
    /// usage_entropy / ln K (1 for K = 1).
    pub utilization: f64,
    /// exp(usage_entropy).
    pub perplexity: f64,
    /// Share of codes that no point uses.
    pub dead_code_fraction: f64,
}

impl Metrics {
    /// These metrics of data that were divided by `scale`, in the data's
    /// own units: the squared errors (recon, in-sub, residual) times scale²
    /// (for the mlp the in-sub distortion is in its code space, scaled the
    /// same way). Unchanged for scale 1.
    pub fn in_units(self, scale: f64) -> Metrics {
        if scale == 1.0 {
            return self;
        }
        let sq = scale * scale;
        Metrics {
            recon_mse: self.recon_mse * sq,
            insub_distortion: self.insub_distortion * sq,
            residual: self.residual.map(|r| r * sq),
            ..self
        }
    }
}

/// Usage statistics of an assignment: (entropy in nats, utilization,
/// perplexity, dead-code fraction).
pub fn usage_stats(assignments: &[usize], k: usize) -> (f64, f64, f64, f64) {
    let mut counts = vec![0usize; k];
    for &a in assignments {
        counts[a] += 1;
    }
    let n = assignments.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.ln()
        })
        .sum();
    // + 0.0: a single used code gives −1·ln 1 = −0.0; report it as 0.
    let entropy = entropy + 0.0;
    let dead = counts.iter().filter(|&&c| c == 0).count() as f64 / k as f64;
    let utilization = if k > 1 {
        entropy / (k as f64).ln()
    } else {
        1.0
    };
    (entropy, utilization, entropy.exp(), dead)
}

/// Evaluates the tied linear VQ model (encoder `w`: D×m, codebook: K×m) on
/// every row of `x` (N×D).
pub fn evaluate(x: ArrayView2<f64>, w: ArrayView2<f64>, codebook: ArrayView2<f64>) -> Metrics {
    let n = x.nrows();
    assert!(n > 0, "evaluate needs at least one sample");
    let z = x.dot(&w);
    let mut assignments = vec![0; n];
    let insub_total = assign_nearest(z.view(), codebook, &mut assignments);
    let q = codebook.select(Axis(0), &assignments);
    // Reconstruction computed directly, not through the Pythagorean identity,
    // so residual = recon − insub is a measurement, not a definition.
    let mut recon = x.to_owned();
    ndarray::linalg::general_mat_mul(-1.0, &q, &w.t(), 1.0, &mut recon);
    let recon_total: f64 = recon.iter().map(|v| v * v).sum();
    let recon_mse = recon_total / n as f64;
    let insub_distortion = insub_total / n as f64;
    let (usage_entropy, utilization, perplexity, dead_code_fraction) =
        usage_stats(&assignments, codebook.nrows());
    Metrics {
        recon_mse,
        insub_distortion,
        residual: Some(recon_mse - insub_distortion),
        usage_entropy,
        utilization,
        perplexity,
        dead_code_fraction,
    }
}

/// The smallest and largest of `values` (∞, −∞ for none).
///
/// ```
/// use vqlab::numerics::metrics::value_range;
/// assert_eq!(value_range(&[2.0, -1.0, 5.0]), (-1.0, 5.0));
/// ```
pub fn value_range<'a>(values: impl IntoIterator<Item = &'a f64>) -> (f64, f64) {
    values
        .into_iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &v| {
            (lo.min(v), hi.max(v))
        })
}

/// The peak signal-to-noise ratio in dB of reconstructions whose squared
/// error per row is `recon_mse` over `dim` values per row, for values
/// spanning `peak`: 10 log₁₀(peak² / (recon_mse / dim)).
///
/// ```
/// use vqlab::numerics::metrics::psnr_db;
/// // A per-pixel error of 0.01 on [0, 1] images is 20 dB.
/// assert!((psnr_db(784.0 * 0.01, 784, 1.0) - 20.0).abs() < 1e-12);
/// ```
pub fn psnr_db(recon_mse: f64, dim: usize, peak: f64) -> f64 {
    10.0 * (peak * peak * dim as f64 / recon_mse).log10()
}

/// Evaluates a model given as its codes `z` = enc(x) (N×m, or (N·P)×m for
/// P latent vectors per row) of the rows of `x` (N×D) and its decoder: the nearest codes q, x̂ = `decode`(q).
/// `residual` is `null` (it means something for the tied model only, see
/// [`evaluate`]).
pub fn evaluate_coded(
    x: ArrayView2<f64>,
    z: ArrayView2<f64>,
    codebook: ArrayView2<f64>,
    decode: impl Fn(ArrayView2<f64>) -> Array2<f64>,
) -> Metrics {
    let n = x.nrows();
    assert!(n > 0, "evaluate needs at least one sample");
    // z may hold several latent vectors per row (the conv model's grid):
    // the distortion is still summed over them and averaged over rows.
    let mut assignments = vec![0; z.nrows()];
    let insub_total = assign_nearest(z, codebook, &mut assignments);
    let q = codebook.select(Axis(0), &assignments);
    let x_hat = decode(q.view());
    let recon_total: f64 = (&x - &x_hat).iter().map(|v| v * v).sum();
    let (usage_entropy, utilization, perplexity, dead_code_fraction) =
        usage_stats(&assignments, codebook.nrows());
    Metrics {
        recon_mse: recon_total / n as f64,
        insub_distortion: insub_total / n as f64,
        residual: None,
        usage_entropy,
        utilization,
        perplexity,
        dead_code_fraction,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::linalg::{gaussian_matrix, random_stiefel};
    use crate::numerics::rng::{rng_for, Stream};
    use ndarray::array;

    #[test]
    fn recon_splits_into_residual_and_insub_for_orthonormal_w() {
        let mut rng = rng_for(11, Stream::Harness);
        let x = gaussian_matrix(500, 12, &mut rng);
        let w = random_stiefel(12, 3, &mut rng).unwrap();
        let codebook = gaussian_matrix(5, 3, &mut rng);
        let m = evaluate(x.view(), w.view(), codebook.view());
        // Out-of-subspace energy computed independently: ‖x − W Wᵀ x‖².
        let proj = x.dot(&w).dot(&w.t());
        let out_of_subspace = (&x - &proj).iter().map(|v| v * v).sum::<f64>() / 500.0;
        assert!(
            (m.residual.unwrap() - out_of_subspace).abs() < 1e-10,
            "{:?} vs {}",
            m.residual,
            out_of_subspace
        );
        assert!((m.recon_mse - (out_of_subspace + m.insub_distortion)).abs() < 1e-10);
    }

    #[test]
    fn uniform_usage_has_entropy_ln_k_and_dead_codes_are_counted() {
        let (h, u, p, dead) = usage_stats(&[0, 1, 2, 3, 0, 1, 2, 3], 4);
        assert!((h - 4f64.ln()).abs() < 1e-15);
        assert!((u - 1.0).abs() < 1e-15);
        assert!((p - 4.0).abs() < 1e-12);
        assert_eq!(dead, 0.0);
        let (h, _, _, dead) = usage_stats(&[0, 1, 2, 0, 1, 2], 4);
        assert!((h - 3f64.ln()).abs() < 1e-15);
        assert_eq!(dead, 0.25);
    }

    #[test]
    fn perfect_codebook_has_zero_insub_distortion() {
        let w = array![[1.0], [0.0]];
        let x = array![[1.0, 0.5], [-2.0, 0.5]];
        let codebook = array![[1.0], [-2.0]];
        let m = evaluate(x.view(), w.view(), codebook.view());
        assert_eq!(m.insub_distortion, 0.0);
        assert!((m.recon_mse - 0.25).abs() < 1e-15);
        assert_eq!(m.dead_code_fraction, 0.0);
    }
}
