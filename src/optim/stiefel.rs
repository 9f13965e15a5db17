//! The Stiefel geometry every optimizer uses, written once: for W (D × m,
//! WᵀW = I) and a matrix G,
//! 1. project: ξ = G − W sym(WᵀG), sym(A) = (A + Aᵀ)/2, the projection of G
//!    onto the tangent space at W ([`riemannian_gradient`], and in reused
//!    buffers `StiefelWorkspace::project`);
//! 2. retract: W ← polar(W − η d) = U Vᵀ from the thin SVD U Σ Vᵀ of
//!    W − η d ([`polar`], [`PolarWorkspace`]).
use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};
use tch::Device;

use crate::error::Result;
use crate::infra::torch_bridge::{to_array2, to_tensor};
use crate::numerics::linalg::polar_lapack;

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

/// The polar factor by LAPACK `dgesdd` with a workspace kept between calls:
/// after the first call of a shape, no allocation.
///
/// The row-major D × m buffer of A is, read column-major, the m × D matrix
/// Aᵀ = U' Σ V'ᵀ; polar(Aᵀ) = U' V'ᵀ stored column-major is exactly the
/// row-major buffer of polar(A) = (U' V'ᵀ)ᵀ.
#[derive(Default)]
pub struct PolarWorkspace {
    shape: (usize, usize),
    scratch: Vec<f64>,
    svd: Option<lax::svddc::SvdDcWork<f64>>,
}

impl std::fmt::Debug for PolarWorkspace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PolarWorkspace")
            .field("shape", &self.shape)
            .finish()
    }
}

impl PolarWorkspace {
    /// Writes polar(`a`) into `out` (same shape as `a`, standard layout).
    pub fn polar_into(&mut self, a: ArrayView2<f64>, out: &mut Array2<f64>) -> Result<()> {
        use lax::svddc::SvdDcWorkImpl;
        let (d, m) = a.dim();
        if self.shape != (d, m) || self.svd.is_none() {
            let layout = lax::layout::MatrixLayout::F {
                col: d as i32,
                lda: m as i32,
            };
            self.svd = Some(
                lax::svddc::SvdDcWork::<f64>::new(layout, lax::JobSvd::Some)
                    .map_err(|e| crate::VqError::Linalg(e.to_string()))?,
            );
            self.scratch = vec![0.0; d * m];
            self.shape = (d, m);
        }
        if out.dim() != (d, m) || !out.is_standard_layout() {
            *out = Array2::zeros((d, m));
        }
        for (dst, src) in self.scratch.iter_mut().zip(a.iter()) {
            *dst = *src; // a.iter() walks row-major: the layout LAPACK reads as Aᵀ
        }
        let svd = self.svd.as_mut().expect("initialised above");
        let result = svd
            .calc(&mut self.scratch)
            .map_err(|e| crate::VqError::Linalg(e.to_string()))?;
        let (u, vt) = (
            result
                .u
                .ok_or_else(|| crate::VqError::Linalg("SVD returned no U".into()))?,
            result
                .vt
                .ok_or_else(|| crate::VqError::Linalg("SVD returned no Vᵀ".into()))?,
        );
        // out[i·m + j] = Σ_l U'(j, l) V'ᵀ(l, i), both column-major with leading dimension m.
        let out_slice = out.as_slice_mut().expect("standard layout");
        for i in 0..d {
            for j in 0..m {
                let mut acc = 0.0;
                for l in 0..m {
                    acc += u[j + l * m] * vt[l + i * m];
                }
                out_slice[i * m + j] = acc;
            }
        }
        Ok(())
    }
}

/// Buffers of the update, reused across steps (one set per Stiefel
/// parameter).
#[derive(Debug, Default)]
pub struct UpdateWorkspace {
    pub(crate) stiefel: Vec<StiefelWorkspace>,
}

