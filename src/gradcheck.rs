//! The gradient harness: autograd and hand-derived gradients side by side,
//! step by step.
//!
//! * **lockstep**: at every step both backends get the same W, E and batch;
//!   the state then moves with the manual gradients (the update is shared, so
//!   only gradient code is compared);
//! * **free-running**: each backend follows its own trajectory (its own
//!   gradients, its own SVD by default) from the same start and batches;
//! * **estimators**: at the lockstep states, how far `rotation` (the report's
//!   residual projection) and `rotation-trick` move the gradient away from
//!   `autograd-ste`;
//! * **finite differences**: every estimator's gradient against central
//!   differences of its *surrogate* loss at random states (see
//!   [`surrogate_loss`]).
//!
//! Relative errors are max-norm relative: ‖A − B‖_max / ‖B‖_max, with B the
//! autograd (or finite-difference) value.
use std::path::Path;

use ndarray::{Array2, ArrayView2, Axis};
use serde::Serialize;

use crate::data::Dataset;
use crate::error::Result;
use crate::io::{create_dir, write_npy};
use crate::linalg::{random_stiefel, stiefel_defect};
use crate::metrics::{evaluate, Metrics};
use crate::model::update::SvdSource;
use crate::model::{Estimator, GradientMethod, Gradients, LossWeights, MethodKind, Params};
use crate::quantize::nearest_codes;
use crate::rng::{rng_for, Stream};
use crate::train::{initial_params, BatchSampler, TrainConfig};

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

/// One lockstep step of one (reference, candidate) pair.
#[derive(Debug, Clone, Serialize)]
pub struct LockstepStep {
    /// Step number (1-based).
    pub step: usize,
    /// |L_candidate − L_reference| of the total loss.
    pub loss_abs_err: f64,
    /// max-norm relative error of ∂L/∂W.
    pub rel_err_grad_w: f64,
    /// max-norm relative error of ∂L/∂E.
    pub rel_err_grad_e: f64,
    /// Batch rows whose assignment differs between the two.
    pub assignments_differ: usize,
}

/// Lockstep agreement of a candidate with a reference over all steps.
#[derive(Debug, Clone, Serialize)]
pub struct PairSummary {
    /// The reference (autograd) method.
    pub reference: MethodKind,
    /// The candidate (manual) method.
    pub candidate: MethodKind,
    /// Largest relative error of ∂L/∂W over all steps.
    pub max_rel_err_grad_w: f64,
    /// Largest relative error of ∂L/∂E over all steps.
    pub max_rel_err_grad_e: f64,
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
    /// The reference method and its SVD.
    pub reference: MethodKind,
    /// The SVD the reference's retraction used.
    pub reference_svd: SvdSource,
    /// The candidate method.
    pub candidate: MethodKind,
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
    /// ‖W_candidate − W_reference‖_max after each step.
    pub w_gap: Vec<f64>,
}

/// How much an estimator changes the gradient relative to autograd STE.
#[derive(Debug, Clone, Serialize)]
pub struct EstimatorGap {
    /// The estimator's method.
    pub method: MethodKind,
    /// Largest max-norm relative difference of ∂L/∂W from autograd-ste.
    pub max_rel_diff_grad_w: f64,
    /// Mean over steps of that relative difference.
    pub mean_rel_diff_grad_w: f64,
    /// Largest relative difference of ∂L/∂E.
    pub max_rel_diff_grad_e: f64,
}

/// Finite-difference check of one method.
#[derive(Debug, Clone, Serialize)]
pub struct FiniteDiffCheck {
    /// The method checked.
    pub method: MethodKind,
    /// Largest relative error of ∂L/∂W against central differences.
    pub max_rel_err_grad_w: f64,
    /// Largest relative error of ∂L/∂E against central differences.
    pub max_rel_err_grad_e: f64,
}

