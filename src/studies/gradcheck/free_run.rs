//! Free-running: autograd STE and manual STE each follow their own
//! trajectory from the same start and batches.
#[allow(unused_imports)]
use super::*;

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
    // In the data's units, like every metric vqlab prints.
    let final_reference = p_ref.evaluate(data.eval.view()).in_units(data.scale);
    let final_candidate = p_cand.evaluate(data.eval.view()).in_units(data.scale);
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
