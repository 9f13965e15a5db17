//! Lockstep: at every step every estimator's autograd and manual twin get
//! the same parameters and batch; the state moves with the manual STE
//! gradients, so only gradient code is compared.
#[allow(unused_imports)]
use super::*;

/// What the lockstep part returns: pairs, estimator gaps, max Stiefel defect.
pub(crate) type LockstepParts = (Vec<PairSummary>, Vec<EstimatorGap>, Option<f64>);

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
pub(crate) fn lockstep(
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
        let shape = (
            params.latent_rows(batch.nrows()),
            params.code_dim(),
            params.codebook.nrows(),
        );
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
                for (&estimator, d) in estimators.iter().zip(&draws) {
                    crate::model::torch::layer_probe(&params, batch.view(), estimator, d, weights)?
                        .write(&dir.join(format!("probe-{}", estimator.name())))?;
                }
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