/// The finite-difference part of the harness.
#[derive(Debug, Clone, Serialize)]
pub struct FiniteDiffReport {
    /// Random states checked.
    pub states: usize,
    /// Central-difference step.
    pub step_size: f64,
    /// Smallest Voronoi margin (second-nearest minus nearest squared
    /// distance) of a kept batch row; rows closer to a boundary are dropped.
    pub min_margin: f64,
    /// Per method.
    pub checks: Vec<FiniteDiffCheck>,
}

/// Options of the harness.
#[derive(Debug, Clone, Serialize)]
pub struct GradcheckOptions {
    /// The training configuration (experiment 1 by default).
    pub config: TrainConfig,
    /// Random states of the finite-difference check.
    pub fd_states: usize,
    /// Steps of the long Stiefel-invariant run (0: skip).
    pub long_run_steps: usize,
}

/// The long run that checks the Stiefel invariant.
#[derive(Debug, Clone, Serialize)]
pub struct LongRun {
    /// Steps taken.
    pub steps: usize,
    /// The method whose gradients drove it.
    pub method: MethodKind,
    /// The retraction's SVD.
    pub svd: SvdSource,
    /// Largest ‖WᵀW − I‖_max after any step.
    pub max_stiefel_defect: f64,
    /// ‖WᵀW − I‖_max after the last step.
    pub final_stiefel_defect: f64,
}

/// Everything the harness measured. The first three fields are the headline
/// (autograd-ste vs manual-ste, lockstep).
#[derive(Debug, Clone, Serialize)]
pub struct GradcheckReport {
    /// Lockstep, autograd-ste vs manual-ste: largest relative error of ∂L/∂W.
    pub max_rel_err_grad_w: f64,
    /// Lockstep, autograd-ste vs manual-ste: largest relative error of ∂L/∂E.
    pub max_rel_err_grad_e: f64,
    /// Lockstep, autograd-ste vs manual-ste: largest absolute loss error.
    pub max_abs_err_loss: f64,
    /// Largest ‖WᵀW − I‖_max along the lockstep trajectory.
    pub max_stiefel_defect: f64,
    /// The options used.
    pub options: GradcheckOptions,
    /// Lockstep pairs: (autograd-ste, manual-ste), (rotation, manual-rotation).
    pub lockstep: Vec<PairSummary>,
    /// Free-running autograd-ste vs manual-ste.
    pub free_running: FreeRunReport,
    /// Estimator gaps from autograd-ste at the lockstep states.
    pub estimators: Vec<EstimatorGap>,
    /// Finite differences.
    pub finite_differences: FiniteDiffReport,
    /// The long Stiefel run (absent when skipped).
    pub long_run: Option<LongRun>,
}

fn compare(step: usize, reference: &Gradients, candidate: &Gradients) -> LockstepStep {
    LockstepStep {
        step,
        loss_abs_err: (candidate.loss.total - reference.loss.total).abs(),
        rel_err_grad_w: max_rel_err(candidate.grad_w.view(), reference.grad_w.view()),
        rel_err_grad_e: max_rel_err(candidate.grad_e.view(), reference.grad_e.view()),
        assignments_differ: reference
            .assignments
            .iter()
            .zip(&candidate.assignments)
            .filter(|(a, b)| a != b)
            .count(),
    }
}

fn summarize(
    reference: MethodKind,
    candidate: MethodKind,
    steps: Vec<LockstepStep>,
) -> PairSummary {
    let max = |f: fn(&LockstepStep) -> f64| steps.iter().map(f).fold(0.0f64, f64::max);
    PairSummary {
        reference,
        candidate,
        max_rel_err_grad_w: max(|s| s.rel_err_grad_w),
        max_rel_err_grad_e: max(|s| s.rel_err_grad_e),
        max_abs_err_loss: max(|s| s.loss_abs_err),
        steps_with_assignment_differences: steps
            .iter()
            .filter(|s| s.assignments_differ > 0)
            .count(),
        steps,
    }
}

