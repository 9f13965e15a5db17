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
use serde::{Deserialize, Serialize};

use super::bins::{ste_bias_by_error, ErrorBin};
use super::objective::{mean_with_error, moved, row_losses, Direction, Estimate};
use super::truth::{true_gradient, TrueGradient};
use crate::error::{invalid, Result};
use crate::model::{Backend, Draws, Estimator, LossWeights, Manifold, MethodSpec, Params, Side};
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::stiefel::riemannian_gradient;
use crate::optim::OptimizerKind;
use crate::train::{BatchSampler, ValidTrainConfig};

/// A group of parameters the measures are reported for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Group {
    /// Parameters of the encoder alone.
    Encoder,
    /// Parameters of the decoder alone.
    Decoder,
    /// Parameters of both (the tied W).
    #[serde(rename = "encoder+decoder")]
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
        match params.model.model().sides_of(&params.model, index) {
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

    /// The group that holds the encoder's parameters: the encoder's own, or
    /// the tied W the encoder shares with the decoder.
    pub fn encoder_of(params: &Params) -> Group {
        let groups = Group::every(params);
        if groups.contains(&Group::EncoderDecoder) {
            Group::EncoderDecoder
        } else {
            Group::Encoder
        }
    }

    /// ⟨a, b⟩ over this group's blocks.
    pub(crate) fn dot(self, params: &Params, a: &Direction, b: &Direction) -> f64 {
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
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GroupQuality {
    /// The group.
    pub group: Group,
    /// ‖∇J‖ on the group (scaled units).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub truth_norm: f64,
    /// The standard error of ∇J's boundary part on the group, √(Σ se²),
    /// over ‖∇J‖: the truth's noise that remains in a comparison with
    /// updates taken on the same rows (the interior part is exact on them).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub truth_relative_error: f64,
    /// The standard error of ∇J as an estimate of the population's, over
    /// ‖∇J‖ (what more rows would change).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub truth_population_error: f64,
    /// The noise in ḡ − ∇J over ‖∇J‖,
    /// √(`mean_relative_error`² + `truth_relative_error`²): a bias or a
    /// departure of the cosine from 1 of about this size is noise.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub noise: f64,
    /// cos(ḡ, ∇J): 1 when the mean update points along the true gradient
    /// (`null` when the update is zero on the group). Noise pulls it below
    /// 1 (an unbiased update with `noise` ν scores about 1/√(1 + ν²)).
    pub cosine: Option<f64>,
    /// ‖E ĝ − ∇J‖ / ‖∇J‖, estimated without the mean's own noise:
    /// √max(0, ‖ḡ − ∇J‖² − E‖ĝ − ḡ‖²/batches) / ‖∇J‖. ∇J is taken on the
    /// rows the batches come from, so for a fixed-assignment part (the
    /// decoder) an unbiased estimator scores 0 up to the noise of this
    /// estimate; elsewhere ∇J's boundary noise remains. Compare it with
    /// `noise`; near 0 it is biased upwards by the max(0, ·).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub relative_bias: f64,
    /// ‖ḡ − ∇J‖ / ‖∇J‖ as measured (the mean's noise included).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub relative_bias_raw: f64,
    /// E‖ĝ − ḡ‖² per batch of the run's size (scaled units).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub variance: f64,
    /// E‖ĝ − ḡ‖² / ‖∇J‖² per batch of the run's size.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub relative_variance: f64,
    /// The standard error of ḡ, √(E‖ĝ − ḡ‖² / batches), over ‖∇J‖.
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub mean_relative_error: f64,
    /// cos(ḡ_recon, ∇J): the reconstruction part of the update alone
    /// (`null` where it is zero: STE sends nothing to the codebook).
    pub recon_cosine: Option<f64>,
    /// The relative bias of the reconstruction part (as `relative_bias`).
    #[serde(deserialize_with = "crate::infra::io::f64_or_nan")]
    pub recon_relative_bias: f64,
}

/// A ratio with its standard error.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Ratio {
    /// The value.
    pub value: f64,
    /// Its standard error (delta method over the rows).
    pub std_error: f64,
}

/// How far one mean SGD step lowers J, against a step of the same length
/// along −∇J.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Descent {
    /// ‖η ḡ‖, the length of the step (scaled units; η_W on the network,
    /// η_E on the codebook, the schedule's rates at that step).
    pub step_length: f64,
    /// J(θ) − J(θ − η ḡ) on the rows, with its standard error.
    pub estimator_drop: Estimate,
    /// J(θ) − J(θ − s ∇J/‖∇J‖), s = ‖η ḡ‖, with its standard error.
    pub gradient_drop: Estimate,
    /// estimator_drop / gradient_drop (`null` when the step is zero or the
    /// gradient's drop is not above twice its standard error). Not bounded
    /// by 1: the steps are finite, and the estimator's step weighs the
    /// network and the codebook by η_W and η_E while the reference step
    /// weighs them alike. The noise of ḡ is not in its standard error.
    pub ratio: Option<Ratio>,
}

