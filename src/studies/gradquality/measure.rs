//! Each estimator's update against ∇J at points of a training run: cosine,
//! relative bias, relative variance and descent ratio per parameter group
//! (docs/TRUE-GRADIENT.md, "Measuring an estimator").
//!
//! At each point θ_t of one run (the trajectory of one estimator), every
//! measured estimator's gradient ĝ is taken on `batches` mini-batches of the
//! run's batch size drawn from the same rows ∇J is estimated on, with its
//! own random draws (NSVQ's directions, Gumbel's noise at the run's τ of
//! that step); Riemannian on Stiefel parameters, as the update uses it.
//! The mean ḡ over the batches stands for the estimator's expected update.
//! The same batches and draws with α = β = 0 give the reconstruction part
//! alone.
use ndarray::{ArrayView2, Zip};
use serde::Serialize;

use super::objective::{mean_with_error, moved, row_losses, Direction, Estimate};
use super::truth::{true_gradient, TrueGradient};
use crate::error::{invalid, Result};
use crate::model::{Backend, Draws, Estimator, LossWeights, Manifold, MethodSpec, Params, Side};
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::stiefel::riemannian_gradient;
use crate::optim::OptimizerKind;
use crate::train::{BatchSampler, ValidTrainConfig};

/// A group of parameters the measures are reported for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Parameters of the encoder alone.
    Encoder,
    /// Parameters of the decoder alone.
    Decoder,
    /// Parameters of both (the tied W).
    EncoderDecoder,
    /// The codebook E.
    Codebook,
    /// Every parameter together.
    All,
}

impl Group {
    /// Its name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Group::Encoder => "encoder",
            Group::Decoder => "decoder",
            Group::EncoderDecoder => "encoder+decoder",
            Group::Codebook => "codebook",
            Group::All => "all",
        }
    }

    /// The group of network parameter `index` of `params`' model.
    fn of(params: &Params, index: usize) -> Group {
        match params.model.kind.model().sides_of(index) {
            [Side::Encode] => Group::Encoder,
            [Side::Decode] => Group::Decoder,
            _ => Group::EncoderDecoder,
        }
    }

    /// The groups of `params`' model, in order, then `All`.
    pub fn every(params: &Params) -> Vec<Group> {
        let mut groups: Vec<Group> = Vec::new();
        for i in 0..params.weights.len() {
            let g = Group::of(params, i);
            if !groups.contains(&g) {
                groups.push(g);
            }
        }
        groups.extend([Group::Codebook, Group::All]);
        groups
    }

    /// ⟨a, b⟩ over this group's blocks.
    fn dot(self, params: &Params, a: &Direction, b: &Direction) -> f64 {
        let block = |x: &ndarray::Array2<f64>, y: &ndarray::Array2<f64>| {
            Zip::from(x).and(y).fold(0.0, |acc, u, v| acc + u * v)
        };
        let mut sum = 0.0;
        for (i, (x, y)) in a.weights.iter().zip(&b.weights).enumerate() {
            if self == Group::All || Group::of(params, i) == self {
                sum += block(x, y);
            }
        }
        if matches!(self, Group::Codebook | Group::All) {
            sum += block(&a.codebook, &b.codebook);
        }
        sum
    }
}

/// a − b, block by block.
fn difference(a: &Direction, b: &Direction) -> Direction {
    Direction {
        weights: a
            .weights
            .iter()
            .zip(&b.weights)
            .map(|(x, y)| x - y)
            .collect(),
        codebook: &a.codebook - &b.codebook,
    }
}

/// `d` scaled by `t`.
fn scaled(d: &Direction, t: f64) -> Direction {
    Direction {
        weights: d.weights.iter().map(|w| w * t).collect(),
        codebook: &d.codebook * t,
    }
}