/// Writes the harness's first-step state and every method's gradients as
/// `.npy` into `dir`: `W.npy`, `E.npy`, `batch.npy`, `assignments.npy`
/// (int64), `grad_w_<method>.npy`, `grad_e_<method>.npy`.
pub fn dump_state(
    dir: &Path,
    params: &Params,
    batch: ArrayView2<f64>,
    grads: &[(MethodKind, Gradients)],
) -> Result<()> {
    create_dir(dir)?;
    write_npy(&dir.join("W.npy"), &params.w)?;
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
        write_npy(
            &dir.join(format!("grad_w_{}.npy", method.name())),
            &g.grad_w,
        )?;
        write_npy(
            &dir.join(format!("grad_e_{}.npy", method.name())),
            &g.grad_e,
        )?;
    }
    Ok(())
}

/// Runs the lockstep pairs and the estimator comparison along the manual-ste
/// trajectory. Returns (pairs, estimator gaps, max Stiefel defect).
fn lockstep(
    data: &Dataset,
    config: &TrainConfig,
    dump: Option<&Path>,
    mut progress: impl FnMut(),
) -> Result<(Vec<PairSummary>, Vec<EstimatorGap>, f64)> {
    let weights = config.weights();
    let mut methods: Vec<Box<dyn GradientMethod>> = [
        MethodKind::AutogradSte,
        MethodKind::ManualSte,
        MethodKind::Rotation,
        MethodKind::ManualRotation,
        MethodKind::RotationTrick,
    ]
    .into_iter()
    .map(|m| m.build(weights))
    .collect();
    let mut params = initial_params(data.train.view(), config)?;
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let optimizer = config.optimizer();
    let (mut ste_steps, mut rot_steps) = (Vec::new(), Vec::new());
    let mut gaps: Vec<Vec<(f64, f64)>> = vec![Vec::new(); 2];
    let mut max_defect = stiefel_defect(params.w.view());
    for step in 1..=config.steps {
        let batch = sampler.next_batch(data.train.view());
        let grads: Vec<Gradients> = methods
            .iter_mut()
            .map(|m| m.gradients(&params, batch.view()))
            .collect::<Result<_>>()?;
        if step == 1 {
            if let Some(dir) = dump {
                let named: Vec<_> = methods
                    .iter()
                    .map(|m| m.kind())
                    .zip(grads.iter().cloned())
                    .collect();
                dump_state(dir, &params, batch.view(), &named)?;
            }
        }
        ste_steps.push(compare(step, &grads[0], &grads[1]));
        rot_steps.push(compare(step, &grads[2], &grads[3]));
        for (slot, idx) in [(0usize, 2usize), (1, 4)] {
            gaps[slot].push((
                max_rel_err(grads[idx].grad_w.view(), grads[0].grad_w.view()),
                max_rel_err(grads[idx].grad_e.view(), grads[0].grad_e.view()),
            ));
        }
        optimizer.step(&mut params, &grads[1], SvdSource::Lapack)?;
        max_defect = max_defect.max(stiefel_defect(params.w.view()));
        progress();
    }
    let estimators = [MethodKind::Rotation, MethodKind::RotationTrick]
        .into_iter()
        .zip(gaps)
        .map(|(method, g)| EstimatorGap {
            method,
            max_rel_diff_grad_w: g.iter().map(|p| p.0).fold(0.0, f64::max),
            mean_rel_diff_grad_w: g.iter().map(|p| p.0).sum::<f64>() / g.len().max(1) as f64,
            max_rel_diff_grad_e: g.iter().map(|p| p.1).fold(0.0, f64::max),
        })
        .collect();
    Ok((
        vec![
            summarize(MethodKind::AutogradSte, MethodKind::ManualSte, ste_steps),
            summarize(MethodKind::Rotation, MethodKind::ManualRotation, rot_steps),
        ],
        estimators,
        max_defect,
    ))
}

