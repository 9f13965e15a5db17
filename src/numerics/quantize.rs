//! Nearest-code search: a = argmin_k ‖z − e_k‖², ties to the lowest k.
//!
//! Uses ‖z − e_k‖² = ‖z‖² − 2 z·e_k + ‖e_k‖²: the ‖e_k‖² are computed once
//! per codebook, the scores z·e_k for all k at once, and the ‖z‖² term (the
//! same for every k) is left out of the argmin. The distance to the chosen
//! code is then recomputed directly, so the distortion has no cancellation
//! error. No B × K × m temporary is formed. For small code dimensions the
//! scores of a row come from a loop over the transposed codebook (contiguous
//! in k, so it vectorises); for larger ones from one B × K GEMM.
use ndarray::{Array1, Array2, ArrayView2};

/// Reusable buffers of the search (sized on first use, reused after).
#[derive(Debug, Clone, Default)]
pub struct NearestCode {
    scores: Array2<f64>,
    code_sq_norms: Array1<f64>,
    codebook_t: Array2<f64>,
    row_scores: Vec<f64>,
}

/// Code dimensions up to this use the row loop; larger ones the GEMM.
pub const ROW_LOOP_MAX_M: usize = 8;

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
        if self.code_sq_norms.len() != k {
            self.code_sq_norms = Array1::zeros(k);
        }
        for (n, e) in self.code_sq_norms.iter_mut().zip(codebook.outer_iter()) {
            *n = e.dot(&e);
        }
        if m <= ROW_LOOP_MAX_M {
            return self.assign_small(z, codebook, out);
        }
        if self.scores.dim() != (b, k) {
            self.scores = Array2::zeros((b, k));
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

impl NearestCode {
    /// The row loop, compiled a second time with AVX2 and FMA enabled and
    /// chosen at run time where the processor has them. The sums use explicit
    /// `mul_add` (one rounding; exact in software without FMA hardware), so
    /// both versions give bit-identical results.
    fn assign_small(
        &mut self,
        z: ArrayView2<f64>,
        codebook: ArrayView2<f64>,
        out: &mut [usize],
    ) -> f64 {
        #[cfg(target_arch = "x86_64")]
        if crate::infra::kernels::has_avx2_fma() {
            // SAFETY: the processor supports AVX2 and FMA (checked just above).
            return unsafe { self.assign_small_avx2(z, codebook, out) };
        }
        self.assign_small_portable(z, codebook, out)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn assign_small_avx2(
        &mut self,
        z: ArrayView2<f64>,
        codebook: ArrayView2<f64>,
        out: &mut [usize],
    ) -> f64 {
        self.assign_small_portable(z, codebook, out)
    }

    #[inline(always)]
    fn assign_small_portable(
        &mut self,
        z: ArrayView2<f64>,
        codebook: ArrayView2<f64>,
        out: &mut [usize],
    ) -> f64 {
        let (k, m) = codebook.dim();
        if self.codebook_t.dim() != (m, k) {
            self.codebook_t = Array2::zeros((m, k));
        }
        self.codebook_t.assign(&codebook.t());
        self.row_scores.resize(k, 0.0);
        let et = self.codebook_t.as_slice().expect("standard layout");
        let norms = self.code_sq_norms.as_slice().expect("contiguous");
        let scores = &mut self.row_scores[..];
        let z_owned;
        let z_rows: &[f64] = match z.as_slice() {
            Some(s) => s,
            None => {
                z_owned = z.to_owned();
                z_owned.as_slice().expect("standard layout")
            }
        };
        let cb_owned;
        let codes: &[f64] = match codebook.as_slice() {
            Some(s) => s,
            None => {
                cb_owned = codebook.to_owned();
                cb_owned.as_slice().expect("standard layout")
            }
        };
        // One monomorphised copy per small m, so the coordinate loop unrolls.
        macro_rules! dispatch {
            ($($n:literal),*) => {
                match m {
                    $($n => rows_nearest::<$n>(z_rows, et, norms, scores, codes, k, out),)*
                    _ => unreachable!("m ≤ ROW_LOOP_MAX_M"),
                }
            };
        }
        dispatch!(1, 2, 3, 4, 5, 6, 7, 8)
    }
}

/// The row loop for code dimension `M`: the nearest code of every row and
/// the exact distance to it.
// Index loops over fixed-size M × M and M arrays read as the formulas do.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn rows_nearest<const M: usize>(
    z_rows: &[f64],
    et: &[f64],
    norms: &[f64],
    scores: &mut [f64],
    codes: &[f64],
    k: usize,
    out: &mut [usize],
) -> f64 {
    let mut total = 0.0;
    for (row, slot) in z_rows.chunks_exact(M).zip(out.iter_mut()) {
        let row: &[f64; M] = row.try_into().expect("chunks of M");
        let best_k = nearest_row::<M>(row, et, norms, scores, k);
        *slot = best_k;
        let code = &codes[best_k * M..(best_k + 1) * M];
        let mut dist = 0.0;
        for j in 0..M {
            dist += (row[j] - code[j]) * (row[j] - code[j]);
        }
        total += dist;
    }
    total
}

/// The nearest code to one row `z` (code dimension `M`): d_k = ‖e_k‖² −
/// 2 z·e_k four codes at a time, with the sums kept in registers across the
/// M coordinates, then the first argmin. `et` is the codebook transposed
/// (M × K, row-major), `norms` the ‖e_k‖², `scores` a K-long scratch.
// Index loops over fixed-size M × M and M arrays read as the formulas do.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub fn nearest_row<const M: usize>(
    z: &[f64; M],
    et: &[f64],
    norms: &[f64],
    scores: &mut [f64],
    k: usize,
) -> usize {
    let mut coef = [0.0; M];
    for j in 0..M {
        coef[j] = -2.0 * z[j];
    }
    let full = k - k % 4;
    let mut c = 0;
    while c < full {
        let mut acc = [norms[c], norms[c + 1], norms[c + 2], norms[c + 3]];
        for j in 0..M {
            let e = &et[j * k + c..j * k + c + 4];
            for l in 0..4 {
                acc[l] = coef[j].mul_add(e[l], acc[l]);
            }
        }
        scores[c..c + 4].copy_from_slice(&acc);
        c += 4;
    }
    for c in full..k {
        let mut acc = norms[c];
        for j in 0..M {
            acc = coef[j].mul_add(et[j * k + c], acc);
        }
        scores[c] = acc;
    }
    argmin_first(&scores[..k])
}

