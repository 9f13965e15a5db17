//! Principal component analysis by the symmetric eigendecomposition (LAPACK
//! `syevd` through ndarray-linalg's `eigh`) of the second-moment matrix.
use ndarray::{s, Array1, Array2, ArrayView2};
use ndarray_linalg::{Eigh, UPLO};

use crate::error::{invalid, Result};

/// The top-m principal directions of a data set.
#[derive(Debug, Clone)]
pub struct Pca {
    /// D × m, orthonormal columns, by decreasing eigenvalue. Each column's
    /// sign is fixed so that its largest-magnitude entry is positive.
    pub components: Array2<f64>,
    /// All D eigenvalues of XᵀX/N, largest first.
    pub eigenvalues: Array1<f64>,
}

/// What PCA in dimension `d` allocates: the D × D second-moment matrix, its
/// eigenvectors and LAPACK's workspace (about three D × D matrices).
pub fn pca_bytes(d: usize) -> u64 {
    3u64.saturating_mul(d as u64)
        .saturating_mul(d as u64)
        .saturating_mul(8)
}

impl Pca {
    /// Fits the top-`m` directions of `x` (N × D). The data are used as given
    /// (XᵀX/N): centre them first if they do not have mean zero (see
    /// [`crate::data::Dataset::center_by_train_mean`]).
    pub fn fit(x: ArrayView2<f64>, m: usize) -> Result<Self> {
        let (n, d) = x.dim();
        if m == 0 || m > d {
            return Err(invalid(
                "m",
                m,
                format!("between 1 and the dimension D = {d}"),
            ));
        }
        if n == 0 {
            return Err(invalid("n_train", n, "at least 1"));
        }
        crate::infra::alloc::check_memory(pca_bytes(d), &format!("PCA in dimension D = {d}"))?;
        let second_moment = x.t().dot(&x) / n as f64;
        let (values, vectors) = second_moment.eigh(UPLO::Lower)?;
        // eigh returns ascending order; take the last m, largest first.
        let mut components = Array2::zeros((d, m));
        for j in 0..m {
            let src = d - 1 - j;
            let mut col = vectors.column(src).to_owned();
            let pivot = col
                .iter()
                .copied()
                .fold(0.0f64, |acc, v| if v.abs() > acc.abs() { v } else { acc });
            if pivot < 0.0 {
                col.mapv_inplace(|v| -v);
            }
            components.column_mut(j).assign(&col);
        }
        let eigenvalues = values.slice(s![..;-1]).to_owned();
        Ok(Pca {
            components,
            eigenvalues,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{SyntheticGenerator, SyntheticSpec};
    use crate::numerics::linalg::{largest_principal_angle, stiefel_defect};
    use crate::numerics::rng::{rng_for, Stream};

    #[test]
    fn recovers_a_planted_subspace_at_high_snr() {
        let spec = SyntheticSpec {
            dim: 32,
            spectrum: vec![3.0, 2.5, 2.0, 1.5],
            noise_sigma: 0.05,
            latent: Default::default(),
        };
        let generator = SyntheticGenerator::new(&spec, &mut rng_for(5, Stream::Subspace)).unwrap();
        let x = generator.sample(5_000, &mut rng_for(5, Stream::TrainData));
        let pca = Pca::fit(x.view(), 4).unwrap();
        assert!(stiefel_defect(pca.components.view()) < 1e-12);
        let angle = largest_principal_angle(pca.components.view(), generator.basis.view()).unwrap();
        assert!(angle < 0.01, "largest principal angle {angle} rad");
        // Eigenvalues near s_i² + σ², largest first.
        assert!(
            (pca.eigenvalues[0] - 9.0025).abs() / 9.0 < 0.05,
            "{}",
            pca.eigenvalues[0]
        );
        assert!(pca.eigenvalues.windows(2).into_iter().all(|w| w[0] >= w[1]));
        // With fewer directions than planted, the top three lie inside the
        // planted span.
        let pca3 = Pca::fit(x.view(), 3).unwrap();
        let angle3 =
            largest_principal_angle(pca3.components.view(), generator.basis.view()).unwrap();
        assert!(angle3 < 0.01, "largest principal angle {angle3} rad");
    }

    #[test]
    fn bad_m_is_refused() {
        let x = Array2::<f64>::zeros((10, 3));
        assert!(Pca::fit(x.view(), 0)
            .unwrap_err()
            .to_string()
            .contains("m = 0"));
        assert!(Pca::fit(x.view(), 4).is_err());
    }
}
