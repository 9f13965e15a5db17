//! ∇J on any model, every coordinate, with standard errors
//! (docs/TRUE-GRADIENT.md, "Every coordinate on any model").
//!
//! J(θ) = E ℓ(x; θ) with ℓ = L(x, a(enc(x))) and L(x, k) = ‖x − dec(e_k)‖².
//! Its gradient splits three ways:
//!
//! * **through the decoder** (every network parameter the decoder uses):
//!   the mean fixed-assignment gradient of ‖x − dec(e_a)‖², exact on the
//!   rows (the cells do not depend on the decoder);
//! * **through the encoder**: ℓ depends on z = enc(x) only through the
//!   assignment, a piecewise-constant function of z. Its derivative along
//!   code coordinate j is taken by a central difference in code space,
//!   S_j = (ℓ(z + h u_j) − ℓ(z − h u_j))/(2h), per row, and carried to the
//!   encoder's parameters by the chain rule, E[(∂z/∂θ)ᵀ S] (one backward
//!   pass of the encoder with upstream gradient S). As h → 0 each term tends
//!   to the boundary part of the derivative (the jump in L across a Voronoi
//!   boundary times the density there, times the boundary's velocity), with
//!   an O(h²) bias and a standard error of order 1/√(N h);
//! * **the codebook**: a central difference of the per-row loss along every
//!   coordinate e_kj, with common random numbers (both sides on the same
//!   rows). Moving e_k changes both its reconstruction dec(e_k) (interior)
//!   and its cells (boundary); one O(N) pass per coordinate, from each row's
//!   two nearest codes.
//!
//! A parameter the encoder and decoder share (the tied W) gets both network
//! parts. Stiefel parameters get the Riemannian gradient (the tangent
//! projection of the Euclidean gradient of the same formulas, which extend
//! J off the manifold smoothly). The standard errors: per row for the
//! codebook; for the network parameters from the spread of the gradient over
//! disjoint blocks of rows.
use ndarray::{s, Array1, Array2, ArrayView1, ArrayView2, Axis};
use tch::{Device, Kind, Tensor};

use super::objective::Direction;
use crate::error::{Result, VqError};
use crate::infra::torch_bridge::{to_array2, to_tensor};
use crate::model::{Manifold, Params, Side};
use crate::optim::stiefel::riemannian_gradient;

/// Blocks of rows the network part's standard error is computed over.
pub const ERROR_BLOCKS: usize = 100;

/// ∇J at one point, with the standard error of every coordinate.
#[derive(Debug, Clone)]
pub struct TrueGradient {
    /// ∇J (Riemannian on Stiefel parameters).
    pub gradient: Direction,
    /// The standard error of every coordinate of `gradient` as an estimate
    /// of the population's ∇J.
    pub std_error: Direction,
    /// The standard error of the boundary part alone (through the encoder,
    /// and the codebook's difference beyond its fixed-assignment part): the
    /// noise that remains when ∇J is compared with updates taken on the same
    /// rows, whose interior part it gives exactly.
    pub boundary_error: Direction,
    /// The code-space slopes S of every row ([`code_space_slopes`]), the
    /// per-row terms of the part through the encoder.
    pub slopes: Array2<f64>,
    /// Rows it was estimated on.
    pub rows: usize,
    /// The code-space step h of the central differences.
    pub step: f64,
}

/// L[n, k] = ‖x_n − c_k‖² for every row of `x` and every row c_k of
/// `decoded` (the codes' reconstructions), computed directly (no
/// cancellation).
pub fn per_code_losses(x: ArrayView2<f64>, decoded: ArrayView2<f64>) -> Array2<f64> {
    let mut out = Array2::zeros((x.nrows(), decoded.nrows()));
    for (mut row, xn) in out.outer_iter_mut().zip(x.outer_iter()) {
        for (l, c) in row.iter_mut().zip(decoded.outer_iter()) {
            *l = xn.iter().zip(c).map(|(a, b)| (a - b) * (a - b)).sum();
        }
    }
    out
}

