//! The manual training loop allocates nothing on the Rust heap once its
//! buffers exist: batch gathering, gradients and the update (LAPACK SVD).
use vqlab::alloc::CountingAllocator;
use vqlab::data::{Dataset, SyntheticSpec};
use vqlab::model::update::{SvdSource, UpdateWorkspace};
use vqlab::model::{Gradients, MethodKind};
use vqlab::train::{initial_params, BatchSampler, TrainConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

#[test]
fn manual_steps_allocate_nothing_after_warm_up() {
    let spec = SyntheticSpec::report_default();
    let data = Dataset::synthetic(&spec, 4_000, 100, 1).unwrap();
    for kind in [MethodKind::ManualSte, MethodKind::ManualRotation] {
        let config = TrainConfig {
            k: 32,
            batch: 1024,
            ..TrainConfig::report_default()
        };
        let mut params = initial_params(data.train.view(), &config).unwrap();
        let mut method = kind.build(config.weights());
        let mut sampler = BatchSampler::new(0, data.train.nrows(), config.batch);
        let (mut batch, mut grads, mut update) = (
            ndarray::Array2::zeros((0, 0)),
            Gradients::empty(),
            UpdateWorkspace::default(),
        );
        let optimizer = config.optimizer();
        let mut step = |params: &mut vqlab::model::Params| {
            // Both entry points: rows read in place, and a gathered batch.
            let rows = sampler.next_indices();
            method
                .gradients_rows(params, data.train.view(), rows, &mut grads)
                .unwrap();
            sampler.next_batch_into(data.train.view(), &mut batch);
            method
                .gradients_into(params, batch.view(), &mut grads)
                .unwrap();
            optimizer
                .step_with(params, &grads, SvdSource::Lapack, &mut update)
                .unwrap();
        };
        for _ in 0..3 {
            step(&mut params);
        }
        let before = ALLOC.allocations();
        for _ in 0..100 {
            step(&mut params);
        }
        let after = ALLOC.allocations();
        assert_eq!(
            after - before,
            0,
            "{kind}: {} allocations in 100 steps",
            after - before
        );
        // The counter does see allocations (the check can fail).
        let v: Vec<u8> = Vec::with_capacity(10);
        assert!(ALLOC.allocations() > after);
        drop(v);
    }
}
