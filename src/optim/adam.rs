//! Adam (Kingma & Ba 2015) on Euclidean parameters and on E, Riemannian
//! Adam on Stiefel parameters (Bécigneul & Ganea 2019, as geoopt's
//! `RiemannianAdam`): the step of [`Optimizer`] when its kind is Adam.
use ndarray::Array2;

use super::stiefel::{StiefelWorkspace, SvdSource};
use super::{Optimizer, OptimizerSpec};
use crate::error::Result;
use crate::model::{Gradients, Manifold, Params};

/// Adam's moments of one parameter.
#[derive(Debug, Clone, Default)]
pub(super) struct Moments {
    first: Array2<f64>,
    second: Array2<f64>,
    tangent: Array2<f64>,
    direction: Array2<f64>,
}

impl Moments {
    fn fit(&mut self, shape: (usize, usize)) {
        for a in [
            &mut self.first,
            &mut self.second,
            &mut self.tangent,
            &mut self.direction,
        ] {
            crate::model::fit_buffer(a, shape);
        }
    }

    /// Updates the moments with `grad` and writes the step direction
    /// m̂/(√v̂ + ε) for step `t` (1-based).
    fn advance(&mut self, grad: &Array2<f64>, spec: &OptimizerSpec, t: i32) {
        let (b1, b2) = (spec.beta1, spec.beta2);
        let (c1, c2) = (1.0 - b1.powi(t), 1.0 - b2.powi(t));
        ndarray::Zip::from(&mut self.first)
            .and(&mut self.second)
            .and(&mut self.direction)
            .and(grad)
            .for_each(|m, v, d, &g| {
                *m = b1 * *m + (1.0 - b1) * g;
                *v = b2 * *v + (1.0 - b2) * g * g;
                *d = (*m / c1) / ((*v / c2).sqrt() + spec.eps);
            });
    }
}

impl Optimizer {
    pub(super) fn adam_step(
        &mut self,
        params: &mut Params,
        grads: &Gradients,
        svd: SvdSource,
        lr_w: f64,
        lr_e: f64,
        update_codebook: bool,
    ) -> Result<()> {
        let n = params.weights.len();
        if self.moments.len() != n + 1 {
            self.moments.resize_with(n + 1, Moments::default);
        }
        if self.work.stiefel.len() != n {
            self.work.stiefel.resize_with(n, StiefelWorkspace::default);
        }
        let t = i32::try_from(self.taken).unwrap_or(i32::MAX);
        let spec = self.spec;
        let model = params.model;
        for (i, (w, g)) in params
            .weights
            .iter_mut()
            .zip(&grads.grad_weights)
            .enumerate()
        {
            let moments = &mut self.moments[i];
            moments.fit(w.dim());
            match model.manifold_of(i) {
                Manifold::Euclidean => {
                    moments.advance(g, &spec, t);
                    w.scaled_add(-lr_w, &moments.direction);
                }
                Manifold::Stiefel => {
                    let work = &mut self.work.stiefel[i];
                    // ξ, the moments of ξ, the step, then m moved to the new
                    // tangent space.
                    let mut xi = std::mem::take(&mut moments.tangent);
                    work.project(w, g, &mut xi);
                    moments.advance(&xi, &spec, t);
                    work.retract(w, lr_w, &moments.direction, svd)?;
                    work.project(w, &moments.first, &mut xi);
                    std::mem::swap(&mut moments.first, &mut xi);
                    moments.tangent = xi;
                }
            }
        }
        if update_codebook {
            let moments = &mut self.moments[n];
            moments.fit(params.codebook.dim());
            moments.advance(&grads.grad_e, &spec, t);
            params.codebook.scaled_add(-lr_e, &moments.direction);
        }
        Ok(())
    }
}
