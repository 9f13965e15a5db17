//! Training: initialisation, seeded mini-batches, the shared update, curves.
mod batches;
mod config;
pub mod rates;
pub mod report;
pub mod saved;

pub use batches::BatchSampler;
pub use config::*;

use std::time::Instant;

use ndarray::{Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::baseline::{Baseline, KMeansConfig};
use crate::data::Dataset;
use crate::error::{invalid, Result, VqError};
use crate::model::codebook::CodebookState;
use crate::model::{Draws, GradientMethod, Gradients, LossParts, Manifold, MethodSpec, Params};
use crate::numerics::linalg::stiefel_defect;
use crate::numerics::metrics::Metrics;
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::Update;

/// The starting parameters for `config` on `train` (N × D), every draw from
/// the seed's initialisation stream.
///
/// * tied: `pca` = the baseline's W and E; `random` = a Haar-random W, E by
///   k-means++ and Lloyd on X W;
/// * untied: the same, with V = W;
/// * mlp (`random` only): `nn.Linear`'s default for every layer
///   ([`crate::model::mlp::init_network`]), E by k-means++ and Lloyd on the
///   initial encoder's codes.
pub fn initial_params(train: ArrayView2<f64>, config: &TrainConfig) -> Result<Params> {
    let mut rng = rng_for(config.seed, Stream::Init);
    let kmeans = KMeansConfig {
        k: config.k,
        iters: config.kmeans_iters,
    };
    let model = config.model.model();
    match config.init {
        Init::Pca if !model.starts_from_basis() => Err(invalid(
            "init",
            "pca",
            format!(
                "random for the {} model (PyTorch's nn.Linear default)",
                config.model.kind.name()
            ),
        )),
        Init::Pca => {
            let base = Baseline::fit(train, config.m, kmeans, &mut rng)?;
            Ok(Params {
                model: config.model,
                weights: model.network_from_basis(base.w),
                codebook: base.codebook,
            })
        }
        Init::Random => {
            let weights = model.random_network(&config.model, train.ncols(), config.m, &mut rng)?;
            let mut params = Params {
                model: config.model,
                weights,
                codebook: Array2::zeros((0, config.m)),
            };
            let z = params.encode(train);
            params.codebook = kmeans.check(train.nrows())?.fit(z.view(), &mut rng).centres;
            Ok(params)
        }
    }
}

/// The largest ‖WᵀW − I‖_max over the Stiefel parameters (None when the
/// model has none).
pub fn max_stiefel_defect(params: &Params) -> Option<f64> {
    params
        .weights
        .iter()
        .enumerate()
        .filter(|(i, _)| params.model.manifold_of(*i) == Manifold::Stiefel)
        .map(|(_, w)| stiefel_defect(w.view()))
        .reduce(f64::max)
}

/// One point of a training curve.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CurvePoint {
    /// Steps taken before this evaluation (0 = the initial state).
    pub step: usize,
    /// Loss parts on the batch of this step (at step 0: the first batch), in
    /// the data's units like every metric.
    pub batch_loss: LossParts,
    /// Metrics on the evaluation set.
    pub eval: Metrics,
    /// Dead codes restarted since the previous point (only with
    /// `--dead-code-threshold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<usize>,
}

/// Timing of a run.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Timing {
    /// Wall time of the training steps (gradients + update), seconds.
    pub train_seconds: f64,
    /// train_seconds / steps.
    pub seconds_per_step: f64,
}

/// The result of [`train`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainResult {
    /// The method (the report's shorthand where there is one, otherwise
    /// `model/estimator/backend`).
    pub method: MethodSpec,
    /// The configuration.
    pub config: TrainConfig,
    /// Metrics of the initial parameters on the evaluation set.
    pub initial: Metrics,
    /// Every `log_every` steps (and the last step).
    pub curve: Vec<CurvePoint>,
    /// Metrics after the last step on the evaluation set.
    #[serde(rename = "final")]
    pub final_metrics: Metrics,
    /// Metrics after the last step on the training set.
    pub final_train: Metrics,
    /// The largest ‖WᵀW − I‖_max of a Stiefel parameter seen after any step
    /// (`null` for models without one).
    pub max_stiefel_defect: Option<f64>,
    /// Timing of the steps (evaluation excluded).
    pub timing: Timing,
    /// Dead codes restarted over the run (only with `--dead-code-threshold`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restarts: Option<usize>,
    /// What went wrong without stopping the run: a collapsed codebook, an
    /// eval recon worse than at the start, more dead codes than at the start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// The data: source, split, centring and scaling (metrics are in the
    /// data's own units).
    #[serde(default, skip_deserializing, skip_serializing_if = "Option::is_none")]
    pub data: Option<crate::data::DataInfo>,
    /// Where the learning rates came from (`vqlab train` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<crate::train::rates::RateOrigin>,
    /// The run diverged and stopped there (`vqlab train` only, see
    /// [`Stops::keep_diverged`]): the metrics and parameters are those of
    /// that step (of the step before, for a non-finite value).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diverged: Option<Divergence>,
    /// The run was stopped (Ctrl-C) after this many steps: the metrics and
    /// parameters are those of that step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_at: Option<usize>,
    /// The vqlab version and code fingerprint (`vqlab train` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<crate::infra::provenance::Provenance>,
    /// Image data only: the final PSNR on the evaluation set, in dB, with
    /// the training entries' range as the peak
    /// ([`crate::numerics::metrics::psnr_db`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub psnr_db: Option<f64>,
    /// Final parameters (not serialized; see `--save-params`).
    #[serde(skip)]
    pub params: Option<Params>,
}

