//! Small linear-algebra helpers shared by the data generator, the baseline and
//! the trainers.
use ndarray::{Array2, ArrayView2};
use ndarray_linalg::{JobSvd, QR, SVDDC};
use rand::Rng;
use rand_distr::StandardNormal;

use crate::error::{Result, VqError};

/// A matrix of independent N(0, 1) entries.
pub fn gaussian_matrix<R: Rng + ?Sized>(rows: usize, cols: usize, rng: &mut R) -> Array2<f64> {
    Array2::from_shape_simple_fn((rows, cols), || rng.sample(StandardNormal))
}

/// A Haar-random `rows × cols` matrix with orthonormal columns (a point on
/// the Stiefel manifold): QR of a Gaussian matrix with the signs of R's
/// diagonal moved into Q.
pub fn random_stiefel<R: Rng + ?Sized>(
    rows: usize,
    cols: usize,
    rng: &mut R,
) -> Result<Array2<f64>> {
    if cols > rows {
        return Err(VqError::Shape(format!(
            "a {rows}x{cols} matrix cannot have orthonormal columns"
        )));
    }
    let g = gaussian_matrix(rows, cols, rng);
    let (mut q, r) = g.qr()?;
    for j in 0..cols {
        if r[[j, j]] < 0.0 {
            q.column_mut(j).mapv_inplace(|v| -v);
        }
    }
    Ok(q)
}

/// The orthonormal factor of the polar decomposition, `U Vᵀ` from the thin
/// SVD `A = U Σ Vᵀ`, computed with LAPACK (ndarray-linalg).
pub fn polar_lapack(a: ArrayView2<f64>) -> Result<Array2<f64>> {
    let (u, _s, vt) = a.to_owned().svddc(JobSvd::Some)?;
    let (u, vt) = (
        u.ok_or_else(|| VqError::Linalg("SVD returned no U".into()))?,
        vt.ok_or_else(|| VqError::Linalg("SVD returned no Vᵀ".into()))?,
    );
    Ok(u.dot(&vt))
}

/// ‖WᵀW − I‖_max: how far `w` is from having orthonormal columns.
///
/// Computed entry by entry (no WᵀW matrix), so the training loop can check it
/// every step without allocating.
pub fn stiefel_defect(w: ArrayView2<f64>) -> f64 {
    let m = w.ncols();
    let mut worst = 0.0f64;
    for i in 0..m {
        for j in i..m {
            let dot: f64 = w
                .column(i)
                .iter()
                .zip(w.column(j).iter())
                .map(|(a, b)| a * b)
                .sum();
            let target = if i == j { 1.0 } else { 0.0 };
            worst = worst.max((dot - target).abs());
        }
    }
    worst
}

/// The largest principal angle (radians) between the column spans of two
/// matrices with orthonormal columns.
pub fn largest_principal_angle(a: ArrayView2<f64>, b: ArrayView2<f64>) -> Result<f64> {
    let m = a.t().dot(&b);
    let (_, s, _) = m.svddc(JobSvd::None)?;
    let smallest = s
        .iter()
        .cloned()
        .fold(f64::INFINITY, f64::min)
        .clamp(-1.0, 1.0);
    Ok(smallest.acos())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::rng::{rng_for, Stream};

    #[test]
    fn random_stiefel_is_orthonormal() {
        let mut rng = rng_for(1, Stream::Init);
        let w = random_stiefel(64, 6, &mut rng).unwrap();
        assert!(stiefel_defect(w.view()) < 1e-13);
        assert!(random_stiefel(3, 4, &mut rng).is_err());
    }

    #[test]
    fn polar_of_a_stiefel_matrix_is_itself() {
        let mut rng = rng_for(2, Stream::Init);
        let w = random_stiefel(10, 3, &mut rng).unwrap();
        let p = polar_lapack((&w * 2.5).view()).unwrap();
        assert!((&p - &w).iter().all(|v| v.abs() < 1e-13));
    }
}