/// Index of the smallest value, the first on ties. Four independent lanes
/// (value and index each; a single running minimum is one long dependency
/// chain), combined at the end preferring the lower index on equal values.
// Index loops over fixed-size M × M and M arrays read as the formulas do.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
fn argmin_first(values: &[f64]) -> usize {
    let mut best = [f64::INFINITY; 4];
    let mut at = [0usize; 4];
    let full = values.len() - values.len() % 4;
    for c in (0..full).step_by(4) {
        for l in 0..4 {
            let v = values[c + l];
            let better = v < best[l];
            best[l] = if better { v } else { best[l] };
            at[l] = if better { c + l } else { at[l] };
        }
    }
    let (mut min, mut min_at) = (f64::INFINITY, 0usize);
    for l in 0..4 {
        if best[l] < min || (best[l] == min && at[l] < min_at) {
            min = best[l];
            min_at = at[l];
        }
    }
    for (i, &v) in values.iter().enumerate().skip(full) {
        if v < min {
            min = v;
            min_at = i;
        }
    }
    min_at
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
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::rng::{rng_for, Stream};
    use ndarray::array;

    #[test]
    fn nearest_with_ties_to_lowest_index() {
        let codes = array![[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]];
        let z = array![[1.9, 0.1], [1.0, 0.0], [0.1, 2.0]];
        assert_eq!(nearest_codes(z.view(), codes.view()), vec![1, 0, 2]);
    }

    #[test]
    fn agrees_with_a_brute_force_search() {
        for m in [5, 12] {
            brute_force_check(m);
        }
    }

    fn brute_force_check(m: usize) {
        let mut rng = rng_for(3, Stream::Harness);
        let z = gaussian_matrix(500, m, &mut rng);
        let codes = gaussian_matrix(40, m, &mut rng);
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
