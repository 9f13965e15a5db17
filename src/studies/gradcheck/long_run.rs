//! The Stiefel invariant ‖WᵀW − I‖ over a long run.
#[allow(unused_imports)]
use super::*;

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
