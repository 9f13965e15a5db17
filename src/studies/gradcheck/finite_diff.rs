//! Finite differences: every estimator's gradient, on both backends, against
//! central differences of its surrogate loss at random states.
#[allow(unused_imports)]
use super::*;

/// The estimator's surrogate around an anchor state: with the anchor's
/// assignments a_b, codes q⁰_b = e⁰_{a_b}, codes z⁰_b = enc⁰(x_b), and the
/// step's draws,
///
/// L_s(θ, E) = (1/B) Σ ‖x_b − dec_θ(q̃_b)‖² + (α/B) Σ ‖z⁰_b − e_{a_b}‖² + (β/B) Σ ‖enc_θ(x_b) − q⁰_b‖²,
///
/// where q̃_b(θ, E) is, with z_b = enc_θ(x_b):
///
/// * STE, residual projection, rotation trick: q⁰_b + T_b (z_b − z⁰_b), with
///   the estimator's constant per-row Jacobian T_b (I, u uᵀ, λR);
/// * NSVQ: z_b + ‖z_b − e_{a_b}‖ v̂_b (the formula itself);
/// * Gumbel soft: Σ_k y_k(z_b, E) e_k (the formula itself);
/// * Gumbel hard: Σ_k (1{k = j_b} + y_k(z_b, E) − y⁰_k) e_k with j_b the
///   anchor's argmax and y⁰ its soft weights.
///
/// At the anchor, L_s equals the loss, and its exact gradient is what the
/// estimator defines; central differences of L_s therefore check every path
/// of a method's gradient. Written independently of the methods' code: it
/// uses only the models' forward passes ([`Params::encode`],
/// [`Params::decode`]) and the formulas above.
pub fn surrogate_loss(
    params: &Params,
    batch: ArrayView2<f64>,
    anchor: &Anchor,
    weights: LossWeights,
) -> f64 {
    let b = batch.nrows() as f64;
    let z = params.encode(batch);
    let q_tilde = anchor.q_tilde(params, z.view());
    let x_hat = params.decode(q_tilde.view());
    let mut total = (&batch - &x_hat).iter().map(|v| v * v).sum::<f64>() / b;
    // One term per latent vector (P per row for the conv model).
    for i in 0..z.nrows() {
        let cb = &anchor.z.row(i) - &params.codebook.row(anchor.assignments[i]);
        total += weights.alpha * cb.dot(&cb) / b;
        let cm = &z.row(i) - &anchor.q.row(i);
        total += weights.beta * cm.dot(&cm) / b;
    }
    total
}

/// [`surrogate_loss`] and the on/off pattern of the model's ReLU units on
/// `batch` (the decoder fed q̃) at `params`
/// ([`crate::model::Model::kink_pattern`]; empty for a model that filters
/// rows instead).
fn surrogate_with_pattern(
    params: &Params,
    batch: ArrayView2<f64>,
    anchor: &Anchor,
    weights: LossWeights,
) -> (f64, Vec<bool>) {
    let loss = surrogate_loss(params, batch, anchor, weights);
    let z = params.encode(batch);
    let q_tilde = anchor.q_tilde(params, z.view());
    let pattern = params
        .model
        .model()
        .kink_pattern(params, batch, q_tilde.view());
    (loss, pattern)
}

/// softmax((−‖z − e_k‖² + G_k)/τ) over the codes, written out plainly.
pub(crate) fn gumbel_soft(
    z: ndarray::ArrayView1<f64>,
    codebook: ArrayView2<f64>,
    gumbel: ndarray::ArrayView1<f64>,
    tau: f64,
) -> ndarray::Array1<f64> {
    let logits: ndarray::Array1<f64> = codebook
        .outer_iter()
        .zip(gumbel.iter())
        .map(|(e, g)| (-(&z - &e).mapv(|v| v * v).sum() + g) / tau)
        .collect();
    let top = logits.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
    let exp = logits.mapv(|v| (v - top).exp());
    let total = exp.sum();
    exp / total
}

