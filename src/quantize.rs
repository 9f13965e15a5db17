//! Nearest-code search: a = argmin_k ‖z − e_k‖², ties to the lowest k.
//!
//! Uses ‖z − e_k‖² = ‖z‖² − 2 z·e_k + ‖e_k‖²: the ‖e_k‖² are computed once
//! per codebook, the B × K scores Z Eᵀ by one GEMM, and the ‖z‖² term (the
//! same for every k) is left out of the argmin. The distance to the chosen
//! code is then recomputed directly, so the distortion has no cancellation
//! error. No B × K × m temporary is formed.
use ndarray::{Array1, Array2, ArrayView2};

/// Reusable buffers of the search (sized on first use, reused after).
#[derive(Debug, Clone, Default)]
pub struct NearestCode {
    scores: Array2<f64>,
    code_sq_norms: Array1<f64>,
}

impl NearestCode {
    /// A search with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes into `out[b]` the code nearest to row b of `z`; returns
    /// Σ_b ‖z_b − e_{a_b}‖². Allocates only when the shapes grow.
    pub fn assign(
        &mut self,
        z: ArrayView2<f64>,
        codebook: ArrayView2<f64>,
        out: &mut [usize],
    ) -> f64 {
        let (b, m) = z.dim();
        let k = codebook.nrows();
        assert_eq!(codebook.ncols(), m, "code dimension mismatch");
        assert_eq!(out.len(), b, "one assignment per row");
        if self.scores.dim() != (b, k) {
            self.scores = Array2::zeros((b, k));
        }
        if self.code_sq_norms.len() != k {
            self.code_sq_norms = Array1::zeros(k);
        }
        for (n, e) in self.code_sq_norms.iter_mut().zip(codebook.outer_iter()) {
            *n = e.dot(&e);
        }
        ndarray::linalg::general_mat_mul(1.0, &z, &codebook.t(), 0.0, &mut self.scores);
        let mut total = 0.0;
        for ((row, scores), slot) in z
            .outer_iter()
            .zip(self.scores.outer_iter())
            .zip(out.iter_mut())
        {
            let mut best = f64::INFINITY;
            let mut best_k = 0;
            for (kk, (s, n)) in scores.iter().zip(self.code_sq_norms.iter()).enumerate() {
                let d = n - 2.0 * s;
                if d < best {
                    best = d;
                    best_k = kk;
                }
            }
            *slot = best_k;
            let code = codebook.row(best_k);
            total += row
                .iter()
                .zip(code.iter())
                .map(|(a, c)| (a - c) * (a - c))
                .sum::<f64>();
        }
        total
    }
}

/// Writes into `out[b]` the index of the code nearest to row b of `z` and
/// returns Σ_b ‖z_b − e_{a_b}‖² (a one-off [`NearestCode`]).
pub fn assign_nearest(z: ArrayView2<f64>, codebook: ArrayView2<f64>, out: &mut [usize]) -> f64 {
    NearestCode::new().assign(z, codebook, out)
}

/// Convenience wrapper returning a fresh assignment vector.
pub fn nearest_codes(z: ArrayView2<f64>, codebook: ArrayView2<f64>) -> Vec<usize> {
    let mut out = vec![0; z.nrows()];
    assign_nearest(z, codebook, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::gaussian_matrix;
    use crate::rng::{rng_for, Stream};
    use ndarray::array;

    #[test]
    fn nearest_with_ties_to_lowest_index() {
        let codes = array![[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]];
        let z = array![[1.9, 0.1], [1.0, 0.0], [0.1, 2.0]];
        assert_eq!(nearest_codes(z.view(), codes.view()), vec![1, 0, 2]);
    }

    #[test]
    fn agrees_with_a_brute_force_search() {
        let mut rng = rng_for(3, Stream::Harness);
        let z = gaussian_matrix(500, 5, &mut rng);
        let codes = gaussian_matrix(40, 5, &mut rng);
        let mut out = vec![0; 500];
        let total = assign_nearest(z.view(), codes.view(), &mut out);
        let mut brute_total = 0.0;
        for (b, row) in z.outer_iter().enumerate() {
            let d: Vec<f64> = codes
                .outer_iter()
                .map(|e| (&row - &e).mapv(|v| v * v).sum())
                .collect();
            let best = (0..40).min_by(|&i, &j| d[i].total_cmp(&d[j])).unwrap();
            assert_eq!(out[b], best);
            brute_total += d[best];
        }
        assert!((total - brute_total).abs() < 1e-12 * brute_total);
    }
}
