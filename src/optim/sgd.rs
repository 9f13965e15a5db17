//! Riemannian SGD, the report's update: on a Stiefel parameter W with
//! Euclidean gradient G, W ← polar(W − η_W ξ) with ξ = G − W sym(WᵀG); on a
//! Euclidean network parameter θ ← θ − η_W ∂L/∂θ; on the codebook
//! E ← E − η_E H.
use serde::{Deserialize, Serialize};

use super::stiefel::{StiefelWorkspace, SvdSource, UpdateWorkspace};
use crate::error::Result;
use crate::model::{Gradients, Manifold, Params};

/// Learning rates of the shared update.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RiemannianSgd {
    /// η_W: the rate of every network parameter (Stiefel or Euclidean).
    pub lr_w: f64,
    /// η_E.
    pub lr_e: f64,
}

impl RiemannianSgd {
    /// Applies `grads` to `params` in place.
    pub fn step(&self, params: &mut Params, grads: &Gradients, svd: SvdSource) -> Result<()> {
        self.step_with(params, grads, svd, &mut UpdateWorkspace::default())
    }

    /// Like [`RiemannianSgd::step`] with reused buffers: with
    /// [`SvdSource::Lapack`] it allocates nothing once the buffers exist.
    pub fn step_with(
        &self,
        params: &mut Params,
        grads: &Gradients,
        svd: SvdSource,
        ws: &mut UpdateWorkspace,
    ) -> Result<()> {
        self.step_network(params, grads, svd, ws)?;
        params.codebook.scaled_add(-self.lr_e, &grads.grad_e);
        Ok(())
    }

    /// The network parameters' part of [`RiemannianSgd::step_with`] (the
    /// codebook is left as it is).
    pub fn step_network(
        &self,
        params: &mut Params,
        grads: &Gradients,
        svd: SvdSource,
        ws: &mut UpdateWorkspace,
    ) -> Result<()> {
        let model = params.model;
        if ws.stiefel.len() != params.weights.len() {
            ws.stiefel
                .resize_with(params.weights.len(), StiefelWorkspace::default);
        }
        for (i, ((w, g), work)) in params
            .weights
            .iter_mut()
            .zip(&grads.grad_weights)
            .zip(ws.stiefel.iter_mut())
            .enumerate()
        {
            match model.manifold_of(i) {
                Manifold::Stiefel => work.sgd_step(w, self.lr_w, g, svd)?,
                Manifold::Euclidean => w.scaled_add(-self.lr_w, g),
            }
        }
        Ok(())
    }
}