/// The constants of [`surrogate_loss`] at an anchor state.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// The estimator.
    pub estimator: Estimator,
    /// z⁰ = enc⁰(X), B × m.
    pub z: Array2<f64>,
    /// q⁰, B × m.
    pub q: Array2<f64>,
    /// a_b.
    pub assignments: Vec<usize>,
    /// T_b, m × m per row (STE, residual projection, rotation trick).
    pub jacobians: Vec<Array2<f64>>,
    /// The step's draws (NSVQ, Gumbel).
    pub draws: Draws,
    /// y⁰ rows (Gumbel), B × K.
    pub soft: Array2<f64>,
    /// j_b = argmax y⁰ (Gumbel hard).
    pub hard: Vec<usize>,
}

impl Anchor {
    /// q̃ of every row as a function of the parameters (through `params`'
    /// codebook) and the codes `z`, by the formulas of [`surrogate_loss`].
    pub fn q_tilde(&self, params: &Params, z: ArrayView2<f64>) -> Array2<f64> {
        let mut q_tilde = self.q.clone();
        for (i, mut row) in q_tilde.outer_iter_mut().enumerate() {
            let z_row = z.row(i);
            match self.estimator {
                Estimator::Ste | Estimator::ResidualProjection | Estimator::RotationTrick => {
                    let dz = &z_row - &self.z.row(i);
                    row += &self.jacobians[i].dot(&dz);
                }
                Estimator::Nsvq => {
                    let d = &z_row - &params.codebook.row(self.assignments[i]);
                    let r = d.dot(&d).max(crate::model::estimator::NSVQ_MIN_SQ).sqrt();
                    row.assign(&(&z_row + &(&self.draws.noise.row(i) * r)));
                }
                Estimator::Gumbel | Estimator::GumbelHard => {
                    let mut w = gumbel_soft(
                        z_row,
                        params.codebook.view(),
                        self.draws.noise.row(i),
                        self.draws.tau,
                    );
                    if self.estimator == Estimator::GumbelHard {
                        w -= &self.soft.row(i);
                        w[self.hard[i]] += 1.0;
                    }
                    row.assign(&w.dot(&params.codebook));
                }
            }
        }
        q_tilde
    }

    /// The anchor of `estimator` at `params` on `batch` with `draws`.
    pub fn new(
        estimator: Estimator,
        params: &Params,
        batch: ArrayView2<f64>,
        draws: &Draws,
    ) -> Self {
        let z = params.encode(batch);
        let assignments = nearest_codes(z.view(), params.codebook.view());
        let q = params.codebook.select(Axis(0), &assignments);
        let m = z.ncols();
        let jacobians = z
            .outer_iter()
            .zip(q.outer_iter())
            .map(|(zr, qr)| match estimator {
                Estimator::ResidualProjection => {
                    let d = &qr - &zr;
                    let n = d.dot(&d).sqrt();
                    if n == 0.0 {
                        Array2::zeros((m, m))
                    } else {
                        let u = (d / n).insert_axis(Axis(1));
                        u.dot(&u.t())
                    }
                }
                Estimator::RotationTrick => {
                    let (zn, qn) = (zr.dot(&zr).sqrt(), qr.dot(&qr).sqrt());
                    let zh = (&zr / zn).insert_axis(Axis(1));
                    let qh = (&qr / qn).insert_axis(Axis(1));
                    let s = &zh + &qh;
                    let r = &s / s.iter().map(|v| v * v).sum::<f64>().sqrt();
                    let rot = Array2::<f64>::eye(m) - r.dot(&r.t()) * 2.0 + qh.dot(&zh.t()) * 2.0;
                    rot * (qn / zn)
                }
                _ => Array2::eye(m),
            })
            .collect();
        let gumbel = matches!(estimator, Estimator::Gumbel | Estimator::GumbelHard);
        let k = params.codebook.nrows();
        let mut soft = Array2::zeros((if gumbel { z.nrows() } else { 0 }, k));
        let mut hard = Vec::new();
        if gumbel {
            for (i, mut row) in soft.outer_iter_mut().enumerate() {
                let y = gumbel_soft(
                    z.row(i),
                    params.codebook.view(),
                    draws.noise.row(i),
                    draws.tau,
                );
                let top = (0..k).fold(0, |best, c| if y[c] > y[best] { c } else { best });
                hard.push(top);
                row.assign(&y);
            }
        }
        Anchor {
            estimator,
            z,
            q,
            assignments,
            jacobians,
            draws: draws.clone(),
            soft,
            hard,
        }
    }
}