/// The measures of one estimator at one point.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EstimatorQuality {
    /// The estimator.
    pub estimator: Estimator,
    /// Per group.
    pub groups: Vec<GroupQuality>,
    /// One mean SGD step against a step along −∇J (`null` under Adam,
    /// whose step is not η ḡ).
    pub descent: Option<Descent>,
}

/// Everything measured at one point of the run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PointQuality {
    /// Steps of the run before this point.
    pub step: usize,
    /// J(θ) on the rows (scaled units).
    pub objective: Estimate,
    /// Per measured estimator.
    pub estimators: Vec<EstimatorQuality>,
    /// Gumbel-Softmax (soft) at each of the options' extra temperatures.
    pub gumbel_by_tau: Vec<AtTemperature>,
    /// STE's bias on the encoder's parameters by the rows' quantization
    /// error ‖z − q‖, in bins of equal counts, smallest first.
    pub ste_bias_by_error: Vec<ErrorBin>,
}

/// One estimator's measures at a temperature.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AtTemperature {
    /// The Gumbel temperature τ.
    pub tau: f64,
    /// The measures.
    pub quality: EstimatorQuality,
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
    /// Temperatures Gumbel-Softmax (soft) is also measured at, beside the
    /// run's own (bias against variance as τ falls); may be empty.
    pub taus: Vec<f64>,
}

