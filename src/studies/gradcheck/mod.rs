//! The gradient harness: autograd and hand-derived gradients side by side,
//! step by step, for every model and estimator.
//!
//! * **lockstep**: at every step every estimator's autograd and manual twin
//!   get the same parameters and batch; the state then moves with the manual
//!   STE gradients (the update is shared, so only gradient code is compared);
//! * **free-running**: autograd STE and manual STE each follow their own
//!   trajectory (their own SVD by default) from the same start and batches;
//! * **estimators**: at the lockstep states, how far the residual projection
//!   (the report's "rotation") and the rotation trick move ∂L/∂θ away from
//!   STE;
//! * **finite differences**: every estimator's gradient, on both backends,
//!   against central differences of the estimator's *surrogate* loss at
//!   random states (see [`surrogate_loss`]);
//! * **Stiefel invariant**: ‖WᵀW − I‖ over a long run (models with a Stiefel
//!   parameter).
//!
//! Relative errors are max-norm relative, per parameter:
//! ‖A − B‖_max / ‖B‖_max, with B the autograd (or finite-difference) value;
//! a figure "over all parameters" is the largest of the per-parameter ones
//! (E included).
use std::collections::BTreeMap;
use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis};
use rand::Rng;
use serde::Serialize;

use crate::data::Dataset;
use crate::error::Result;
use crate::infra::io::{create_dir, write_npy};
use crate::model::{
    Backend, Draws, Estimator, GradientMethod, Gradients, LossWeights, MethodSpec, ModelKind,
    ModelSpec, Params,
};
use crate::numerics::linalg::{gaussian_matrix, random_stiefel};
use crate::numerics::metrics::Metrics;
use crate::numerics::quantize::nearest_codes;
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::stiefel::SvdSource;
use crate::optim::Update;
use crate::train::{initial_params, max_stiefel_defect, BatchSampler, TrainConfig};

mod lockstep;
pub use lockstep::*;
mod free_run;
pub use free_run::*;
mod finite_diff;
pub use finite_diff::*;
mod long_run;
pub use long_run::*;

/// ‖a − b‖_max / ‖b‖_max (‖a − b‖_max when b = 0).
pub fn max_rel_err(a: ArrayView2<f64>, b: ArrayView2<f64>) -> f64 {
    let diff = (&a - &b).iter().fold(0.0f64, |m, v| m.max(v.abs()));
    let scale = b.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    if scale > 0.0 {
        diff / scale
    } else {
        diff
    }
}

/// The names of a model's parameters with E last: the keys of the
/// per-parameter figures and of the `--dump` files.
pub fn param_names(params: &Params) -> Vec<&'static str> {
    let mut names: Vec<_> = params.layout().iter().map(|p| p.name).collect();
    names.push("E");
    names
}

/// The per-parameter relative errors of `candidate` against `reference`
/// (E last).
fn rel_errs(candidate: &Gradients, reference: &Gradients) -> Vec<f64> {
    candidate
        .grad_weights
        .iter()
        .zip(&reference.grad_weights)
        .map(|(c, r)| max_rel_err(c.view(), r.view()))
        .chain(std::iter::once(max_rel_err(
            candidate.grad_e.view(),
            reference.grad_e.view(),
        )))
        .collect()
}

/// One lockstep step of one (reference, candidate) pair.
#[derive(Debug, Clone, Serialize)]
pub struct LockstepStep {
    /// Step number (1-based).
    pub step: usize,
    /// |L_candidate − L_reference| of the total loss.
    pub loss_abs_err: f64,
    /// Largest per-parameter relative error of the gradient.
    pub rel_err_grad: f64,
    /// Batch rows whose assignment differs between the two.
    pub assignments_differ: usize,
}