/// A run counts as diverged when its eval recon passes this multiple of the
/// start's (or any value stops being finite).
pub const DIVERGENCE_FACTOR: f64 = 100.0;

/// How a run diverged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Divergence {
    /// The step at which it was seen (a logged step for an eval recon out
    /// of range).
    pub step: usize,
    /// What: the quantity that stopped being finite, or the eval recon that
    /// passed [`DIVERGENCE_FACTOR`] × the start's.
    pub what: String,
}

/// The first of the step's loss and gradients that is not finite, by name.
fn non_finite_gradient(grads: &Gradients, params: &Params) -> Option<String> {
    if !grads.loss.total.is_finite() {
        return Some("loss".into());
    }
    for (i, g) in grads.grad_weights.iter().enumerate() {
        if !g.iter().all(|v| v.is_finite()) {
            return Some(format!("∂L/∂{}", params.layout()[i].name));
        }
    }
    (!grads.grad_e.iter().all(|v| v.is_finite())).then(|| "∂L/∂E".into())
}

/// The first parameter that is not finite, by name.
fn non_finite_parameter(params: &Params) -> Option<String> {
    for (i, w) in params.weights.iter().enumerate() {
        if !w.iter().all(|v| v.is_finite()) {
            return Some(params.layout()[i].name.to_string());
        }
    }
    (!params.codebook.iter().all(|v| v.is_finite())).then(|| "E".into())
}

/// When [`train_until`] stops before its last step.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stops<'a> {
    /// Set (by Ctrl-C) to stop after the step in progress: the result holds
    /// that step's metrics and parameters and `interrupted_at`.
    pub interrupt: Option<&'a std::sync::atomic::AtomicBool>,
    /// Stop at divergence and keep what there is instead of failing: at a
    /// non-finite loss, gradient or parameter (the parameters of the step
    /// before), or at a logged step whose eval recon passes
    /// [`DIVERGENCE_FACTOR`] × the start's; the result has `diverged` set.
    /// Off, a non-finite value is [`VqError::Diverged`] (the studies'
    /// behaviour).
    pub keep_diverged: bool,
    /// Stop after this step (`interrupted_at` says so): the parameters of
    /// the whole run at that step, its schedule included.
    pub stop_after: Option<usize>,
}

/// Trains `method` on `data` from `start` (or the config's initialisation).
/// `progress` is called after every step with the number of steps done.
pub fn train(
    method: &mut dyn GradientMethod,
    data: &Dataset,
    config: &ValidTrainConfig,
    start: Option<Params>,
    progress: impl FnMut(usize),
) -> Result<TrainResult> {
    train_until(method, data, config, start, progress, Stops::default())
}