/// The measures of one estimator on one group.
#[derive(Debug, Clone, Serialize)]
pub struct GroupQuality {
    /// The group.
    pub group: Group,
    /// ‖∇J‖ on the group (scaled units).
    pub truth_norm: f64,
    /// The standard error of ∇J on the group, √(Σ se²), over ‖∇J‖: the
    /// floor under `relative_bias` from the truth's own noise.
    pub truth_relative_error: f64,
    /// Whether ∇J is resolved on the group: its relative standard error is
    /// at most [`RESOLVED`]. Where it is not, the relative measures below
    /// compare with noise.
    pub resolved: bool,
    /// cos(ḡ, ∇J): 1 when the mean update points along the true gradient
    /// (`null` when the update is zero on the group).
    pub cosine: Option<f64>,
    /// ‖E ĝ − ∇J‖ / ‖∇J‖, estimated without the mean's own noise:
    /// √max(0, ‖ḡ − ∇J‖² − E‖ĝ − ḡ‖²/batches) / ‖∇J‖. ∇J is taken on the
    /// rows the batches come from, so for a fixed-assignment part (the
    /// decoder) an unbiased estimator scores 0 up to the noise of this
    /// estimate; elsewhere ∇J's own error (`truth_relative_error`) is a
    /// floor under it.
    pub relative_bias: f64,
    /// ‖ḡ − ∇J‖ / ‖∇J‖ as measured (the mean's noise included).
    pub relative_bias_raw: f64,
    /// E‖ĝ − ḡ‖² / ‖∇J‖² per batch of the run's size.
    pub relative_variance: f64,
    /// The standard error of ḡ, √(E‖ĝ − ḡ‖² / batches), over ‖∇J‖.
    pub mean_relative_error: f64,
    /// cos(ḡ_recon, ∇J): the reconstruction part of the update alone
    /// (`null` where it is zero: STE sends nothing to the codebook).
    pub recon_cosine: Option<f64>,
    /// The relative bias of the reconstruction part (as `relative_bias`).
    pub recon_relative_bias: f64,
}

/// A change of J with its standard error.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Ratio {
    /// The value.
    pub value: f64,
    /// Its standard error (delta method over the rows).
    pub std_error: f64,
}

/// The measures of one estimator at one point.
#[derive(Debug, Clone, Serialize)]
pub struct EstimatorQuality {
    /// The estimator.
    pub estimator: Estimator,
    /// Per group.
    pub groups: Vec<GroupQuality>,
    /// (J(θ) − J(θ − η ḡ)) / (J(θ) − J(θ − s ∇J/‖∇J‖)), s = ‖η ḡ‖: how
    /// much one mean SGD step lowers J against a step of the same length
    /// along −∇J (`null` under Adam, whose step is not η ḡ).
    pub descent_ratio: Option<Ratio>,
    /// ‖η ḡ‖, the length of that step (scaled units).
    pub step_length: f64,
}

/// Everything measured at one point of the run.
#[derive(Debug, Clone, Serialize)]
pub struct PointQuality {
    /// Steps of the run before this point.
    pub step: usize,
    /// J(θ) on the rows (scaled units).
    pub objective: Estimate,
    /// Per measured estimator.
    pub estimators: Vec<EstimatorQuality>,
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct MeasureOptions {
    /// The run whose points are measured (its steps are the run's length).
    pub config: ValidTrainConfig,
    /// The estimator the run trains with.
    pub run_estimator: Estimator,
    /// The estimators measured at each point.
    pub estimators: Vec<Estimator>,
    /// The points: steps of the run (0 = the start).
    pub at: Vec<usize>,
    /// Mini-batches per estimator per point.
    pub batches: usize,
    /// The code-space step h of ∇J's central differences.
    pub step: f64,
}

impl MeasureOptions {
    /// Checks the options against the run; one error per bad field.
    pub fn check(&self) -> Result<()> {
        if self.batches < 2 {
            return Err(invalid("batches", self.batches, "at least 2"));
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(invalid("step", self.step, "a finite number > 0"));
        }
        if let Some(&t) = self.at.iter().find(|&&t| t > self.config.steps) {
            return Err(invalid(
                "at",
                t,
                format!("a step of the run, at most --steps {}", self.config.steps),
            ));
        }
        if self.at.is_empty() {
            return Err(invalid("at", "", "at least one step"));
        }
        if self.estimators.is_empty() {
            return Err(invalid("estimator", "", "at least one estimator"));
        }
        if !self.config.codebook.by_gradient() {
            return Err(invalid(
                "codebook",
                "ema",
                "gradient: an EMA codebook follows moving averages, not a gradient to measure",
            ));
        }
        Ok(())
    }