/// Lockstep agreement of a candidate (manual) with a reference (autograd)
/// over all steps.
#[derive(Debug, Clone, Serialize)]
pub struct PairSummary {
    /// The estimator both implement.
    pub estimator: Estimator,
    /// The reference (autograd) method.
    pub reference: MethodSpec,
    /// The candidate (manual) method.
    pub candidate: MethodSpec,
    /// Largest relative error of any parameter's gradient over all steps.
    pub max_rel_err_grad: f64,
    /// Largest relative error per parameter (E included) over all steps.
    pub max_rel_err_by_param: BTreeMap<String, f64>,
    /// Largest absolute error of the loss over all steps.
    pub max_abs_err_loss: f64,
    /// Steps at which some assignment differed.
    pub steps_with_assignment_differences: usize,
    /// Per step.
    pub steps: Vec<LockstepStep>,
}

/// The free-running comparison of two methods.
#[derive(Debug, Clone, Serialize)]
pub struct FreeRunReport {
    /// The reference method.
    pub reference: MethodSpec,
    /// The SVD the reference's retraction used.
    pub reference_svd: SvdSource,
    /// The candidate method.
    pub candidate: MethodSpec,
    /// The SVD the candidate's retraction used.
    pub candidate_svd: SvdSource,
    /// Final eval metrics of the reference.
    pub final_reference: Metrics,
    /// Final eval metrics of the candidate.
    pub final_candidate: Metrics,
    /// |Δ recon_mse| / recon_mse of the reference.
    pub rel_diff_recon_mse: f64,
    /// |Δ insub_distortion| / insub_distortion of the reference.
    pub rel_diff_insub_distortion: f64,
    /// |Δ usage_entropy| / usage_entropy of the reference.
    pub rel_diff_usage_entropy: f64,
    /// The first step at which the two assigned some batch row differently.
    pub first_assignment_flip: Option<usize>,
    /// The largest ‖θ_candidate − θ_reference‖_max over the network
    /// parameters after each step.
    pub param_gap: Vec<f64>,
}

/// How much an estimator changes the gradient relative to STE (both through
/// autograd) at the lockstep states.
#[derive(Debug, Clone, Serialize)]
pub struct EstimatorGap {
    /// The estimator.
    pub estimator: Estimator,
    /// Largest relative difference from STE of any network parameter's
    /// gradient (∂L/∂θ, E excluded), over the steps.
    pub max_rel_diff_grad: f64,
    /// Mean over steps of that relative difference.
    pub mean_rel_diff_grad: f64,
    /// Largest relative difference per parameter (E included).
    pub max_rel_diff_by_param: BTreeMap<String, f64>,
}

/// Finite-difference check of one method.
#[derive(Debug, Clone, Serialize)]
pub struct FiniteDiffCheck {
    /// The method checked.
    pub method: MethodSpec,
    /// Largest relative error of any parameter against central differences.
    pub max_rel_err_grad: f64,
    /// Per parameter (E included).
    pub max_rel_err_by_param: BTreeMap<String, f64>,
}

/// The finite-difference part of the harness.
#[derive(Debug, Clone, Serialize)]
pub struct FiniteDiffReport {
    /// Random states checked.
    pub states: usize,
    /// Central-difference step.
    pub step_size: f64,
    /// Smallest Voronoi margin (second-nearest minus nearest squared
    /// distance) of a kept batch row; rows closer to a boundary (and, for
    /// the ReLU mlp, rows with a hidden pre-activation within 1e-2 of its
    /// kink) are dropped.
    pub min_margin: f64,
    /// Coordinates checked per parameter (all of a smaller parameter; a
    /// seeded random sample of a larger one).
    pub coordinates_per_param: usize,
    /// Coordinate checks (over states and estimators) left out because a
    /// step of ±h or ±h/2 switched one of the conv model's ReLU units (a
    /// kink inside the difference); 0 for the other models, whose rows near
    /// a kink are dropped instead.
    pub skipped_at_kinks: usize,
    /// Coordinate checks made (over states and estimators), those left out
    /// included.
    pub coordinates_checked: usize,
    /// Per method.
    pub checks: Vec<FiniteDiffCheck>,
}