impl MeasureOptions {
    /// Checks the options against the run and the `rows` ∇J and the
    /// batches come from; one error per bad field.
    pub fn check(&self, rows: usize) -> Result<()> {
        if self.batches < 2 {
            return Err(invalid("batches", self.batches, "at least 2"));
        }
        if !(self.step.is_finite() && self.step > 0.0) {
            return Err(invalid("h", self.step, "a finite number > 0"));
        }
        let least = self.config.batch.max(2 * super::truth::ERROR_BLOCKS);
        if rows < least {
            return Err(invalid(
                "n-eval",
                rows,
                format!(
                    "at least {least} rows for ∇J and the batches (the batch size {} and two per error block; with --data or --set: training rows)",
                    self.config.batch
                ),
            ));
        }
        if self.config.k < 2 {
            return Err(invalid(
                "k",
                self.config.k,
                "at least 2 codes (a boundary to cross)",
            ));
        }
        if let Some(&t) = self.at.iter().find(|&&t| t > self.config.steps) {
            return Err(invalid(
                "at",
                t,
                format!("a step of the run, at most --steps {}", self.config.steps),
            ));
        }
        if let Some(&tau) = self.taus.iter().find(|t| !(t.is_finite() && **t > 0.0)) {
            return Err(invalid("tau", tau, "every τ finite and > 0"));
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
        (self.at.len() * (2 + self.estimators.len() + self.taus.len())) as u64
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
    let mut sampler = BatchSampler::on_stream(
        seed,
        Stream::MeasureBatches,
        rows.nrows(),
        options.config.batch,
    );
    let mut draw_rng = rng_for(seed, Stream::Measure);
    let mut draws = Draws::none();
    let shape = (
        params.latent_rows(options.config.batch),
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
    let relative = |e: &Direction| group.dot(params, e, e).sqrt() / norm;
    let truth_relative_error = relative(&truth.boundary_error);
    let mean_relative_error = (variance / batches as f64).sqrt() / norm;
    let (raw, debiased) = bias(mean, variance);
    GroupQuality {
        group,
        truth_norm: norm,
        truth_relative_error,
        truth_population_error: relative(&truth.std_error),
        noise: mean_relative_error.hypot(truth_relative_error),
        cosine: cosine(mean),
        relative_bias: debiased,
        relative_bias_raw: raw,
        variance,
        relative_variance: variance / truth_sq,
        mean_relative_error,
        recon_cosine: cosine(recon_mean),
        recon_relative_bias: bias(recon_mean, recon_variance).1,
    }
}

/// The drops J(θ) − J(θ + step) and J(θ) − J(θ + reference) on `rows`
/// (every side on the same rows) and their ratio, its standard error by
/// the delta method.
fn descent(
    params: &Params,
    rows: ArrayView2<f64>,
    base: &[f64],
    step: &Direction,
    reference: &Direction,
    step_length: f64,
) -> Result<Descent> {
    let drop = |d: &Direction| -> Result<Vec<f64>> {
        let after = row_losses(&moved(params, d, 1.0)?, rows);
        Ok(base.iter().zip(after.iter()).map(|(b, a)| b - a).collect())
    };
    let (a, b) = (drop(step)?, drop(reference)?);
    let estimate = |v: &[f64]| mean_with_error(v.iter().copied());
    let (estimator_drop, gradient_drop) = (estimate(&a), estimate(&b));
    let ratio =
        (step_length > 0.0 && gradient_drop.value > 2.0 * gradient_drop.std_error).then(|| {
            let value = estimator_drop.value / gradient_drop.value;
            let linearised: Vec<f64> = a
                .iter()
                .zip(&b)
                .map(|(x, y)| (x - value * y) / gradient_drop.value)
                .collect();
            Ratio {
                value,
                std_error: estimate(&linearised).std_error,
            }
        });
    Ok(Descent {
        step_length,
        estimator_drop,
        gradient_drop,
        ratio,
    })
}

/// What every estimator at one point is measured against.
struct Reference<'a, 'r> {
    params: &'a Params,
    rows: ArrayView2<'r, f64>,
    truth: &'a TrueGradient,
    /// Every row's loss at `params`.
    base: &'a [f64],
    /// The schedule's rates at the point: (η_W, η_E).
    rates: (f64, f64),
}

/// The measures of `estimator` (Gumbel's draws at temperature `tau`).
fn estimator_quality(
    reference: &Reference<'_, '_>,
    options: &MeasureOptions,
    estimator: Estimator,
    tau: f64,
) -> Result<EstimatorQuality> {
    let Reference {
        params,
        rows,
        truth,
        base,
        rates: (lr_w, lr_e),
    } = *reference;
    let (full, recon) = estimator_gradients(params, rows, options, estimator, tau)?;
    let (mean, variance) = moments(params, &full);
    let (recon_mean, recon_variance) = moments(params, &recon);
    let groups = variance
        .iter()
        .zip(&recon_variance)
        .map(|(&(group, var), &(_, recon_var))| {
            group_quality(
                params,
                group,
                truth,
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
    let descent = match options.config.optimizer.kind {
        OptimizerKind::Sgd => Some(descent(
            params,
            rows,
            base,
            &step_dir,
            &scaled(&truth.gradient, -length / truth_norm),
            length,
        )?),
        OptimizerKind::Adam => None,
    };
    Ok(EstimatorQuality {
        estimator,
        groups,
        descent,
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
    let reference = Reference {
        params,
        rows,
        truth: &truth,
        base: base.as_slice().expect("contiguous"),
        rates: (
            config
                .schedule
                .rate(config.lr_w, config.schedule.lr_final_w, step, config.steps),
            config
                .schedule
                .rate(config.lr_e, config.schedule.lr_final_e, step, config.steps),
        ),
    };
    let run_tau = config.gumbel.tau_at(step);
    let mut estimators = Vec::new();
    for &estimator in &options.estimators {
        estimators.push(estimator_quality(&reference, options, estimator, run_tau)?);
        progress(estimator.name());
    }
    let mut gumbel_by_tau = Vec::new();
    for &tau in &options.taus {
        gumbel_by_tau.push(AtTemperature {
            tau,
            quality: estimator_quality(&reference, options, Estimator::Gumbel, tau)?,
        });
        progress("gumbel τ");
    }
    let group = Group::encoder_of(params);
    let ste_bias_by_error =
        ste_bias_by_error(params, rows, &truth, |d| group.dot(params, d, d).sqrt())?;
    progress("STE by ‖z − q‖");
    Ok(PointQuality {
        step,
        objective,
        estimators,
        gumbel_by_tau,
        ste_bias_by_error,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelKind;
    use crate::train::TrainConfig;

    /// The measures at the exp-1 start (PCA + Lloyd) of `model`, on 100,000
    /// fresh rows, 400 batches each.
    fn at_start(model: ModelKind, estimators: Vec<Estimator>) -> PointQuality {
        let (params, config, data) =
            crate::studies::gradquality::objective::tests::exp1_start(model);
        let options = MeasureOptions {
            config,
            run_estimator: Estimator::Ste,
            estimators,
            at: vec![0],
            batches: 400,
            step: 0.01,
            taus: Vec::new(),
        };
        let rows = data.eval.slice(ndarray::s![..100_000, ..]);
        options.check(rows.nrows()).unwrap();
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
        let noise = codebook.noise;
        assert!(
            codebook.relative_bias_raw < 3.0 * noise,
            "{} vs noise {noise}",
            codebook.relative_bias_raw
        );
        // One mean SGD step lowers J (both steps are small: ratio near its
        // first-order value cos(ḡ, ∇J) on all groups).
        let descent = e.descent.unwrap();
        assert!(
            descent.estimator_drop.value > 3.0 * descent.estimator_drop.std_error,
            "{descent:?}"
        );
        assert!(descent.ratio.unwrap().value > 0.0, "{descent:?}");
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
            taus: vec![1.0],
        };
        good.check(20_000).unwrap();
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
                "h = 0",
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
                    taus: vec![0.5, 0.0],
                    ..good.clone()
                },
                "tau = 0",
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
            let err = options.check(20_000).unwrap_err().to_string();
            assert!(err.contains(needle), "{needle}: {err}");
        }
        let err = good.check(511).unwrap_err().to_string();
        assert!(err.contains("n-eval = 511"), "{err}");
    }
}
