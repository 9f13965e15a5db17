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
    Activation, Backend, Draws, Estimator, GradientMethod, Gradients, LossWeights, MethodSpec,
    ModelKind, ModelSpec, Params,
};
use crate::numerics::linalg::{gaussian_matrix, random_stiefel};
use crate::numerics::metrics::Metrics;
use crate::numerics::quantize::nearest_codes;
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::stiefel::SvdSource;
use crate::optim::Update;
use crate::train::{initial_params, max_stiefel_defect, BatchSampler, TrainConfig};

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

/// What the lockstep part returns: pairs, estimator gaps, max Stiefel defect.
type LockstepParts = (Vec<PairSummary>, Vec<EstimatorGap>, Option<f64>);

/// The lockstep pairs alone: autograd against manual for STE and each of
/// `chosen`, over `config.steps` steps along the manual STE trajectory, every
/// random draw handed to both backends (what the studies of `vqlab future`
/// show beside their tables).
pub fn lockstep_pairs(
    data: &Dataset,
    config: &TrainConfig,
    chosen: &[Estimator],
) -> Result<Vec<PairSummary>> {
    lockstep(data, config, chosen, None, || {}).map(|parts| parts.0)
}

/// Runs the lockstep pairs and the estimator comparison along the manual
/// STE trajectory.
fn lockstep(
    data: &Dataset,
    config: &TrainConfig,
    chosen: &[Estimator],
    dump: Option<&Path>,
    mut progress: impl FnMut(),
) -> Result<LockstepParts> {
    let weights = config.weights();
    let estimators = estimators_checked(chosen);
    let mut autograd = methods_of(config.model, &estimators, Backend::Autograd, weights);
    let mut manual = methods_of(config.model, &estimators, Backend::Manual, weights);
    let mut params = initial_params(data.train.view(), config)?;
    let names = param_names(&params);
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let mut optimizer = config.build_optimizer();
    let n = estimators.len();
    let mut pair_steps: Vec<Vec<LockstepStep>> = vec![Vec::new(); n];
    let mut pair_by_param: Vec<Vec<f64>> = vec![Vec::new(); n];
    // Per estimator other than STE: (per-step max over network params, per-param max).
    let mut gap_steps: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut gap_by_param: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut max_defect = max_stiefel_defect(&params);
    let mut draw_rng = rng_for(config.seed, Stream::Estimator);
    let mut draws: Vec<Draws> = vec![Draws::none(); n];
    for step in 1..=config.steps {
        let batch = sampler.next_batch(data.train.view());
        // Each estimator's draws of this step, the same for both backends.
        let shape = (batch.nrows(), params.code_dim(), params.codebook.nrows());
        let tau = config.gumbel.tau_at(step - 1);
        for (d, &e) in draws.iter_mut().zip(&estimators) {
            d.draw(e, shape, tau, &mut draw_rng);
        }
        let reference: Vec<Gradients> = autograd
            .iter_mut()
            .zip(&draws)
            .map(|(m, d)| m.gradients(&params, batch.view(), d))
            .collect::<Result<_>>()?;
        let candidate: Vec<Gradients> = manual
            .iter_mut()
            .zip(&draws)
            .map(|(m, d)| m.gradients(&params, batch.view(), d))
            .collect::<Result<_>>()?;
        if step == 1 {
            if let Some(dir) = dump {
                let named: Vec<_> = autograd
                    .iter()
                    .chain(manual.iter())
                    .map(|m| m.spec())
                    .zip(reference.iter().chain(candidate.iter()).cloned())
                    .collect();
                dump_state(dir, &params, batch.view(), &named)?;
            }
        }
        for (i, (r, c)) in reference.iter().zip(&candidate).enumerate() {
            let errs = rel_errs(c, r);
            pair_steps[i].push(LockstepStep {
                step,
                loss_abs_err: (c.loss.total - r.loss.total).abs(),
                rel_err_grad: errs.iter().copied().fold(0.0, f64::max),
                assignments_differ: r
                    .assignments
                    .iter()
                    .zip(&c.assignments)
                    .filter(|(a, b)| a != b)
                    .count(),
            });
            elementwise_max(&mut pair_by_param[i], &errs);
            let gaps = rel_errs(r, &reference[0]);
            let network = gaps[..gaps.len() - 1].iter().copied().fold(0.0, f64::max);
            gap_steps[i].push(network);
            elementwise_max(&mut gap_by_param[i], &gaps);
        }
        optimizer.apply(&mut params, &candidate[0], SvdSource::Lapack, true)?;
        if let (Some(seen), Some(now)) = (max_defect, max_stiefel_defect(&params)) {
            max_defect = Some(seen.max(now));
        }
        progress();
    }
    let pairs = estimators
        .iter()
        .copied()
        .enumerate()
        .map(|(i, estimator)| {
            let steps = std::mem::take(&mut pair_steps[i]);
            let max = |f: fn(&LockstepStep) -> f64| steps.iter().map(f).fold(0.0f64, f64::max);
            PairSummary {
                estimator,
                reference: autograd[i].spec(),
                candidate: manual[i].spec(),
                max_rel_err_grad: max(|s| s.rel_err_grad),
                max_rel_err_by_param: by_param(&names, &pair_by_param[i]),
                max_abs_err_loss: max(|s| s.loss_abs_err),
                steps_with_assignment_differences: steps
                    .iter()
                    .filter(|s| s.assignments_differ > 0)
                    .count(),
                steps,
            }
        })
        .collect();
    let gaps = estimators
        .iter()
        .copied()
        .enumerate()
        .skip(1)
        .map(|(i, estimator)| {
            let g = &gap_steps[i];
            EstimatorGap {
                estimator,
                max_rel_diff_grad: g.iter().copied().fold(0.0, f64::max),
                mean_rel_diff_grad: g.iter().sum::<f64>() / g.len().max(1) as f64,
                max_rel_diff_by_param: by_param(&names, &gap_by_param[i]),
            }
        })
        .collect();
    Ok((pairs, gaps, max_defect))
}