/// Options of the harness.
#[derive(Debug, Clone, Serialize)]
pub struct GradcheckOptions {
    /// The training configuration, model included (experiment 1 by default).
    pub config: TrainConfig,
    /// Random states of the finite-difference check.
    pub fd_states: usize,
    /// Steps of the long Stiefel-invariant run (0: skip; always skipped for
    /// models without a Stiefel parameter).
    pub long_run_steps: usize,
    /// The estimators to check (STE is always checked too: it drives the
    /// lockstep trajectory and is the reference of the estimator
    /// comparison).
    pub estimators: Vec<Estimator>,
}

/// STE first, then the other chosen estimators in `Estimator::ALL`'s order.
fn estimators_checked(chosen: &[Estimator]) -> Vec<Estimator> {
    Estimator::ALL
        .into_iter()
        .filter(|&e| e == Estimator::Ste || chosen.contains(&e))
        .collect()
}

/// The long run that checks the Stiefel invariant.
#[derive(Debug, Clone, Serialize)]
pub struct LongRun {
    /// Steps taken.
    pub steps: usize,
    /// The method whose gradients drove it.
    pub method: MethodSpec,
    /// The retraction's SVD.
    pub svd: SvdSource,
    /// Largest ‖WᵀW − I‖_max after any step.
    pub max_stiefel_defect: f64,
    /// ‖WᵀW − I‖_max after the last step.
    pub final_stiefel_defect: f64,
}

/// Everything the harness measured. The first fields are the headline
/// (every estimator, autograd vs manual, lockstep).
#[derive(Debug, Clone, Serialize)]
pub struct GradcheckReport {
    /// The model checked.
    pub model: ModelKind,
    /// Lockstep, every estimator: the largest relative error of any
    /// parameter's gradient, autograd vs manual.
    pub max_rel_err_grad: f64,
    /// Lockstep, every estimator: the largest absolute loss error.
    pub max_abs_err_loss: f64,
    /// Lockstep: steps at which some assignment differed (any estimator).
    pub steps_with_assignment_differences: usize,
    /// Finite differences: the largest relative error of any method.
    pub max_rel_err_finite_differences: f64,
    /// Largest ‖WᵀW − I‖_max along the lockstep trajectory (`null` without a
    /// Stiefel parameter).
    pub max_stiefel_defect: Option<f64>,
    /// The options used.
    pub options: GradcheckOptions,
    /// The data: source, split, centring and scaling.
    pub data: crate::data::DataInfo,
    /// Lockstep pairs, one per estimator.
    pub lockstep: Vec<PairSummary>,
    /// Free-running autograd STE vs manual STE.
    pub free_running: FreeRunReport,
    /// Estimator gaps from STE at the lockstep states.
    pub estimators: Vec<EstimatorGap>,
    /// Finite differences.
    pub finite_differences: FiniteDiffReport,
    /// The long Stiefel run (absent when skipped).
    pub long_run: Option<LongRun>,
}

fn by_param(names: &[&str], values: &[f64]) -> BTreeMap<String, f64> {
    names
        .iter()
        .zip(values)
        .map(|(n, v)| (n.to_string(), *v))
        .collect()
}

fn elementwise_max(acc: &mut Vec<f64>, values: &[f64]) {
    if acc.len() < values.len() {
        acc.resize(values.len(), 0.0);
    }
    for (a, v) in acc.iter_mut().zip(values) {
        *a = a.max(*v);
    }
}

/// The file name of a gradient in a `--dump` folder:
/// `grad_<param>_<estimator>_<backend>.npy`.
pub fn dump_name(param: &str, method: &MethodSpec) -> String {
    format!(
        "grad_{param}_{}_{}.npy",
        method.estimator.name(),
        method.backend.name()
    )
}