/// Runs autograd-ste and manual-ste on their own trajectories from the same
/// start with the same batches.
pub fn free_running(
    data: &Dataset,
    config: &TrainConfig,
    mut progress: impl FnMut(),
) -> Result<FreeRunReport> {
    let weights = config.weights();
    let (ref_kind, cand_kind) = (MethodKind::AutogradSte, MethodKind::ManualSte);
    let (mut reference, mut candidate) = (ref_kind.build(weights), cand_kind.build(weights));
    let start = initial_params(data.train.view(), config)?;
    let (mut p_ref, mut p_cand) = (start.clone(), start);
    let (svd_ref, svd_cand) = (
        config.svd.for_method(ref_kind),
        config.svd.for_method(cand_kind),
    );
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let optimizer = config.optimizer();
    let mut first_flip = None;
    let mut w_gap = Vec::with_capacity(config.steps);
    for step in 1..=config.steps {
        let batch = sampler.next_batch(data.train.view());
        let g_ref = reference.gradients(&p_ref, batch.view())?;
        let g_cand = candidate.gradients(&p_cand, batch.view())?;
        if first_flip.is_none() && g_ref.assignments != g_cand.assignments {
            first_flip = Some(step);
        }
        optimizer.step(&mut p_ref, &g_ref, svd_ref)?;
        optimizer.step(&mut p_cand, &g_cand, svd_cand)?;
        w_gap.push(
            (&p_ref.w - &p_cand.w)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs())),
        );
        progress();
    }
    let final_reference = evaluate(data.eval.view(), p_ref.w.view(), p_ref.codebook.view());
    let final_candidate = evaluate(data.eval.view(), p_cand.w.view(), p_cand.codebook.view());
    let rel = |a: f64, b: f64| (a - b).abs() / b.abs().max(f64::MIN_POSITIVE);
    Ok(FreeRunReport {
        reference: ref_kind,
        reference_svd: svd_ref,
        candidate: cand_kind,
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
        w_gap,
    })
}

/// The estimator's surrogate around an anchor state: with the anchor's
/// assignments a_b, codes q⁰_b = e⁰_{a_b}, codes z⁰_b = W⁰ᵀx_b and the
/// estimator's constant per-row Jacobian T_b (I for STE, u uᵀ for the
/// residual projection, λR for the rotation trick),
///
/// q̃_b(W) = q⁰_b + T_b (Wᵀx_b − z⁰_b),
/// L_s(W, E) = (1/B) Σ ‖x_b − W q̃_b‖² + (α/B) Σ ‖z⁰_b − e_{a_b}‖² + (β/B) Σ ‖Wᵀx_b − q⁰_b‖².
///
/// At the anchor, L_s equals the loss, and its exact gradient is what the
/// estimator defines; central differences of L_s therefore check every path
/// of a method's gradient. Written independently of the methods' code.
pub fn surrogate_loss(
    w: ArrayView2<f64>,
    codebook: ArrayView2<f64>,
    batch: ArrayView2<f64>,
    anchor: &Anchor,
    weights: LossWeights,
) -> f64 {
    let b = batch.nrows() as f64;
    let z = batch.dot(&w);
    let mut total = 0.0;
    for (i, x) in batch.outer_iter().enumerate() {
        let dz = &z.row(i) - &anchor.z.row(i);
        let q_tilde = &anchor.q.row(i) + &anchor.jacobians[i].dot(&dz);
        let r = &x - &w.dot(&q_tilde);
        total += r.dot(&r) / b;
        let cb = &anchor.z.row(i) - &codebook.row(anchor.assignments[i]);
        total += weights.alpha * cb.dot(&cb) / b;
        let cm = &z.row(i) - &anchor.q.row(i);
        total += weights.beta * cm.dot(&cm) / b;
    }
    total
}

/// The constants of [`surrogate_loss`] at an anchor state.
#[derive(Debug, Clone)]
pub struct Anchor {
    /// z⁰ = X W⁰, B × m.
    pub z: Array2<f64>,
    /// q⁰, B × m.
    pub q: Array2<f64>,
    /// a_b.
    pub assignments: Vec<usize>,
    /// T_b, m × m per row.
    pub jacobians: Vec<Array2<f64>>,
}