/// Runs autograd STE and manual STE of the configured model on their own
/// trajectories from the same start with the same batches.
pub fn free_running(
    data: &Dataset,
    config: &TrainConfig,
    mut progress: impl FnMut(),
) -> Result<FreeRunReport> {
    let weights = config.weights();
    let ref_spec = MethodSpec::new(config.model, Estimator::Ste, Backend::Autograd);
    let cand_spec = MethodSpec::new(config.model, Estimator::Ste, Backend::Manual);
    let (mut reference, mut candidate) = (ref_spec.build(weights), cand_spec.build(weights));
    let start = initial_params(data.train.view(), config)?;
    let (mut p_ref, mut p_cand) = (start.clone(), start);
    let (svd_ref, svd_cand) = (
        config.svd.for_method(ref_spec),
        config.svd.for_method(cand_spec),
    );
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let (mut opt_ref, mut opt_cand) = (config.build_optimizer(), config.build_optimizer());
    let mut first_flip = None;
    let mut param_gap = Vec::with_capacity(config.steps);
    for step in 1..=config.steps {
        let batch = sampler.next_batch(data.train.view());
        let g_ref = reference.gradients(&p_ref, batch.view(), &Draws::none())?;
        let g_cand = candidate.gradients(&p_cand, batch.view(), &Draws::none())?;
        if first_flip.is_none() && g_ref.assignments != g_cand.assignments {
            first_flip = Some(step);
        }
        opt_ref.apply(&mut p_ref, &g_ref, svd_ref, true)?;
        opt_cand.apply(&mut p_cand, &g_cand, svd_cand, true)?;
        param_gap.push(
            p_ref
                .weights
                .iter()
                .zip(&p_cand.weights)
                .flat_map(|(a, b)| a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()))
                .fold(0.0f64, f64::max),
        );
        progress();
    }
    let final_reference = p_ref.evaluate(data.eval.view());
    let final_candidate = p_cand.evaluate(data.eval.view());
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
    Ok(FreeRunReport {
        reference: ref_spec,
        reference_svd: svd_ref,
        candidate: cand_spec,
        candidate_svd: svd_cand,
        rel_diff_recon_mse: rel(final_candidate.recon_mse, final_reference.recon_mse),
        rel_diff_insub_distortion: rel(
            final_candidate.insub_distortion,
            final_reference.insub_distortion,
        ),
        rel_diff_usage_entropy: rel(final_candidate.usage_entropy, final_reference.usage_entropy),
        final_reference,
        final_candidate,
        first_assignment_flip: first_flip,
        param_gap,
    })
}

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
    for i in 0..batch.nrows() {
        let cb = &anchor.z.row(i) - &params.codebook.row(anchor.assignments[i]);
        total += weights.alpha * cb.dot(&cb) / b;
        let cm = &z.row(i) - &anchor.q.row(i);
        total += weights.beta * cm.dot(&cm) / b;
    }
    total
}