/// Writes the harness's first-step state and every method's gradients as
/// `.npy` into `dir`: each parameter as `<name>.npy` (`W.npy`, `V.npy`,
/// `A1.npy`, …, `E.npy`; biases as 1 × n), `batch.npy`, `assignments.npy`
/// (int64), and every gradient as [`dump_name`].
pub fn dump_state(
    dir: &Path,
    params: &Params,
    batch: ArrayView2<f64>,
    grads: &[(MethodSpec, Gradients)],
) -> Result<()> {
    create_dir(dir)?;
    let names = param_names(params);
    for (name, w) in names.iter().zip(&params.weights) {
        write_npy(&dir.join(format!("{name}.npy")), w)?;
    }
    write_npy(&dir.join("E.npy"), &params.codebook)?;
    write_npy(&dir.join("batch.npy"), &batch.to_owned())?;
    if let Some((_, first)) = grads.first() {
        let a = ndarray::Array1::from(
            first
                .assignments
                .iter()
                .map(|&v| v as i64)
                .collect::<Vec<_>>(),
        );
        write_npy(&dir.join("assignments.npy"), &a)?;
    }
    for (method, g) in grads {
        for (name, grad) in names.iter().zip(g.grad_weights.iter().chain([&g.grad_e])) {
            write_npy(&dir.join(dump_name(name, method)), grad)?;
        }
    }
    Ok(())
}

/// The methods of `estimators` on `backend` for `model`.
fn methods_of(
    model: ModelSpec,
    estimators: &[Estimator],
    backend: Backend,
    weights: LossWeights,
) -> Vec<Box<dyn GradientMethod>> {
    estimators
        .iter()
        .map(|&e| MethodSpec::new(model, e, backend).build(weights))
        .collect()
}

/// Runs every part of the harness. `progress` receives a part's name and is
/// called once per unit of work ([`GradcheckOptions::work_units`] in all).
pub fn run(
    data: &Dataset,
    options: &GradcheckOptions,
    dump: Option<&Path>,
    mut progress: impl FnMut(&str),
) -> Result<GradcheckReport> {
    let checked = options
        .config
        .clone()
        .check(data.train.nrows(), data.dim())?;
    let config: &TrainConfig = &checked;
    let chosen = &options.estimators;
    let (lockstep, estimators, max_defect) =
        lockstep(data, config, chosen, dump, || progress("lockstep"))?;
    let free_running = free_running(data, config, || progress("free-running"))?;
    let finite_differences = finite_differences(data, config, chosen, options.fd_states)?;
    progress("finite differences");
    let long_run = if options.long_run_steps > 0 && options.has_stiefel() {
        // One progress unit per 100 long-run steps: a long-run step costs
        // about a hundredth of a lockstep step, so the units stay comparable
        // and the time-left estimate is sane from the start.
        let mut done = 0usize;
        long_run(
            data,
            config,
            options.long_run_steps,
            SvdSource::Lapack,
            || {
                done += 1;
                if done.is_multiple_of(100) {
                    progress("Stiefel long run")
                }
            },
        )?
    } else {
        None
    };
    let max = |f: fn(&PairSummary) -> f64| lockstep.iter().map(f).fold(0.0f64, f64::max);
    Ok(GradcheckReport {
        model: config.model.kind,
        max_rel_err_grad: max(|p| p.max_rel_err_grad),
        max_abs_err_loss: max(|p| p.max_abs_err_loss),
        steps_with_assignment_differences: lockstep
            .iter()
            .map(|p| p.steps_with_assignment_differences)
            .max()
            .unwrap_or(0),
        max_rel_err_finite_differences: finite_differences
            .checks
            .iter()
            .map(|c| c.max_rel_err_grad)
            .fold(0.0, f64::max),
        max_stiefel_defect: max_defect,
        options: options.clone(),
        data: data.describe(),
        lockstep,
        free_running,
        estimators,
        finite_differences,
        long_run,
    })
}

impl GradcheckOptions {
    fn has_stiefel(&self) -> bool {
        let model = &self.config.model;
        (0..model.param_count()).any(|i| model.manifold_of(i) == crate::model::Manifold::Stiefel)
    }

    /// Units of work [`run`] reports through its progress callback.
    pub fn work_units(&self) -> u64 {
        let long = if self.has_stiefel() {
            self.long_run_steps / 100
        } else {
            0
        };
        (2 * self.config.steps + 1 + long) as u64
    }
}