/// d[n, k] = ‖z_n − e_k‖².
fn squared_distances(z: ArrayView2<f64>, codebook: ArrayView2<f64>) -> Array2<f64> {
    per_code_losses(z, codebook)
}

/// The first index of the smallest value of `f(k)` over `0..k`.
fn argmin(k: usize, f: impl Fn(usize) -> f64) -> usize {
    let mut best = (0, f(0));
    for i in 1..k {
        let v = f(i);
        if v < best.1 {
            best = (i, v);
        }
    }
    best.0
}

/// The code-space slopes S (N × m): S_nj = (L[n, a(z_n + h u_j)] −
/// L[n, a(z_n − h u_j)])/(2h), a(·) the nearest code of `codebook`, L the
/// [`per_code_losses`].
///
/// ```
/// use ndarray::array;
/// use vqlab::studies::gradquality::truth::code_space_slopes;
/// // Two codes at −1 and 1; a row at 0.05 is nearest to code 1 when moved
/// // by +0.1 and to code 0 when moved by −0.1: slope (L[1] − L[0]) / 0.2.
/// let s = code_space_slopes(
///     array![[0.05]].view(),
///     array![[-1.0], [1.0]].view(),
///     array![[2.0, 4.0]].view(),
///     0.1,
/// );
/// assert!((s[[0, 0]] - 10.0).abs() < 1e-12);
/// ```
pub fn code_space_slopes(
    z: ArrayView2<f64>,
    codebook: ArrayView2<f64>,
    losses: ArrayView2<f64>,
    h: f64,
) -> Array2<f64> {
    let (n, m) = z.dim();
    let k = codebook.nrows();
    let d = squared_distances(z, codebook);
    let mut slopes = Array2::zeros((n, m));
    for row in 0..n {
        let (zr, dr, lr) = (z.row(row), d.row(row), losses.row(row));
        for j in 0..m {
            // ‖z ± h u_j − e_k‖² = d_k ± 2h (z_j − e_kj) + h²; the h² is
            // common to every code.
            let moved =
                |sign: f64| argmin(k, |c| dr[c] + sign * 2.0 * h * (zr[j] - codebook[[c, j]]));
            slopes[[row, j]] = (lr[moved(1.0)] - lr[moved(-1.0)]) / (2.0 * h);
        }
    }
    slopes
}

/// Every row's nearest and second-nearest code by `d` (K ≥ 2).
fn two_nearest(d: ArrayView2<f64>) -> Vec<(usize, usize)> {
    d.outer_iter()
        .map(|r| {
            let first = argmin(r.len(), |c| r[c]);
            let second = argmin(r.len(), |c| if c == first { f64::INFINITY } else { r[c] });
            (first, second)
        })
        .collect()
}