/// softmax((−‖z − e_k‖² + G_k)/τ) over the codes, written out plainly.
fn gumbel_soft(
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
                value(&mut probe, orig + step);
                let up = surrogate_loss(&probe, batch, anchor, weights);
                value(&mut probe, orig - step);
                let down = surrogate_loss(&probe, batch, anchor, weights);
                value(&mut probe, orig);
                (up - down) / (2.0 * step)
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

/// The smallest |pre-activation| of the mlp's hidden units for each row
/// (the distance to ReLU's kink), encoder and decoder (fed `decoder_input`);
/// infinity for other models and for tanh.
fn kink_margins(
    params: &Params,
    batch: ArrayView2<f64>,
    decoder_input: ArrayView2<f64>,
) -> Vec<f64> {
    if params.model.kind != ModelKind::Mlp || params.model.activation != Activation::Relu {
        return vec![f64::INFINITY; batch.nrows()];
    }
    let w = &params.weights;
    let h1 = batch.dot(&w[0].t()) + w[1].row(0);
    let h2 = decoder_input.dot(&w[4].t()) + w[5].row(0);
    h1.outer_iter()
        .zip(h2.outer_iter())
        .map(|(a, b)| {
            a.iter()
                .chain(b.iter())
                .fold(f64::INFINITY, |m, v| m.min(v.abs()))
        })
        .collect()
}

/// The rows of `batch` fit for a finite-difference check of `estimator` at
/// `params` with the step's `draws`: those whose Voronoi margin (second
/// nearest minus nearest squared distance) is at least `min_margin` and, for
/// the ReLU mlp, whose hidden pre-activations (the decoder fed the
/// estimator's q̃) are at least 1e-2 from the kink. Returns the kept rows,
/// their draws, and the smallest Voronoi margin kept.
pub fn rows_for_finite_differences(
    params: &Params,
    batch: ArrayView2<f64>,
    min_margin: f64,
    estimator: Estimator,
    draws: &Draws,
) -> (Array2<f64>, Draws, f64) {
    const MIN_KINK: f64 = 1e-2;
    let anchor = Anchor::new(estimator, params, batch, draws);
    let q_tilde = anchor.q_tilde(params, anchor.z.view());
    let kinks = kink_margins(params, batch, q_tilde.view());
    let mut keep = Vec::new();
    let mut smallest = f64::INFINITY;
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
        if margin >= min_margin && kinks[i] >= MIN_KINK {
            keep.push(i);
            smallest = smallest.min(margin);
        }
    }
    let kept_draws = Draws {
        noise: if draws.noise.nrows() == batch.nrows() {
            draws.noise.select(Axis(0), &keep)
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
    for _ in 0..states {
        let full = sampler.next_batch(data.train.view());
        let params = random_state(config.model, full.view(), config.m, config.k, &mut rng)?;
        names = param_names(&params);
        let coords = fd_coordinates(&params, Some(COORDS), &mut rng);
        let shape = (full.nrows(), params.code_dim(), params.codebook.nrows());
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
            min_margin = min_margin.min(margin);
            let anchor = Anchor::new(estimator, &params, batch.view(), &draws);
            let fd = finite_differences_at(&params, batch.view(), &anchor, weights, H, &coords);
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

/// Runs `steps` updates of the configured model's manual STE with `svd`
/// from the config's initialisation, cycling through batches, and tracks
/// ‖WᵀW − I‖ of its Stiefel parameters (None for a model without one).
pub fn long_run(
    data: &Dataset,
    config: &TrainConfig,
    steps: usize,
    svd: SvdSource,
    mut progress: impl FnMut(),
) -> Result<Option<LongRun>> {
    let spec = MethodSpec::new(config.model, Estimator::Ste, Backend::Manual);
    let mut method = spec.build(config.weights());
    let mut params = initial_params(data.train.view(), config)?;
    if max_stiefel_defect(&params).is_none() {
        return Ok(None);
    }
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let mut optimizer = config.build_optimizer();
    let mut max_defect: f64 = 0.0;
    let mut defect = 0.0;
    for _ in 0..steps {
        let batch = sampler.next_batch(data.train.view());
        let g = method.gradients(&params, batch.view(), &Draws::none())?;
        optimizer.apply(&mut params, &g, svd, true)?;
        defect = max_stiefel_defect(&params).unwrap_or(0.0);
        max_defect = max_defect.max(defect);
        progress();
    }
    Ok(Some(LongRun {
        steps,
        method: spec,
        svd,
        max_stiefel_defect: max_defect,
        final_stiefel_defect: defect,
    }))
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
        self.config.model.kind != ModelKind::Mlp
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