/// [`train`], stopping early as `stops` says: on an interruption or, with
/// `keep_diverged`, at divergence (see [`Stops`]).
pub fn train_until(
    method: &mut dyn GradientMethod,
    data: &Dataset,
    config: &ValidTrainConfig,
    start: Option<Params>,
    mut progress: impl FnMut(usize),
    stops: Stops,
) -> Result<TrainResult> {
    if data.train.nrows() != config.n_train || data.dim() != config.dim {
        return Err(VqError::Shape(format!(
            "the configuration was checked against {} × {} training data, not {} × {}",
            config.n_train,
            config.dim,
            data.train.nrows(),
            data.dim()
        )));
    }
    let kind = method.spec();
    let mut params = match start {
        Some(p) => p,
        None => initial_params(data.train.view(), config)?,
    };
    if params.model.kind != kind.model.kind {
        return Err(VqError::Shape(format!(
            "{} cannot train parameters of the {} model",
            kind.name(),
            params.model.kind.name()
        )));
    }
    let mut optimizer = config.build_optimizer();
    let mut codebook_state = (!config.codebook.is_default())
        .then(|| CodebookState::new(config.codebook, params.codebook.view(), config.batch));
    let restarting = config.codebook.dead_code_threshold.is_some();
    let mut restart_rng = rng_for(config.seed, Stream::Restart);
    let mut restarts_logged = 0;
    let svd = config.svd.for_method(kind);
    let mut draw_rng = rng_for(config.seed, Stream::Estimator);
    let mut draws = Draws::none();
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let units = |m: Metrics| m.in_units(data.scale);
    let initial = units(params.evaluate(data.eval.view()));
    let mut curve = Vec::new();
    let mut max_defect = max_stiefel_defect(&params);
    let mut elapsed = 0.0;
    let mut grads = Gradients::empty();
    let mut interrupted_at = None;
    let mut diverged: Option<Divergence> = None;
    let blow_up_limit = DIVERGENCE_FACTOR * initial.recon_mse;
    // What a non-finite value means: an error, or (keep_diverged) the end of
    // the run at the step before.
    let fail = |step: usize, quantity: String| VqError::Diverged {
        method: kind.name().to_string(),
        step,
        quantity,
    };
    let mut before_step: Option<Params> = None;
    for step in 1..=config.steps {
        if stops.keep_diverged {
            // Untimed: the parameters to go back to if this step overflows.
            before_step = Some(params.clone());
        }
        // Timed: drawing the batch, the gradients (the manual methods read the
        // batch rows in place, the autograd ones gather them), the update.
        let started = Instant::now();
        let rows = sampler.next_indices();
        let shape = (
            params.latent_rows(rows.len()),
            params.code_dim(),
            params.codebook.nrows(),
        );
        draws.draw(
            kind.estimator,
            shape,
            config.gumbel.tau_at(step - 1),
            &mut draw_rng,
        );
        method.gradients_rows(&params, data.train.view(), rows, &draws, &mut grads)?;
        if let Some(quantity) = non_finite_gradient(&grads, &params) {
            if !stops.keep_diverged {
                return Err(fail(step, quantity));
            }
            diverged = Some(Divergence {
                step,
                what: format!("{quantity} is not finite"),
            });
            break;
        }
        optimizer.apply(&mut params, &grads, svd, config.codebook.by_gradient())?;
        if let Some(state) = codebook_state.as_mut() {
            state.update(
                &mut params.codebook,
                grads.codes.view(),
                &grads.assignments,
                &mut restart_rng,
            );
        }
        elapsed += started.elapsed().as_secs_f64();
        if let Some(quantity) = non_finite_parameter(&params) {
            match before_step.take() {
                None => return Err(fail(step, quantity)),
                Some(kept) => {
                    params = kept;
                    diverged = Some(Divergence {
                        step,
                        what: format!("{quantity} is not finite"),
                    });
                    break;
                }
            }
        }
        if let (Some(seen), Some(now)) = (max_defect, max_stiefel_defect(&params)) {
            max_defect = Some(seen.max(now));
        }
        let stopping = (stops
            .interrupt
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
            || stops.stop_after == Some(step))
            && step < config.steps;
        let log_now = (config.log_every > 0 && step % config.log_every == 0)
            || step == config.steps
            || stopping;
        if step == 1 && config.log_every > 0 {
            curve.push(CurvePoint {
                step: 0,
                batch_loss: grads.loss.in_units(data.scale),
                eval: initial,
                restarts: restarting.then_some(0),
            });
        }
        if log_now {
            let total = codebook_state.as_ref().map_or(0, |s| s.restarts());
            let eval = units(params.evaluate(data.eval.view()));
            curve.push(CurvePoint {
                step,
                batch_loss: grads.loss.in_units(data.scale),
                eval,
                restarts: restarting.then_some(total - restarts_logged),
            });
            restarts_logged = total;
            let recon = eval.recon_mse;
            if stops.keep_diverged && (!recon.is_finite() || recon > blow_up_limit) {
                diverged = Some(Divergence {
                    step,
                    what: format!(
                        "eval recon_mse {} > {DIVERGENCE_FACTOR} × the start's {}",
                        readable(recon),
                        readable(initial.recon_mse)
                    ),
                });
                progress(step);
                break;
            }
        }
        progress(step);
        if stopping {
            interrupted_at = Some(step);
            break;
        }
    }
    let steps_done = diverged
        .as_ref()
        .map(|d| d.step)
        .or(interrupted_at)
        .unwrap_or(config.steps);
    let final_metrics = units(params.evaluate(data.eval.view()));
    let final_train = units(params.evaluate(data.train.view()));
    let warnings = run_warnings(
        &initial,
        &final_metrics,
        params.codebook.nrows(),
        config.codebook.by_gradient(),
    );
    let described = data.describe();
    let psnr_db = described
        .pixel_range
        .map(|peak| crate::numerics::metrics::psnr_db(final_metrics.recon_mse, data.dim(), peak));
    Ok(TrainResult {
        method: kind,
        config: config.config().clone(),
        initial,
        curve,
        final_metrics,
        final_train,
        max_stiefel_defect: max_defect,
        timing: Timing {
            train_seconds: elapsed,
            seconds_per_step: if steps_done > 0 {
                elapsed / steps_done as f64
            } else {
                0.0
            },
        },
        restarts: restarting.then(|| codebook_state.as_ref().map_or(0, |s| s.restarts())),
        warnings,
        data: Some(described),
        rates: None,
        diverged,
        interrupted_at,
        provenance: None,
        psnr_db,
        params: Some(params),
    })
}