/// ∂J/∂e_kj for every code coordinate by a central difference of step `h`
/// with common random numbers: its value, its standard error, and the
/// standard error of its boundary part alone (K × m each). The boundary
/// part of a row is its difference minus the fixed-assignment one (the
/// interior part, exact on the rows).
/// `decode` gives a code's reconstruction; `losses` are the
/// [`per_code_losses`] at the unmoved codebook.
pub fn codebook_differences(
    x: ArrayView2<f64>,
    z: ArrayView2<f64>,
    codebook: ArrayView2<f64>,
    losses: ArrayView2<f64>,
    h: f64,
    decode: impl Fn(ArrayView1<f64>) -> Array1<f64>,
) -> [Array2<f64>; 3] {
    let (k, m) = codebook.dim();
    let n = x.nrows();
    let d = squared_distances(z, codebook);
    let nearest = two_nearest(d.view());
    let mut mean = Array2::zeros((k, m));
    let mut std_error = Array2::zeros((k, m));
    let mut boundary_error = Array2::zeros((k, m));
    let mut differences = vec![0.0; n];
    let mut boundary = vec![0.0; n];
    for code in 0..k {
        for j in 0..m {
            // The moved code's reconstruction and losses on both sides.
            let side = |sign: f64| {
                let mut e = codebook.row(code).to_owned();
                e[j] += sign * h;
                let c = decode(e.view());
                let l: Vec<f64> = x
                    .outer_iter()
                    .map(|xn| xn.iter().zip(&c).map(|(a, b)| (a - b) * (a - b)).sum())
                    .collect();
                l
            };
            let (plus, minus) = (side(1.0), side(-1.0));
            for (row, (diff, edge)) in differences.iter_mut().zip(&mut boundary).enumerate() {
                let (first, second) = nearest[row];
                let other = if first == code { second } else { first };
                let loss = |sign: f64, moved: &[f64]| {
                    // ‖z − e_k ∓ h u_j‖² = d_k ∓ 2h (z_j − e_kj) + h².
                    let to_moved = d[[row, code]]
                        - sign * 2.0 * h * (z[[row, j]] - codebook[[code, j]])
                        + h * h;
                    if to_moved <= d[[row, other]] && (to_moved < d[[row, other]] || code < other) {
                        moved[row]
                    } else {
                        losses[[row, other]]
                    }
                };
                *diff = (loss(1.0, &plus) - loss(-1.0, &minus)) / (2.0 * h);
                let interior = if first == code {
                    (plus[row] - minus[row]) / (2.0 * h)
                } else {
                    0.0
                };
                *edge = *diff - interior;
            }
            let est = super::objective::mean_with_error(differences.iter().copied());
            mean[[code, j]] = est.value;
            std_error[[code, j]] = est.std_error;
            boundary_error[[code, j]] =
                super::objective::mean_with_error(boundary.iter().copied()).std_error;
        }
    }
    [mean, std_error, boundary_error]
}

/// ∇J of `params` on the rows `x` with code-space step `h`, every
/// coordinate (see the module's text).
pub fn true_gradient(params: &Params, x: ArrayView2<f64>, h: f64) -> Result<TrueGradient> {
    let n = x.nrows();
    let k = params.codebook.nrows();
    if k < 2 {
        return Err(VqError::Shape(
            "the true gradient needs at least two codes".into(),
        ));
    }
    if n < 2 * ERROR_BLOCKS {
        return Err(crate::error::invalid(
            "rows",
            n.to_string(),
            format!("at least {} (two per error block)", 2 * ERROR_BLOCKS),
        ));
    }
    let model = params.model.kind.model();
    let z = model.encode(params, x);
    let decoded = model.decode(params, params.codebook.view());
    let losses = per_code_losses(x, decoded.view());
    let slopes = code_space_slopes(z.view(), params.codebook.view(), losses.view(), h);
    let assignments = crate::numerics::quantize::nearest_codes(z.view(), params.codebook.view());
    let q = params.codebook.select(Axis(0), &assignments);
    let [network, network_se, network_boundary] = network_part(params, x, slopes.view(), q.view())?;
    let [codebook, codebook_se, codebook_boundary] =
        codebook_differences(x, z.view(), params.codebook.view(), losses.view(), h, |e| {
            let row = e.insert_axis(Axis(0));
            model.decode(params, row).row(0).to_owned()
        });
    Ok(TrueGradient {
        gradient: Direction {
            weights: network,
            codebook,
        },
        std_error: Direction {
            weights: network_se,
            codebook: codebook_se,
        },
        boundary_error: Direction {
            weights: network_boundary,
            codebook: codebook_boundary,
        },
        slopes,
        rows: n,
        step: h,
    })
}