impl Anchor {
    /// The anchor of `estimator` at `params` on `batch`.
    pub fn new(estimator: Estimator, params: &Params, batch: ArrayView2<f64>) -> Self {
        let z = batch.dot(&params.w);
        let assignments = nearest_codes(z.view(), params.codebook.view());
        let q = params.codebook.select(Axis(0), &assignments);
        let m = z.ncols();
        let jacobians = z
            .outer_iter()
            .zip(q.outer_iter())
            .map(|(zr, qr)| match estimator {
                Estimator::Ste => Array2::eye(m),
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
            })
            .collect();
        Anchor {
            z,
            q,
            assignments,
            jacobians,
        }
    }
}

/// Central differences of [`surrogate_loss`] with respect to every entry of
/// W and E.
pub fn finite_difference_gradients(
    params: &Params,
    batch: ArrayView2<f64>,
    anchor: &Anchor,
    weights: LossWeights,
    h: f64,
) -> (Array2<f64>, Array2<f64>) {
    let mut gw = Array2::zeros(params.w.raw_dim());
    let mut w = params.w.clone();
    for idx in ndarray::indices(params.w.raw_dim()) {
        let orig = w[idx];
        w[idx] = orig + h;
        let up = surrogate_loss(w.view(), params.codebook.view(), batch, anchor, weights);
        w[idx] = orig - h;
        let down = surrogate_loss(w.view(), params.codebook.view(), batch, anchor, weights);
        w[idx] = orig;
        gw[idx] = (up - down) / (2.0 * h);
    }
    let mut ge = Array2::zeros(params.codebook.raw_dim());
    let mut e = params.codebook.clone();
    for idx in ndarray::indices(params.codebook.raw_dim()) {
        let orig = e[idx];
        e[idx] = orig + h;
        let up = surrogate_loss(params.w.view(), e.view(), batch, anchor, weights);
        e[idx] = orig - h;
        let down = surrogate_loss(params.w.view(), e.view(), batch, anchor, weights);
        e[idx] = orig;
        ge[idx] = (up - down) / (2.0 * h);
    }
    (gw, ge)
}

/// Rows of `batch` whose Voronoi margin at `params` is at least `min_margin`,
/// and the smallest margin kept.
pub fn rows_away_from_boundaries(
    params: &Params,
    batch: ArrayView2<f64>,
    min_margin: f64,
) -> (Array2<f64>, f64) {
    let z = batch.dot(&params.w);
    let mut keep = Vec::new();
    let mut smallest = f64::INFINITY;
    for (i, zr) in z.outer_iter().enumerate() {
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
        if margin >= min_margin {
            keep.push(i);
            smallest = smallest.min(margin);
        }
    }
    (batch.select(Axis(0), &keep), smallest)
}

