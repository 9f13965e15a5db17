//! Nearest-code search: a = argmin_k ‖z − e_k‖², ties to the lowest k.
use ndarray::ArrayView2;

/// Writes into `out[b]` the index of the code nearest to row b of `z`.
///
/// Distances are computed directly as Σ_j (z_j − e_kj)², summed in coordinate
/// order, so both backends can reproduce them bit for bit; a strict `<` keeps
/// the lowest index on ties. Returns the sum over rows of the squared distance
/// to the chosen code.
pub fn assign_nearest(z: ArrayView2<f64>, codebook: ArrayView2<f64>, out: &mut [usize]) -> f64 {
    assert_eq!(z.ncols(), codebook.ncols(), "code dimension mismatch");
    assert_eq!(z.nrows(), out.len(), "one assignment per row");
    let mut total = 0.0;
    for (row, slot) in z.outer_iter().zip(out.iter_mut()) {
        let mut best = f64::INFINITY;
        let mut best_k = 0;
        for (k, code) in codebook.outer_iter().enumerate() {
            let mut dist = 0.0;
            for (a, b) in row.iter().zip(code.iter()) {
                let d = a - b;
                dist += d * d;
            }
            if dist < best {
                best = dist;
                best_k = k;
            }
        }
        *slot = best_k;
        total += best;
    }
    total
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
    use ndarray::array;

    #[test]
    fn nearest_with_ties_to_lowest_index() {
        let codes = array![[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]];
        let z = array![[1.9, 0.1], [1.0, 0.0], [0.1, 2.0]];
        assert_eq!(nearest_codes(z.view(), codes.view()), vec![1, 0, 2]);
    }
}