/// The mean of equally sized blocks' values and its standard error (the
/// blocks' spread / √blocks), entry by entry.
pub(crate) fn mean_and_error<'a>(
    blocks: impl ExactSizeIterator<Item = &'a Array2<f64>> + Clone,
) -> (Array2<f64>, Array2<f64>) {
    let count = blocks.len() as f64;
    let first = blocks.clone().next().expect("at least one block");
    let mean = blocks
        .clone()
        .fold(Array2::zeros(first.raw_dim()), |acc, b| acc + b)
        / count;
    let var = blocks.fold(Array2::zeros(first.raw_dim()), |acc, b| {
        acc + (b - &mean).mapv(|v| v * v)
    }) / (count - 1.0);
    let se = var.mapv(|v: f64| (v / count).sqrt());
    (mean, se)
}

/// Per parameter, in the order of `Params::weights`.
pub(crate) type PerParam = Vec<Array2<f64>>;

/// `params`' network parameters as tensors that record gradients.
fn leaves(params: &Params) -> Vec<Tensor> {
    params
        .weights
        .iter()
        .map(|a| to_tensor(a.view(), Device::Cpu).set_requires_grad(true))
        .collect()
}

/// The gradients of `objective` with respect to `w` (the [`leaves`] of
/// `params`), Riemannian on Stiefel parameters; a parameter `objective`
/// does not use gets zeros.
fn gradients_of(params: &Params, w: &[Tensor], objective: Tensor) -> Result<PerParam> {
    let model = params.model.kind.model();
    // Every parameter in the graph (one the objective does not use gets a
    // zero gradient).
    let all = w
        .iter()
        .fold(Tensor::zeros([], (Kind::Double, Device::Cpu)), |acc, t| {
            acc + t.sum(Kind::Double) * 0.0
        });
    Tensor::run_backward(&[objective + all], w, false, false)
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let euclidean = to_array2(g)?;
            Ok(match model.manifold_of(i) {
                Manifold::Stiefel => {
                    riemannian_gradient(params.weights[i].view(), euclidean.view())
                }
                Manifold::Euclidean => euclidean,
            })
        })
        .collect()
}

/// The gradient of `scale` · Σ_n ⟨enc(x_n), upstream_n⟩ with respect to
/// every network parameter: a code-space gradient per row carried to the
/// encoder's parameters by the chain rule (one backward pass; Riemannian on
/// Stiefel parameters, zeros on the decoder's own).
pub(crate) fn encoder_pullback(
    params: &Params,
    x: ArrayView2<f64>,
    upstream: ArrayView2<f64>,
    scale: f64,
) -> Result<PerParam> {
    let model = params.model.kind.model();
    let w = leaves(params);
    let z = model.forward(&params.model, &w, Side::Encode, &to_tensor(x, Device::Cpu));
    let objective = (z * to_tensor(upstream, Device::Cpu)).sum(Kind::Double) * scale;
    gradients_of(params, &w, objective)
}

/// The mean fixed-assignment gradient of ‖x_n − dec(q_n)‖² with respect to
/// every network parameter (zeros on the encoder's own).
fn decoder_part(params: &Params, x: ArrayView2<f64>, q: ArrayView2<f64>) -> Result<PerParam> {
    let model = params.model.kind.model();
    let w = leaves(params);
    let x_hat = model.forward(&params.model, &w, Side::Decode, &to_tensor(q, Device::Cpu));
    let objective = (to_tensor(x, Device::Cpu) - x_hat)
        .square()
        .sum(Kind::Double)
        / x.nrows() as f64;
    gradients_of(params, &w, objective)
}

/// u_n = ∂‖x_n − dec(q)‖²/∂q at q = q_n, per row (N × m): the code-space
/// gradient of the reconstruction at the nearest code, what STE hands the
/// encoder in place of ∂ℓ/∂z.
pub(crate) fn decoder_slopes(
    params: &Params,
    x: ArrayView2<f64>,
    q: ArrayView2<f64>,
) -> Result<Array2<f64>> {
    let model = params.model.kind.model();
    let w: Vec<Tensor> = params
        .weights
        .iter()
        .map(|a| to_tensor(a.view(), Device::Cpu))
        .collect();
    let codes = to_tensor(q, Device::Cpu).set_requires_grad(true);
    let x_hat = model.forward(&params.model, &w, Side::Decode, &codes);
    let loss = (to_tensor(x, Device::Cpu) - x_hat)
        .square()
        .sum(Kind::Double);
    let grads = Tensor::run_backward(&[loss], &[&codes], false, false);
    to_array2(&grads[0])
}