/// The coordinates to check per parameter (E last): all of them, or when a
/// parameter has more than `most`, `most` of them drawn from `rng`.
pub fn fd_coordinates<R: Rng + ?Sized>(
    params: &Params,
    most: Option<usize>,
    rng: &mut R,
) -> Vec<Vec<(usize, usize)>> {
    params
        .weights
        .iter()
        .chain([&params.codebook])
        .map(|p| {
            let all: Vec<(usize, usize)> = ndarray::indices(p.dim()).into_iter().collect();
            match most {
                Some(n) if all.len() > n => rand::seq::index::sample(rng, all.len(), n)
                    .into_iter()
                    .map(|i| all[i])
                    .collect(),
                _ => all,
            }
        })
        .collect()
}

/// Central differences of [`surrogate_loss`] at `coordinates` (one list per
/// parameter, E last; see [`fd_coordinates`]), at steps h and h/2 combined
/// by Richardson extrapolation; entries not listed stay 0.
pub fn finite_differences_at(
    params: &Params,
    batch: ArrayView2<f64>,
    anchor: &Anchor,
    weights: LossWeights,
    h: f64,
    coordinates: &[Vec<(usize, usize)>],
) -> (Vec<Array2<f64>>, Array2<f64>) {
    let mut probe = params.clone();
    let n = params.weights.len();
    // The conv model: a coordinate whose step switches a ReLU unit on or off
    // is not differentiable there at that step; it gets NaN (left out).
    let anchor_pattern = {
        let z = params.encode(batch);
        let q_tilde = anchor.q_tilde(params, z.view());
        params
            .model
            .model()
            .kink_pattern(params, batch, q_tilde.view())
    };
    let has_kinks = !anchor_pattern.is_empty();
    let mut out: Vec<Array2<f64>> = params
        .weights
        .iter()
        .chain([&params.codebook])
        .map(|p| Array2::zeros(p.raw_dim()))
        .collect();
    for (slot, coords) in coordinates.iter().enumerate() {
        for &idx in coords {
            let value = |probe: &mut Params, v: f64| {
                let target = if slot < n {
                    &mut probe.weights[slot]
                } else {
                    &mut probe.codebook
                };
                target[idx] = v;
            };
            let orig = if slot < n {
                params.weights[slot][idx]
            } else {
                params.codebook[idx]
            };
            // Central differences at h and h/2, combined by Richardson
            // extrapolation: (4 D(h/2) − D(h))/3 has an O(h⁴) truncation
            // error (the NSVQ and Gumbel surrogates are not polynomials).
            let mut central = |step: f64| {
                let mut at = |v: f64| {
                    value(&mut probe, v);
                    if has_kinks {
                        let (loss, pattern) =
                            surrogate_with_pattern(&probe, batch, anchor, weights);
                        (loss, pattern == anchor_pattern)
                    } else {
                        (surrogate_loss(&probe, batch, anchor, weights), true)
                    }
                };
                let (up, same_up) = at(orig + step);
                let (down, same_down) = at(orig - step);
                value(&mut probe, orig);
                if same_up && same_down {
                    (up - down) / (2.0 * step)
                } else {
                    f64::NAN
                }
            };
            let (coarse, fine) = (central(h), central(h / 2.0));
            out[slot][idx] = (4.0 * fine - coarse) / 3.0;
        }
    }
    let e = out.pop().expect("E is last");
    (out, e)
}

/// Central differences of [`surrogate_loss`] with respect to every entry of
/// every parameter: (network parameters, E).
pub fn finite_difference_gradients(
    params: &Params,
    batch: ArrayView2<f64>,
    anchor: &Anchor,
    weights: LossWeights,
    h: f64,
) -> (Vec<Array2<f64>>, Array2<f64>) {
    let coords = fd_coordinates(params, None, &mut rng_for(0, Stream::Harness));
    finite_differences_at(params, batch, anchor, weights, h, &coords)
}

/// The relative error of `grads` against finite differences `fd` at the
/// checked `coordinates`, per parameter (E last).
pub fn fd_rel_errs(
    grads: &Gradients,
    fd: &(Vec<Array2<f64>>, Array2<f64>),
    coordinates: &[Vec<(usize, usize)>],
) -> Vec<f64> {
    let method_side = grads.grad_weights.iter().chain([&grads.grad_e]);
    let fd_side = fd.0.iter().chain([&fd.1]);
    method_side
        .zip(fd_side)
        .zip(coordinates)
        .map(|((g, f), coords)| {
            let diff = coords
                .iter()
                .map(|&i| (g[i] - f[i]).abs())
                .fold(0.0, f64::max);
            let scale = coords.iter().map(|&i| f[i].abs()).fold(0.0, f64::max);
            if scale > 0.0 {
                diff / scale
            } else {
                diff
            }
        })
        .collect()
}