    /// Units of work for a progress bar: per point, ∇J and each estimator.
    pub fn work_units(&self) -> u64 {
        (self.at.len() * (1 + self.estimators.len())) as u64
    }
}

/// Every estimator's gradients on the same batches and draws: the full
/// update and its reconstruction part, Riemannian on Stiefel parameters.
fn estimator_gradients(
    params: &Params,
    rows: ArrayView2<f64>,
    options: &MeasureOptions,
    estimator: Estimator,
    tau: f64,
) -> Result<(Vec<Direction>, Vec<Direction>)> {
    let spec = MethodSpec::new(params.model, estimator, Backend::Manual);
    let mut full = spec.build(options.config.weights());
    let mut recon = spec.build(LossWeights {
        alpha: 0.0,
        beta: 0.0,
    });
    let seed = options.config.seed;
    let mut sampler = BatchSampler::new(seed, rows.nrows(), options.config.batch);
    let mut draw_rng = rng_for(seed, Stream::Measure);
    let mut draws = Draws::none();
    let shape = (
        options.config.batch,
        params.code_dim(),
        params.codebook.nrows(),
    );
    let mut out = (Vec::new(), Vec::new());
    let riemannian = |g: crate::model::Gradients| Direction {
        weights: g
            .grad_weights
            .iter()
            .enumerate()
            .map(|(i, gw)| match params.model.manifold_of(i) {
                Manifold::Stiefel => riemannian_gradient(params.weights[i].view(), gw.view()),
                Manifold::Euclidean => gw.clone(),
            })
            .collect(),
        codebook: g.grad_e,
    };
    for _ in 0..options.batches {
        let batch = rows.select(ndarray::Axis(0), sampler.next_indices());
        draws.draw(estimator, shape, tau, &mut draw_rng);
        out.0
            .push(riemannian(full.gradients(params, batch.view(), &draws)?));
        out.1
            .push(riemannian(recon.gradients(params, batch.view(), &draws)?));
    }
    Ok(out)
}

/// The mean of `gradients` and E‖ĝ − ḡ‖² on every group.
fn moments(params: &Params, gradients: &[Direction]) -> (Direction, Vec<(Group, f64)>) {
    let r = gradients.len() as f64;
    let first = &gradients[0];
    let mut mean = scaled(first, 0.0);
    for g in gradients {
        for (m, w) in mean.weights.iter_mut().zip(&g.weights) {
            m.scaled_add(1.0 / r, w);
        }
        mean.codebook.scaled_add(1.0 / r, &g.codebook);
    }
    let variance = Group::every(params)
        .into_iter()
        .map(|group| {
            let spread: f64 = gradients
                .iter()
                .map(|g| {
                    let d = difference(g, &mean);
                    group.dot(params, &d, &d)
                })
                .sum();
            (group, spread / (r - 1.0))
        })
        .collect();
    (mean, variance)
}

/// ∇J counts as resolved on a group when its relative standard error is at
/// most this.
pub const RESOLVED: f64 = 0.5;

/// The measures of one group from the truth and the mean updates (each
/// with its E‖ĝ − ḡ‖²).
fn group_quality(
    params: &Params,
    group: Group,
    truth: &TrueGradient,
    (mean, variance): (&Direction, f64),
    (recon_mean, recon_variance): (&Direction, f64),
    batches: usize,
) -> GroupQuality {
    let g = &truth.gradient;
    let truth_sq = group.dot(params, g, g);
    let norm = truth_sq.sqrt();
    let cosine = |d: &Direction| {
        let length = group.dot(params, d, d).sqrt();
        (length > 0.0).then(|| group.dot(params, d, g) / (length * norm))
    };
    // (raw, without the mean's noise) relative bias.
    let bias = |d: &Direction, variance: f64| {
        let e = difference(d, g);
        let raw_sq = group.dot(params, &e, &e);
        (
            raw_sq.sqrt() / norm,
            (raw_sq - variance / batches as f64).max(0.0).sqrt() / norm,
        )
    };
    let truth_relative_error = group.dot(params, &truth.std_error, &truth.std_error).sqrt() / norm;
    let (raw, debiased) = bias(mean, variance);
    GroupQuality {
        group,
        truth_norm: norm,
        truth_relative_error,
        resolved: truth_relative_error <= RESOLVED,
        cosine: cosine(mean),
        relative_bias: debiased,
        relative_bias_raw: raw,
        relative_variance: variance / truth_sq,
        mean_relative_error: (variance / batches as f64).sqrt() / norm,
        recon_cosine: cosine(recon_mean),
        recon_relative_bias: bias(recon_mean, recon_variance).1,
    }
}

/// (J(θ) − J(θ + a)) / (J(θ) − J(θ + b)) on `rows` with the same rows on
/// every side, its standard error by the delta method.
fn descent_ratio(
    params: &Params,
    rows: ArrayView2<f64>,
    base: &[f64],
    step: &Direction,
    reference: &Direction,
) -> Result<Ratio> {
    let drop = |d: &Direction| -> Result<Vec<f64>> {
        let after = row_losses(&moved(params, d, 1.0)?, rows);
        Ok(base.iter().zip(after.iter()).map(|(b, a)| b - a).collect())
    };
    let (a, b) = (drop(step)?, drop(reference)?);
    let n = a.len() as f64;
    let (mean_a, mean_b) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let value = mean_a / mean_b;
    let linearised = a.iter().zip(&b).map(|(x, y)| (x - value * y) / mean_b);
    let se = mean_with_error(linearised.collect::<Vec<_>>().into_iter()).std_error;
    Ok(Ratio {
        value,
        std_error: se,
    })
}

/// The measures of every estimator at `params`, step `step` of the run, on
/// `rows` (∇J and the batches both from them).
pub fn measure_point(
    params: &Params,
    rows: ArrayView2<f64>,
    step: usize,
    options: &MeasureOptions,
    mut progress: impl FnMut(&str),
) -> Result<PointQuality> {
    let truth = true_gradient(params, rows, options.step)?;
    progress("∇J");
    let base = row_losses(params, rows);
    let objective = mean_with_error(base.iter().copied().collect::<Vec<_>>().into_iter());
    let config = &options.config;
    let tau = config.gumbel.tau_at(step);
    let (lr_w, lr_e) = (
        config
            .schedule
            .rate(config.lr_w, config.schedule.lr_final_w, step, config.steps),
        config
            .schedule
            .rate(config.lr_e, config.schedule.lr_final_e, step, config.steps),
    );
    let groups = Group::every(params);
    let mut estimators = Vec::new();
    for &estimator in &options.estimators {
        let (full, recon) = estimator_gradients(params, rows, options, estimator, tau)?;
        let (mean, variance) = moments(params, &full);
        let (recon_mean, recon_variance) = moments(params, &recon);
        let quality = groups
            .iter()
            .zip(variance.iter().zip(&recon_variance))
            .map(|(&group, (&(_, var), &(_, recon_var)))| {
                group_quality(
                    params,
                    group,
                    &truth,
                    (&mean, var),
                    (&recon_mean, recon_var),
                    options.batches,
                )
            })
            .collect();
        let step_dir = Direction {
            weights: mean.weights.iter().map(|w| w * -lr_w).collect(),
            codebook: &mean.codebook * -lr_e,
        };
        let length = Group::All.dot(params, &step_dir, &step_dir).sqrt();
        let truth_norm = Group::All
            .dot(params, &truth.gradient, &truth.gradient)
            .sqrt();
        let descent = match config.optimizer.kind {
            OptimizerKind::Sgd => Some(descent_ratio(
                params,
                rows,
                base.as_slice().expect("contiguous"),
                &step_dir,
                &scaled(&truth.gradient, -length / truth_norm),
            )?),
            OptimizerKind::Adam => None,
        };
        estimators.push(EstimatorQuality {
            estimator,
            groups: quality,
            descent_ratio: descent,
            step_length: length,
        });
        progress(estimator.name());
    }
    Ok(PointQuality {
        step,
        objective,
        estimators,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ModelKind, ModelSpec};
    use crate::train::{initial_params, TrainConfig};

    /// The measures at the exp-1 start (PCA + Lloyd) of `model`, on 100,000
    /// fresh rows, 400 batches each.
    fn at_start(model: ModelKind, estimators: Vec<Estimator>) -> PointQuality {
        let (_, _, data) = crate::studies::gradquality::objective::tests::exp1();
        let config = TrainConfig {
            model: ModelSpec::of(model),
            ..TrainConfig::report_default()
        }
        .check(data.train.nrows(), data.dim())
        .unwrap();
        let params = initial_params(data.train.view(), &config).unwrap();
        let options = MeasureOptions {
            config,
            run_estimator: Estimator::Ste,
            estimators,
            at: vec![0],
            batches: 400,
            step: 0.01,
        };
        options.check().unwrap();
        let rows = data.eval.slice(ndarray::s![..100_000, ..]);
        measure_point(&params, rows, 0, &options, |_| {}).unwrap()
    }

    fn group(e: &EstimatorQuality, g: Group) -> &GroupQuality {
        e.groups.iter().find(|q| q.group == g).unwrap()
    }

    #[test]
    fn the_untied_decoder_update_is_unbiased_for_ste_and_biased_for_nsvq() {
        // STE hands the decoder the nearest code itself: its decoder update
        // is the fixed-assignment gradient, so its mean over batches of the
        // same rows differs from ∇J only by its own noise. NSVQ decodes a
        // noisy substitute q̃ = z + ‖z − q‖ v̂: a bias far beyond the noise.
        let point = at_start(ModelKind::Untied, vec![Estimator::Ste, Estimator::Nsvq]);
        let ste = group(&point.estimators[0], Group::Decoder);
        assert!(
            ste.relative_bias_raw < 3.0 * ste.mean_relative_error,
            "STE: {} vs noise {}",
            ste.relative_bias_raw,
            ste.mean_relative_error
        );
        assert!(ste.cosine.unwrap() > 0.9, "{:?}", ste.cosine);
        let nsvq = group(&point.estimators[1], Group::Decoder);
        assert!(
            nsvq.relative_bias > 10.0 * nsvq.mean_relative_error,
            "NSVQ: {} vs noise {}",
            nsvq.relative_bias,
            nsvq.mean_relative_error
        );
        // STE's reconstruction part sends nothing to the codebook.
        let codebook = group(&point.estimators[0], Group::Codebook);
        assert_eq!(codebook.recon_cosine, None);
        assert!((codebook.recon_relative_bias - 1.0).abs() < 1e-12);
    }

    #[test]
    fn the_tied_codebook_update_with_alpha_one_is_the_true_gradient() {
        // docs/TRUE-GRADIENT.md: in the tied model the codebook's true
        // gradient is the α-term's with α = 1, the report's α; STE's
        // codebook update differs from it only by noise (the batches' and
        // the finite difference's).
        let point = at_start(ModelKind::Tied, vec![Estimator::Ste]);
        let e = &point.estimators[0];
        let codebook = group(e, Group::Codebook);
        let noise = codebook
            .mean_relative_error
            .hypot(codebook.truth_relative_error);
        assert!(
            codebook.relative_bias_raw < 3.0 * noise,
            "{} vs noise {noise}",
            codebook.relative_bias_raw
        );
        // One mean SGD step lowers J (both steps are small: ratio near its
        // first-order value cos(ḡ, ∇J) on all groups).
        let descent = e.descent_ratio.unwrap();
        assert!(descent.value > 0.0, "{descent:?}");
    }

    #[test]
    fn bad_options_are_refused_naming_the_field() {
        let (_, _, data) = crate::studies::gradquality::objective::tests::exp1();
        let config = TrainConfig::report_default()
            .check(data.train.nrows(), data.dim())
            .unwrap();
        let good = MeasureOptions {
            config,
            run_estimator: Estimator::Ste,
            estimators: vec![Estimator::Ste],
            at: vec![0, 200],
            batches: 10,
            step: 0.01,
        };
        good.check().unwrap();
        let cases: Vec<(MeasureOptions, &str)> = vec![
            (
                MeasureOptions {
                    batches: 1,
                    ..good.clone()
                },
                "batches = 1",
            ),
            (
                MeasureOptions {
                    step: 0.0,
                    ..good.clone()
                },
                "step = 0",
            ),
            (
                MeasureOptions {
                    at: vec![0, 201],
                    ..good.clone()
                },
                "at = 201",
            ),
            (
                MeasureOptions {
                    at: vec![],
                    ..good.clone()
                },
                "at =",
            ),
            (
                MeasureOptions {
                    estimators: vec![],
                    ..good.clone()
                },
                "estimator =",
            ),
        ];
        for (options, needle) in cases {
            let err = options.check().unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
    }
}