/// The network parameters' part: E[(∂z/∂θ)ᵀ S] + ∂/∂θ mean ‖x − dec(q)‖²
/// (fixed assignments q), by backward passes per block of rows: the mean
/// over blocks, its standard error and the standard error of the part
/// through the encoder alone, Riemannian on Stiefel parameters.
fn network_part(
    params: &Params,
    x: ArrayView2<f64>,
    slopes: ArrayView2<f64>,
    q: ArrayView2<f64>,
) -> Result<[PerParam; 3]> {
    let n = x.nrows();
    // Per block: the whole gradient and the part through the encoder.
    let mut per_block: Vec<(PerParam, PerParam)> = Vec::with_capacity(ERROR_BLOCKS);
    for b in 0..ERROR_BLOCKS {
        let rows = s![b * n / ERROR_BLOCKS..(b + 1) * n / ERROR_BLOCKS, ..];
        let rows_in = (x.slice(rows).nrows()) as f64;
        let encoder = encoder_pullback(params, x.slice(rows), slopes.slice(rows), 1.0 / rows_in)?;
        let decoder = decoder_part(params, x.slice(rows), q.slice(rows))?;
        let total = encoder.iter().zip(&decoder).map(|(a, b)| a + b).collect();
        per_block.push((total, encoder));
    }
    let mut mean = Vec::new();
    let mut std_error = Vec::new();
    let mut boundary_error = Vec::new();
    for i in 0..params.weights.len() {
        let (m, se) = mean_and_error(per_block.iter().map(|b| &b.0[i]));
        mean.push(m);
        std_error.push(se);
        boundary_error.push(mean_and_error(per_block.iter().map(|b| &b.1[i])).1);
    }
    Ok([mean, std_error, boundary_error])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::studies::gradquality::objective::tied_gradient;
    use crate::studies::gradquality::one_dim::tests::AT;
    use ndarray::Array2;
    use rand::SeedableRng;
    use rand_distr::{Distribution, StandardNormal};

    fn normal_rows(n: usize, seed: u64) -> Array2<f64> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        Array2::from_shape_fn((n, 1), |_| StandardNormal.sample(&mut rng))
    }

    #[test]
    fn code_space_slopes_and_the_chain_rule_find_the_one_dimensional_encoder_gradient() {
        // ∂J/∂w = E[x S(w x)]: the boundary term alone, −B x*/w.
        let x = normal_rows(400_000, 11);
        let z = &x * AT.w;
        let codebook = ndarray::array![[AT.c1], [AT.c2]];
        let decoded = &codebook * AT.v;
        let losses = per_code_losses(x.view(), decoded.view());
        let slopes = code_space_slopes(z.view(), codebook.view(), losses.view(), 0.004);
        let est = crate::studies::gradquality::objective::mean_with_error(
            x.iter()
                .zip(slopes.iter())
                .map(|(a, s)| a * s)
                .collect::<Vec<_>>()
                .into_iter(),
        );
        let truth = AT.gradient()[0];
        assert!(
            (est.value - truth).abs() < 3.0 * est.std_error,
            "{} ± {} vs {truth}",
            est.value,
            est.std_error
        );
        assert!(est.std_error < 0.05 * truth.abs(), "{}", est.std_error);
    }

    #[test]
    fn codebook_differences_find_the_one_dimensional_codebook_gradient() {
        // Interior and boundary part together: v g₁ + B/(2w), v g₂ + B/(2w).
        let x = normal_rows(400_000, 12);
        let z = &x * AT.w;
        let codebook = ndarray::array![[AT.c1], [AT.c2]];
        let decoded = &codebook * AT.v;
        let losses = per_code_losses(x.view(), decoded.view());
        let [mean, se, _] = codebook_differences(
            x.view(),
            z.view(),
            codebook.view(),
            losses.view(),
            0.004,
            |e| e.mapv(|v| v * AT.v),
        );
        let g = AT.gradient();
        for (i, truth) in [g[1], g[2]].into_iter().enumerate() {
            let (value, error) = (mean[[i, 0]], se[[i, 0]]);
            assert!(
                (value - truth).abs() < 3.0 * error,
                "code {i}: {value} ± {error} vs {truth}"
            );
        }
    }

    #[test]
    fn the_tied_model_every_coordinate_agrees_with_the_closed_form_on_other_rows() {
        // The exp-1 start; the closed form on 100,000 fresh rows, the
        // general estimate on 100,000 others: every coordinate's difference
        // in units of the two standard errors.
        let (params, _, data) = crate::studies::gradquality::objective::tests::exp1();
        let half = data.eval.nrows() / 2;
        let (first, second) = (
            data.eval.slice(s![..half, ..]),
            data.eval.slice(s![half.., ..]),
        );
        let truth = true_gradient(&params, second, 0.01).unwrap();
        // On the same rows the general estimate is the closed form plus the
        // encoder's boundary part, zero in expectation for the tied model
        // (here 2.1 % of ‖∇_W J‖ and 1.5 % of ‖∇_E J‖ at h = 0.01).
        let own = true_gradient(&params, first, 0.01).unwrap();
        let (closed_w, closed_e) = tied_gradient(&params, first);
        let norm = |a: &Array2<f64>| a.iter().map(|v| v * v).sum::<f64>().sqrt();
        for (general, closed) in [
            (&own.gradient.weights[0], &closed_w),
            (&own.gradient.codebook, &closed_e),
        ] {
            let relative = norm(&(general - closed)) / norm(closed);
            assert!(relative < 0.05, "same rows: relative difference {relative}");
        }
        // The closed form's own standard error: from blocks, as above.
        let blocks: Vec<_> = (0..ERROR_BLOCKS)
            .map(|b| {
                let r = s![b * half / ERROR_BLOCKS..(b + 1) * half / ERROR_BLOCKS, ..];
                tied_gradient(&params, first.slice(r))
            })
            .collect();
        let (mean_w, se_w) = mean_and_error(blocks.iter().map(|b| &b.0));
        let (mean_e, se_e) = mean_and_error(blocks.iter().map(|b| &b.1));
        let mut z_scores = Vec::new();
        for (a, (b, (sa, sb))) in mean_w.iter().zip(
            truth.gradient.weights[0]
                .iter()
                .zip(se_w.iter().zip(truth.std_error.weights[0].iter())),
        ) {
            z_scores.push((a - b) / (sa * sa + sb * sb).sqrt());
        }
        for (a, (b, (sa, sb))) in mean_e.iter().zip(
            truth
                .gradient
                .codebook
                .iter()
                .zip(se_e.iter().zip(truth.std_error.codebook.iter())),
        ) {
            z_scores.push((a - b) / (sa * sa + sb * sb).sqrt());
        }
        let mean_square = z_scores.iter().map(|z| z * z).sum::<f64>() / z_scores.len() as f64;
        let worst = z_scores.iter().fold(0.0f64, |a, z| a.max(z.abs()));
        // 320 coordinates: mean square 1 if the error bars are honest, but
        // W's noise lives in few directions (its 256 z-scores are strongly
        // correlated), so the mean square varies far more than for
        // independent ones (1.42 here); the largest |z| of 320 normals is
        // below 4 with probability 0.98.
        assert!(
            (0.5..2.0).contains(&mean_square),
            "mean square z {mean_square}"
        );
        assert!(worst < 4.5, "largest |z| {worst}");
    }
}
