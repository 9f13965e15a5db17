//! The update, shared by every method: Riemannian SGD on W (Stiefel manifold,
//! polar retraction) and plain SGD on E.
//!
//! 1. ξ = G − W sym(WᵀG), sym(A) = (A + Aᵀ)/2 (projection of the Euclidean
//!    gradient G onto the tangent space at W);
//! 2. W ← polar(W − η_W ξ) = U Vᵀ from the thin SVD U Σ Vᵀ;
//! 3. E ← E − η_E H.
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use tch::Device;

use super::{Gradients, Params};
use crate::error::Result;
use crate::linalg::polar_lapack;
use crate::torch_bridge::{to_array2, to_tensor};

/// Which library computes the SVD of the polar retraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SvdSource {
    /// LAPACK (`gesdd`) through ndarray-linalg / OpenBLAS.
    Lapack,
    /// libtorch's SVD.
    Torch,
}

/// ξ = G − W sym(WᵀG): the Riemannian gradient on the Stiefel manifold.
pub fn riemannian_gradient(w: ArrayView2<f64>, euclidean: ArrayView2<f64>) -> Array2<f64> {
    let wtg = w.t().dot(&euclidean);
    let sym = (&wtg + &wtg.t()) * 0.5;
    let mut xi = euclidean.to_owned();
    ndarray::linalg::general_mat_mul(-1.0, &w, &sym, 1.0, &mut xi);
    xi
}

/// The orthonormal polar factor U Vᵀ of `a`, from the chosen SVD.
pub fn polar(a: ArrayView2<f64>, source: SvdSource) -> Result<Array2<f64>> {
    match source {
        SvdSource::Lapack => polar_lapack(a),
        SvdSource::Torch => {
            let t = to_tensor(a, Device::Cpu);
            let (u, _s, v) = t.f_svd(true, true)?;
            to_array2(&u.matmul(&v.tr()))
        }
    }
}

/// Learning rates of the shared update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiemannianSgd {
    /// η_W.
    pub lr_w: f64,
    /// η_E.
    pub lr_e: f64,
}

impl RiemannianSgd {
    /// Applies `grads` to `params` in place.
    pub fn step(&self, params: &mut Params, grads: &Gradients, svd: SvdSource) -> Result<()> {
        let xi = riemannian_gradient(params.w.view(), grads.grad_w.view());
        let mut moved = params.w.clone();
        moved.scaled_add(-self.lr_w, &xi);
        params.w = polar(moved.view(), svd)?;
        params.codebook.scaled_add(-self.lr_e, &grads.grad_e);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::linalg::{gaussian_matrix, random_stiefel, stiefel_defect};
    use crate::rng::{rng_for, Stream};

    #[test]
    fn riemannian_gradient_is_tangent() {
        let mut rng = rng_for(1, Stream::Harness);
        let w = random_stiefel(20, 4, &mut rng).unwrap();
        let g = gaussian_matrix(20, 4, &mut rng);
        let xi = riemannian_gradient(w.view(), g.view());
        // Tangent vectors at W satisfy Wᵀξ + ξᵀW = 0.
        let wt_xi = w.t().dot(&xi);
        let skew = &wt_xi + &wt_xi.t();
        assert!(skew.iter().all(|v| v.abs() < 1e-13));
        // And a tangent G is left unchanged.
        let xi2 = riemannian_gradient(w.view(), xi.view());
        assert!((&xi2 - &xi).iter().all(|v| v.abs() < 1e-13));
    }

    #[test]
    fn both_svds_give_the_same_polar_factor() {
        let mut rng = rng_for(2, Stream::Harness);
        let a = gaussian_matrix(64, 4, &mut rng);
        let p1 = polar(a.view(), SvdSource::Lapack).unwrap();
        let p2 = polar(a.view(), SvdSource::Torch).unwrap();
        assert!(stiefel_defect(p1.view()) < 1e-14);
        assert!((&p1 - &p2).iter().all(|v| v.abs() < 1e-12));
    }
}