/// The Voronoi margin each latent vector of a multi-vector row (the conv
/// model) must have in the finite-difference check: far above the rounding
/// of a squared distance, far below a typical margin.
pub const LATENT_GRID_MARGIN: f64 = 1e-9;

/// The rows of `batch` fit for a finite-difference check of `estimator` at
/// `params` with the step's `draws`: those whose Voronoi margin (second
/// nearest minus nearest squared distance) is at least `min_margin` and, for
/// the ReLU mlp, whose hidden pre-activations (the decoder fed the
/// estimator's q̃) are at least 1e-2 from the kink
/// ([`crate::model::Model::kink_safety`]); for the conv model every latent
/// vector of the image must have a margin of [`LATENT_GRID_MARGIN`], and
/// its ReLU kinks are handled per coordinate instead ([`finite_differences_at`] leaves out a step
/// that switches a unit). Returns the kept rows, their draws, and the
/// smallest Voronoi margin kept.
pub fn rows_for_finite_differences(
    params: &Params,
    batch: ArrayView2<f64>,
    min_margin: f64,
    estimator: Estimator,
    draws: &Draws,
) -> (Array2<f64>, Draws, f64) {
    let anchor = Anchor::new(estimator, params, batch, draws);
    let q_tilde = anchor.q_tilde(params, anchor.z.view());
    let kinks = params
        .model
        .model()
        .kink_safety(params, batch, q_tilde.view());
    let per_row = params.latent_positions();
    let mut row_margin = vec![f64::INFINITY; batch.nrows()];
    for (i, zr) in anchor.z.outer_iter().enumerate() {
        let mut d: Vec<f64> = params
            .codebook
            .outer_iter()
            .map(|e| (&zr - &e).iter().map(|v| v * v).sum())
            .collect();
        d.sort_by(f64::total_cmp);
        let margin = if d.len() > 1 {
            d[1] - d[0]
        } else {
            f64::INFINITY
        };
        row_margin[i / per_row] = row_margin[i / per_row].min(margin);
    }
    // Several latent vectors per row (the conv model): the surrogate keeps
    // the anchor's assignments, so only a near-tie (where the method's search
    // might pick another code than the anchor's) spoils a row; a margin of
    // `min_margin` for each of 49 vectors would leave almost no image.
    let min_margin = if per_row > 1 {
        min_margin.min(LATENT_GRID_MARGIN)
    } else {
        min_margin
    };
    let mut keep = Vec::new();
    let mut smallest = f64::INFINITY;
    for (i, &margin) in row_margin.iter().enumerate() {
        if margin >= min_margin && kinks[i] >= 1.0 {
            keep.push(i);
            smallest = smallest.min(margin);
        }
    }
    let kept_latent: Vec<usize> = keep
        .iter()
        .flat_map(|&i| i * per_row..(i + 1) * per_row)
        .collect();
    let kept_draws = Draws {
        noise: if draws.noise.nrows() == anchor.z.nrows() {
            draws.noise.select(Axis(0), &kept_latent)
        } else {
            draws.noise.clone()
        },
        tau: draws.tau,
    };
    (batch.select(Axis(0), &keep), kept_draws, smallest)
}

/// A random state of `model` for the finite-difference check: linear models
/// get a Haar-random W (untied: V = W plus noise, so the estimators part
/// ways); the mlp gets `nn.Linear`'s default; the codebook is randomly
/// chosen batch codes plus noise.
pub fn random_state<R: Rng + ?Sized>(
    model: ModelSpec,
    batch: ArrayView2<f64>,
    m: usize,
    k: usize,
    rng: &mut R,
) -> Result<Params> {
    let dim = batch.ncols();
    let weights = match model.kind {
        ModelKind::Tied => vec![random_stiefel(dim, m, rng)?],
        ModelKind::Untied => {
            let w = random_stiefel(dim, m, rng)?;
            let v = &w + &(gaussian_matrix(dim, m, rng) * 0.3);
            vec![w, v]
        }
        ModelKind::Mlp => crate::model::mlp::init_network(&model, dim, m, rng),
        ModelKind::Conv => {
            crate::model::conv::check_spec(&model, dim)?;
            crate::model::conv::init_network(&model, m, rng)
        }
    };
    let mut params = Params {
        model,
        weights,
        codebook: Array2::zeros((0, m)),
    };
    let z = params.encode(batch);
    let picks = rand::seq::index::sample(rng, z.nrows(), k.min(z.nrows())).into_vec();
    let mut codebook = z.select(Axis(0), &picks);
    codebook += &(gaussian_matrix(codebook.nrows(), codebook.ncols(), rng) * 0.05);
    params.codebook = codebook;
    Ok(params)
}

