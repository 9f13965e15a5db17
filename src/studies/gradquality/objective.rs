//! The expected reconstruction error J(θ) = E‖x − dec(q(enc(x)))‖² of any
//! model, its directional derivatives by central differences with common
//! random numbers (the same rows on both sides) and their standard errors,
//! and the tied model's closed-form gradient (docs/TRUE-GRADIENT.md).
use ndarray::{Array1, Array2, ArrayView2, Axis};

use crate::error::Result;
use crate::model::{Manifold, Params};
use crate::numerics::quantize::nearest_codes;
use crate::optim::stiefel::{polar, riemannian_gradient, SvdSource};

/// A mean over rows with its standard error.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Estimate {
    /// The mean.
    pub value: f64,
    /// Its standard error (sample standard deviation / √N).
    pub std_error: f64,
    /// Rows.
    pub rows: usize,
}

/// The mean and standard error of `values`.
pub fn mean_with_error(values: impl ExactSizeIterator<Item = f64> + Clone) -> Estimate {
    let n = values.len();
    let mean = values.clone().sum::<f64>() / n as f64;
    let var = if n > 1 {
        values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Estimate {
        value: mean,
        std_error: (var / n as f64).sqrt(),
        rows: n,
    }
}

/// The central difference (J(θ + h d) − J(θ − h d))/(2h) from the per-row
/// losses on both sides (the same rows: common random numbers), with the
/// standard error of the per-row differences.
///
/// ```
/// use vqlab::studies::gradquality::objective::central_difference;
/// let est = central_difference(&[3.0, 5.0], &[1.0, 1.0], 0.5);
/// assert_eq!(est.value, 3.0); // ((3 − 1) + (5 − 1)) / 2 / (2 · 0.5)
/// ```
pub fn central_difference(plus: &[f64], minus: &[f64], h: f64) -> Estimate {
    assert_eq!(plus.len(), minus.len(), "the same rows on both sides");
    mean_with_error(
        plus.iter()
            .zip(minus)
            .map(|(p, m)| (p - m) / (2.0 * h))
            .collect::<Vec<_>>()
            .into_iter(),
    )
}

/// ‖x − dec(q(enc(x)))‖² of every row of `x`, q the nearest code.
pub fn row_losses(params: &Params, x: ArrayView2<f64>) -> Array1<f64> {
    let model = params.model.kind.model();
    let z = model.encode(params, x);
    let assignments = nearest_codes(z.view(), params.codebook.view());
    let q = params.codebook.select(Axis(0), &assignments);
    let x_hat = model.decode(params, q.view());
    (&x - &x_hat).map_axis(Axis(1), |r| r.iter().map(|v| v * v).sum())
}

/// A direction in parameter space: one matrix per network parameter and one
/// for the codebook (zeros where a block does not move). On a Stiefel
/// parameter it is taken in the tangent space.
#[derive(Debug, Clone)]
pub struct Direction {
    /// Per network parameter.
    pub weights: Vec<Array2<f64>>,
    /// The codebook's.
    pub codebook: Array2<f64>,
}

impl Direction {
    /// ⟨self, other⟩ summed over every block.
    pub fn dot(&self, weights: &[Array2<f64>], codebook: &Array2<f64>) -> f64 {
        let block =
            |a: &Array2<f64>, b: &Array2<f64>| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
        self.weights
            .iter()
            .zip(weights)
            .map(|(a, b)| block(a, b))
            .sum::<f64>()
            + block(&self.codebook, codebook)
    }
}

/// The parameters moved by `t` along `d`: Euclidean blocks by θ + t d,
/// Stiefel blocks by the polar retraction of W + t d (a curve on the
/// manifold whose velocity at t = 0 is d when d is tangent).
pub fn moved(params: &Params, d: &Direction, t: f64) -> Result<Params> {
    let model = params.model.kind.model();
    let mut out = params.clone();
    for (i, (w, dw)) in out.weights.iter_mut().zip(&d.weights).enumerate() {
        w.scaled_add(t, dw);
        if model.manifold_of(i) == Manifold::Stiefel {
            *w = polar(w.view(), SvdSource::Lapack)?;
        }
    }
    out.codebook.scaled_add(t, &d.codebook);
    Ok(out)
}

/// The directional derivative of J along `d` by a central difference of
/// step `h` on the rows `x` (both sides on the same rows).
pub fn directional_derivative(
    params: &Params,
    x: ArrayView2<f64>,
    d: &Direction,
    h: f64,
) -> Result<Estimate> {
    let plus = row_losses(&moved(params, d, h)?, x);
    let minus = row_losses(&moved(params, d, -h)?, x);
    Ok(central_difference(
        plus.as_slice().expect("contiguous"),
        minus.as_slice().expect("contiguous"),
        h,
    ))
}

/// The tied model's true gradient on the rows `x`: with W orthonormal,
/// ‖x − W e‖² = ‖x‖² − ‖z‖² + ‖z − e‖² (z = Wᵀx) is continuous across the
/// Voronoi boundaries, so the gradient of the mean loss is the mean of the
/// fixed-assignment gradient: Riemannian P_W(−2 (x − W e_a) e_aᵀ) for W and
/// 2 (e_k − z) summed over code k's rows for E, both divided by N.
pub fn tied_gradient(params: &Params, x: ArrayView2<f64>) -> (Array2<f64>, Array2<f64>) {
    let w = &params.weights[0];
    let n = x.nrows() as f64;
    let z = x.dot(w);
    let assignments = nearest_codes(z.view(), params.codebook.view());
    let q = params.codebook.select(Axis(0), &assignments);
    let residual = &x - &q.dot(&w.t());
    let euclidean = residual.t().dot(&q) * (-2.0 / n);
    let grad_w = riemannian_gradient(w.view(), euclidean.view());
    let mut grad_e = Array2::zeros(params.codebook.raw_dim());
    for (row, &a) in assignments.iter().enumerate() {
        let mut g = grad_e.row_mut(a);
        g.scaled_add(2.0 / n, &(&q.row(row) - &z.row(row)));
    }
    (grad_w, grad_e)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::data::Dataset;
    use crate::data::SyntheticSpec;
    use crate::numerics::linalg::gaussian_matrix;
    use crate::numerics::rng::{rng_for, Stream};
    use crate::train::{initial_params, TrainConfig};

    /// The exp-1 configuration's start (PCA + Lloyd) and a random tangent
    /// direction in (W, E).
    pub(in crate::studies::gradquality) fn exp1() -> (Params, Direction, Dataset) {
        let data =
            Dataset::synthetic(&SyntheticSpec::report_default(), 20_000, 200_000, 0).unwrap();
        let config = TrainConfig::report_default()
            .check(data.train.nrows(), data.dim())
            .unwrap();
        let params = initial_params(data.train.view(), &config).unwrap();
        let mut rng = rng_for(9, Stream::Harness);
        let w = &params.weights[0];
        let raw = gaussian_matrix(w.nrows(), w.ncols(), &mut rng);
        let d = Direction {
            weights: vec![riemannian_gradient(w.view(), raw.view())],
            codebook: gaussian_matrix(params.codebook.nrows(), params.codebook.ncols(), &mut rng),
        };
        (params, d, data)
    }

    /// The exp-1 start (PCA + Lloyd, or PyTorch's initialisation for the
    /// mlp) of `model` on [`exp1`]'s data, with its checked configuration.
    pub(in crate::studies::gradquality) fn exp1_start(
        model: crate::model::ModelKind,
    ) -> (Params, crate::train::ValidTrainConfig, Dataset) {
        let (_, _, data) = exp1();
        let config = TrainConfig {
            model: crate::model::ModelSpec::of(model),
            ..TrainConfig::report_default()
        }
        .check(data.train.nrows(), data.dim())
        .unwrap();
        let params = initial_params(data.train.view(), &config).unwrap();
        (params, config, data)
    }

    #[test]
    fn the_tied_closed_form_is_the_derivative_of_the_sample_mean() {
        // On the same rows J_N is continuous and piecewise smooth, so the
        // central difference equals the closed form up to O(h²) and the
        // rows whose kink (a Voronoi boundary) lies within ±h: a small h.
        let (params, d, data) = exp1();
        let x = data.train.view();
        let (gw, ge) = tied_gradient(&params, x);
        let exact = d.dot(&[gw], &ge);
        let fd = directional_derivative(&params, x, &d, 1e-7).unwrap();
        assert!(
            (fd.value - exact).abs() < 1e-6 * exact.abs(),
            "{} vs {exact}",
            fd.value
        );
    }

    #[test]
    fn the_tied_closed_form_on_one_sample_predicts_the_derivative_on_another() {
        // Two disjoint halves of 200,000 fresh rows (the start was fitted
        // on the training rows, where Lloyd's fixed point zeroes the
        // codebook part in-sample): the closed form on one half and the
        // central difference on the other estimate the same directional
        // derivative of J, each with its own standard error.
        let (params, d, data) = exp1();
        let half = data.eval.nrows() / 2;
        let (first, second) = (
            data.eval.slice(ndarray::s![..half, ..]),
            data.eval.slice(ndarray::s![half.., ..]),
        );
        let (gw, ge) = tied_gradient(&params, first);
        let predicted = d.dot(&[gw], &ge);
        // On its own rows the closed form is the central difference (the
        // same value, and so the same standard error).
        let own = directional_derivative(&params, first, &d, 1e-7).unwrap();
        assert!(
            (own.value - predicted).abs() < 1e-6 * predicted.abs(),
            "{} vs {predicted}",
            own.value
        );
        let other = directional_derivative(&params, second, &d, 1e-7).unwrap();
        let se = (own.std_error.powi(2) + other.std_error.powi(2)).sqrt();
        assert!(
            (other.value - predicted).abs() < 3.0 * se,
            "{} vs {predicted} ± {se}",
            other.value
        );
    }
}