/// What a finished run should say about itself: a collapsed codebook, an
/// eval recon worse than at the start by at least 0.05 % (usually a learning
/// rate too large for the data's scale; `codebook_by_gradient`: whether
/// η_E is one of the rates to look at), more dead codes than at the start.
pub fn run_warnings(
    initial: &Metrics,
    last: &Metrics,
    k: usize,
    codebook_by_gradient: bool,
) -> Vec<String> {
    let mut warnings = Vec::new();
    let dead = |m: &Metrics| (m.dead_code_fraction * k as f64).round() as usize;
    if k > 1 && k - dead(last) <= 1 {
        warnings.push(format!(
            "the codebook collapsed: every evaluation point is on one of the {k} codes"
        ));
    }
    let rise = 100.0 * (last.recon_mse - initial.recon_mse) / initial.recon_mse;
    if rise >= 0.05 && rise.is_finite() {
        let rise = if rise < 1e6 {
            format!("{rise:+.1} %")
        } else {
            format!("× {}", readable(last.recon_mse / initial.recon_mse))
        };
        warnings.push(format!(
            "eval recon_mse rose from {} at the start to {} ({rise}){}",
            readable(initial.recon_mse),
            readable(last.recon_mse),
            match (last.recon_mse > 1.05 * initial.recon_mse, codebook_by_gradient) {
                (false, _) => " (--lr auto chooses rates on validation rows)",
                (true, true) => ": the learning rates may be too large for these data (see --lr auto, --lr-w, --lr-e, --scale)",
                (true, false) => ": the learning rate may be too large for these data (see --lr auto, --lr-w, --scale)",
            }
        ));
    }
    if dead(last) > dead(initial) {
        warnings.push(format!(
            "dead codes rose from {} at the start to {} of {k} (see --dead-code-threshold)",
            dead(initial),
            dead(last)
        ));
    }
    warnings
}

/// `v` with 5 significant digits, in scientific notation outside
/// [10⁻⁴, 10⁸) (a run that blew up prints as 1.3906e68, not 69 digits).
///
/// ```
/// use vqlab::train::readable;
/// assert_eq!(readable(27370.123), "27370");
/// assert_eq!(readable(1.39e68), "1.3900e68");
/// assert_eq!(readable(0.0), "0");
/// ```
pub fn readable(v: f64) -> String {
    let a = v.abs();
    if v != 0.0 && a.is_finite() && !(1e-4..1e8).contains(&a) {
        format!("{v:.4e}")
    } else {
        significant(v)
    }
}

/// `v` with 5 significant digits (and zero printed as 0, never −0).
pub fn significant(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{}", if v == 0.0 { 0.0 } else { v });
    }
    let digits = (4 - v.abs().log10().floor() as i32).clamp(0, 12) as usize;
    format!("{:.*}", digits, v + 0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_recon(recon_mse: f64) -> Metrics {
        Metrics {
            recon_mse,
            insub_distortion: 1.0,
            residual: None,
            usage_entropy: 2.0,
            utilization: 1.0,
            perplexity: 7.0,
            dead_code_fraction: 0.0,
        }
    }

    #[test]
    fn a_rise_under_half_a_per_mille_is_no_warning_and_a_larger_one_points_to_lr_auto() {
        let start = with_recon(100.0);
        assert!(run_warnings(&start, &with_recon(100.04), 16, true).is_empty());
        let small = run_warnings(&start, &with_recon(101.0), 16, true);
        assert!(
            small[0].contains("+1.0 %") && small[0].contains("--lr auto"),
            "{small:?}"
        );
        // Large rises name the rates to look at; η_E only when E follows it.
        let grad = run_warnings(&start, &with_recon(150.0), 16, true);
        assert!(grad[0].contains("--lr-e"), "{grad:?}");
        let ema = run_warnings(&start, &with_recon(150.0), 16, false);
        assert!(!ema[0].contains("--lr-e"), "{ema:?}");
        // A blown-up value prints as a ratio, in scientific notation.
        let huge = run_warnings(&start, &with_recon(1e70), 16, true);
        assert!(huge[0].contains("× 1.0000e68"), "{huge:?}");
    }
}