/// Finite-difference check of every estimator on both backends at `states`
/// random states ([`random_state`]) on a batch of the training data without
/// the rows near a Voronoi boundary (or a ReLU kink).
pub fn finite_differences(
    data: &Dataset,
    config: &TrainConfig,
    chosen: &[Estimator],
    states: usize,
) -> Result<FiniteDiffReport> {
    const H: f64 = 1e-4;
    const MIN_MARGIN: f64 = 1e-3;
    const COORDS: usize = 64;
    let weights = config.weights();
    let mut rng = rng_for(config.seed, Stream::Harness);
    let batch_size = config.batch.min(128).min(data.train.nrows());
    let mut sampler = BatchSampler::new(config.seed ^ 0x5eed, data.train.nrows(), batch_size);
    let estimators = estimators_checked(chosen);
    let specs: Vec<MethodSpec> = estimators
        .iter()
        .copied()
        .flat_map(|e| Backend::ALL.map(|b| MethodSpec::new(config.model, e, b)))
        .collect();
    let mut worst: Vec<Vec<f64>> = vec![Vec::new(); specs.len()];
    let mut min_margin = f64::INFINITY;
    let mut names = Vec::new();
    let (mut skipped_at_kinks, mut checked) = (0, 0);
    for _ in 0..states {
        let full = sampler.next_batch(data.train.view());
        let params = random_state(config.model, full.view(), config.m, config.k, &mut rng)?;
        names = param_names(&params);
        let coords = fd_coordinates(&params, Some(COORDS), &mut rng);
        let shape = (
            params.latent_rows(full.nrows()),
            params.code_dim(),
            params.codebook.nrows(),
        );
        for &estimator in &estimators {
            let mut all_draws = Draws::none();
            all_draws.draw(estimator, shape, config.gumbel.tau, &mut rng);
            let (batch, draws, margin) = rows_for_finite_differences(
                &params,
                full.view(),
                MIN_MARGIN,
                estimator,
                &all_draws,
            );
            if batch.nrows() == 0 {
                return Err(crate::error::VqError::Shape(format!(
                    "no row of a {}-row batch is {MIN_MARGIN} from a Voronoi boundary (and, for the ReLU mlp, from its kinks): try another --seed or a smaller --k",
                    full.nrows()
                )));
            }
            min_margin = min_margin.min(margin);
            let anchor = Anchor::new(estimator, &params, batch.view(), &draws);
            let fd = finite_differences_at(&params, batch.view(), &anchor, weights, H, &coords);
            skipped_at_kinks +=
                fd.0.iter()
                    .chain([&fd.1])
                    .zip(&coords)
                    .map(|(f, c)| c.iter().filter(|&&i| f[i].is_nan()).count())
                    .sum::<usize>();
            checked += coords.iter().map(Vec::len).sum::<usize>();
            for (slot, spec) in specs.iter().enumerate() {
                if spec.estimator != estimator {
                    continue;
                }
                let g = spec
                    .build(weights)
                    .gradients(&params, batch.view(), &draws)?;
                elementwise_max(&mut worst[slot], &fd_rel_errs(&g, &fd, &coords));
            }
        }
    }
    Ok(FiniteDiffReport {
        states,
        step_size: H,
        min_margin,
        coordinates_per_param: COORDS,
        skipped_at_kinks,
        coordinates_checked: checked,
        checks: specs
            .iter()
            .zip(worst)
            .map(|(&method, errs)| FiniteDiffCheck {
                method,
                max_rel_err_grad: errs.iter().copied().fold(0.0, f64::max),
                max_rel_err_by_param: by_param(&names, &errs),
            })
            .collect(),
    })
}