/// Finite-difference check of every estimator at `states` random states:
/// a Haar-random W, a codebook of randomly chosen batch codes plus noise, a
/// batch of the training data without the rows near a Voronoi boundary.
pub fn finite_differences(
    data: &Dataset,
    config: &TrainConfig,
    states: usize,
) -> Result<FiniteDiffReport> {
    const H: f64 = 1e-6;
    const MIN_MARGIN: f64 = 1e-3;
    let weights = config.weights();
    let mut rng = rng_for(config.seed, Stream::Harness);
    let batch_size = config.batch.min(256).min(data.train.nrows());
    let mut sampler = BatchSampler::new(config.seed ^ 0x5eed, data.train.nrows(), batch_size);
    let kinds = [
        MethodKind::ManualSte,
        MethodKind::ManualRotation,
        MethodKind::AutogradSte,
        MethodKind::Rotation,
        MethodKind::RotationTrick,
    ];
    let mut worst = vec![(0.0f64, 0.0f64); kinds.len()];
    let mut min_margin = f64::INFINITY;
    for _ in 0..states {
        let w = random_stiefel(data.dim(), config.m, &mut rng)?;
        let full = sampler.next_batch(data.train.view());
        let z = full.dot(&w);
        let picks =
            rand::seq::index::sample(&mut rng, z.nrows(), config.k.min(z.nrows())).into_vec();
        let mut codebook = z.select(Axis(0), &picks);
        codebook +=
            &(crate::linalg::gaussian_matrix(codebook.nrows(), codebook.ncols(), &mut rng) * 0.05);
        let params = Params { w, codebook };
        let (batch, margin) = rows_away_from_boundaries(&params, full.view(), MIN_MARGIN);
        min_margin = min_margin.min(margin);
        for (slot, kind) in kinds.iter().enumerate() {
            let anchor = Anchor::new(kind.estimator(), &params, batch.view());
            let (fd_w, fd_e) =
                finite_difference_gradients(&params, batch.view(), &anchor, weights, H);
            let g = kind.build(weights).gradients(&params, batch.view())?;
            worst[slot].0 = worst[slot].0.max(max_rel_err(g.grad_w.view(), fd_w.view()));
            worst[slot].1 = worst[slot].1.max(max_rel_err(g.grad_e.view(), fd_e.view()));
        }
    }
    Ok(FiniteDiffReport {
        states,
        step_size: H,
        min_margin,
        checks: kinds
            .iter()
            .zip(worst)
            .map(|(&method, (w, e))| FiniteDiffCheck {
                method,
                max_rel_err_grad_w: w,
                max_rel_err_grad_e: e,
            })
            .collect(),
    })
}

/// Runs `steps` updates of manual-ste with `svd` from the config's
/// initialisation, cycling through batches, and tracks ‖WᵀW − I‖.
pub fn long_run(
    data: &Dataset,
    config: &TrainConfig,
    steps: usize,
    svd: SvdSource,
    mut progress: impl FnMut(),
) -> Result<LongRun> {
    let mut method = MethodKind::ManualSte.build(config.weights());
    let mut params = initial_params(data.train.view(), config)?;
    let mut sampler = BatchSampler::new(config.seed, data.train.nrows(), config.batch);
    let optimizer = config.optimizer();
    let mut max_defect: f64 = 0.0;
    let mut defect = 0.0;
    for _ in 0..steps {
        let batch = sampler.next_batch(data.train.view());
        let g = method.gradients(&params, batch.view())?;
        optimizer.step(&mut params, &g, svd)?;
        defect = stiefel_defect(params.w.view());
        max_defect = max_defect.max(defect);
        progress();
    }
    Ok(LongRun {
        steps,
        method: MethodKind::ManualSte,
        svd,
        max_stiefel_defect: max_defect,
        final_stiefel_defect: defect,
    })
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
    let (lockstep, estimators, max_defect) = lockstep(data, config, dump, || progress("lockstep"))?;
    let free_running = free_running(data, config, || progress("free-running"))?;
    let finite_differences = finite_differences(data, config, options.fd_states)?;
    progress("finite differences");
    let long_run = if options.long_run_steps > 0 {
        Some(long_run(
            data,
            config,
            options.long_run_steps,
            SvdSource::Lapack,
            || progress("Stiefel long run"),
        )?)
    } else {
        None
    };
    let ste = &lockstep[0];
    Ok(GradcheckReport {
        max_rel_err_grad_w: ste.max_rel_err_grad_w,
        max_rel_err_grad_e: ste.max_rel_err_grad_e,
        max_abs_err_loss: ste.max_abs_err_loss,
        max_stiefel_defect: max_defect,
        options: options.clone(),
        lockstep,
        free_running,
        estimators,
        finite_differences,
        long_run,
    })
}

impl GradcheckOptions {
    /// Units of work [`run`] reports through its progress callback.
    pub fn work_units(&self) -> u64 {
        (2 * self.config.steps + 1 + self.long_run_steps) as u64
    }
}