#[derive(Debug, Default)]
pub(crate) struct StiefelWorkspace {
    wtg: Array2<f64>,
    sym: Array2<f64>,
    moved: Array2<f64>,
    polar: PolarWorkspace,
}

impl StiefelWorkspace {
    fn fit(&mut self, d: usize, m: usize) {
        if self.wtg.dim() != (m, m) {
            self.wtg = Array2::zeros((m, m));
            self.sym = Array2::zeros((m, m));
        }
        if self.moved.dim() != (d, m) {
            self.moved = Array2::zeros((d, m));
        }
    }

    /// self.sym ← sym(Wᵀa) = (Wᵀa + aᵀW)/2.
    fn sym_of(&mut self, w: &Array2<f64>, a: &Array2<f64>) {
        let (d, m) = w.dim();
        self.fit(d, m);
        ndarray::linalg::general_mat_mul(1.0, &w.t(), a, 0.0, &mut self.wtg);
        for i in 0..m {
            for j in 0..m {
                self.sym[[i, j]] = 0.5 * (self.wtg[[i, j]] + self.wtg[[j, i]]);
            }
        }
    }

    /// W ← polar(self.moved), the retraction's last step.
    fn polar_of_moved(&mut self, w: &mut Array2<f64>, svd: SvdSource) -> Result<()> {
        match svd {
            SvdSource::Lapack => self.polar.polar_into(self.moved.view(), w),
            SvdSource::Torch => {
                *w = polar(self.moved.view(), SvdSource::Torch)?;
                Ok(())
            }
        }
    }

    /// out ← a − W sym(Wᵀa): the projection of `a` onto the tangent space
    /// at W (`out` may not alias `a`).
    pub(crate) fn project(&mut self, w: &Array2<f64>, a: &Array2<f64>, out: &mut Array2<f64>) {
        self.sym_of(w, a);
        out.assign(a);
        ndarray::linalg::general_mat_mul(-1.0, w, &self.sym, 1.0, out);
    }

    /// W ← polar(W − η d) for a direction `d` (any D × m matrix).
    pub(crate) fn retract(
        &mut self,
        w: &mut Array2<f64>,
        lr: f64,
        direction: &Array2<f64>,
        svd: SvdSource,
    ) -> Result<()> {
        let (d, m) = w.dim();
        self.fit(d, m);
        self.moved.assign(w);
        self.moved.scaled_add(-lr, direction);
        self.polar_of_moved(w, svd)
    }

    /// The SGD step W ← polar(W − η ξ), ξ = G − W sym(WᵀG): the projection
    /// and the retraction fused, as (W − η G) + η W sym(WᵀG), so that ξ is
    /// never formed (the report's update, in its original summation order).
    pub(crate) fn sgd_step(
        &mut self,
        w: &mut Array2<f64>,
        lr: f64,
        grad: &Array2<f64>,
        svd: SvdSource,
    ) -> Result<()> {
        self.sym_of(w, grad);
        self.moved.assign(w);
        self.moved.scaled_add(-lr, grad);
        ndarray::linalg::general_mat_mul(lr, &*w, &self.sym, 1.0, &mut self.moved);
        self.polar_of_moved(w, svd)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::linalg::{gaussian_matrix, random_stiefel, stiefel_defect};
    use crate::numerics::rng::{rng_for, Stream};

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
    fn workspace_polar_matches_ndarray_linalg() {
        let mut rng = rng_for(3, Stream::Harness);
        let mut ws = PolarWorkspace::default();
        let mut out = Array2::zeros((0, 0));
        for (d, m) in [(64, 4), (7, 7), (30, 3), (64, 4)] {
            let a = gaussian_matrix(d, m, &mut rng);
            ws.polar_into(a.view(), &mut out).unwrap();
            let reference = polar_lapack(a.view()).unwrap();
            assert!(
                (&out - &reference).iter().all(|v| v.abs() < 1e-13),
                "{d}x{m}"
            );
        }
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
