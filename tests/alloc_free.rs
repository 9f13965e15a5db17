//! The manual training loop allocates nothing on the Rust heap once its
//! buffers exist: batch gathering, gradients and the update (LAPACK SVD).
use vqlab::data::{Dataset, SyntheticSpec};
use vqlab::infra::alloc::CountingAllocator;
use vqlab::model::{Backend, Estimator, Gradients, MethodKind, MethodSpec, ModelKind, ModelSpec};
use vqlab::optim::stiefel::SvdSource;
use vqlab::optim::Update;
use vqlab::train::{initial_params, BatchSampler, Init, TrainConfig};

#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// The counter is process-wide: the tests here take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn manual_steps_allocate_nothing_after_warm_up() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let spec = SyntheticSpec::report_default();
    let data = Dataset::synthetic(&spec, 4_000, 100, 1).unwrap();
    let model = |kind| {
        let mut model = ModelSpec {
            hidden: 32,
            ..ModelSpec::of(kind)
        };
        if kind == ModelKind::Conv {
            // The generator's 64 coordinates as 8 × 8 pictures.
            (model.hidden, model.image) = (8, "1,8,8".parse().ok());
        }
        model
    };
    let manual = |kind, estimator| MethodSpec::new(model(kind), estimator, Backend::Manual);
    for kind in [
        MethodKind::ManualSte.spec(),
        MethodKind::ManualRotation.spec(),
        manual(ModelKind::Tied, Estimator::RotationTrick),
        manual(ModelKind::Untied, Estimator::ResidualProjection),
        manual(ModelKind::Mlp, Estimator::Ste),
        manual(ModelKind::Mlp, Estimator::RotationTrick),
        manual(ModelKind::Tied, Estimator::Nsvq),
        manual(ModelKind::Untied, Estimator::GumbelHard),
        manual(ModelKind::Mlp, Estimator::Gumbel),
        manual(ModelKind::Conv, Estimator::Ste),
        manual(ModelKind::Conv, Estimator::RotationTrick),
        manual(ModelKind::Conv, Estimator::Nsvq),
        manual(ModelKind::Conv, Estimator::GumbelHard),
    ] {
        let config = TrainConfig {
            model: kind.model,
            init: match kind.model.kind {
                ModelKind::Mlp | ModelKind::Conv => Init::Random,
                _ => Init::Pca,
            },
            k: 32,
            batch: 1024,
            ..TrainConfig::report_default()
        };
        let mut params = initial_params(data.train.view(), &config).unwrap();
        let mut method = kind.build(config.weights());
        let mut sampler = BatchSampler::new(0, data.train.nrows(), config.batch);
        let (mut batch, mut grads) = (ndarray::Array2::zeros((0, 0)), Gradients::empty());
        let mut optimizer = config.build_optimizer();
        let mut draws = vqlab::model::Draws::none();
        let mut rng = vqlab::numerics::rng::rng_for(0, vqlab::numerics::rng::Stream::Estimator);
        let mut step = |params: &mut vqlab::model::Params| {
            // Both entry points: rows read in place, and a gathered batch.
            let rows = sampler.next_indices();
            let latent = params.latent_rows(rows.len());
            draws.draw(kind.estimator, (latent, 4, 32), 0.5, &mut rng);
            method
                .gradients_rows(params, data.train.view(), rows, &draws, &mut grads)
                .unwrap();
            sampler.next_batch_into(data.train.view(), &mut batch);
            method
                .gradients_into(params, batch.view(), &draws, &mut grads)
                .unwrap();
            optimizer
                .apply(params, &grads, SvdSource::Lapack, true)
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

#[test]
fn the_training_loop_allocates_nothing_per_step() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    // train() allocates for setup and for its evaluations; with evaluation
    // only at the end, 150 steps must allocate exactly as much as 50.
    let spec = SyntheticSpec::report_default();
    let data = Dataset::synthetic(&spec, 4_000, 100, 2).unwrap();
    let count = |steps: usize, optimizer: vqlab::optim::OptimizerKind| {
        let config = TrainConfig {
            k: 16,
            batch: 256,
            steps,
            log_every: 0,
            svd: vqlab::train::SvdChoice::Lapack,
            optimizer: vqlab::optim::OptimizerSpec {
                kind: optimizer,
                ..Default::default()
            },
            ..TrainConfig::report_default()
        }
        .check(data.train.nrows(), data.dim())
        .unwrap();
        let start = initial_params(data.train.view(), &config).unwrap();
        let mut method = MethodKind::ManualSte.build(config.weights());
        let before = ALLOC.allocations();
        vqlab::train::train(method.as_mut(), &data, &config, Some(start), |_| {}).unwrap();
        ALLOC.allocations() - before
    };
    use vqlab::optim::OptimizerKind;
    for optimizer in [OptimizerKind::Sgd, OptimizerKind::Adam] {
        let (short, long) = (count(50, optimizer), count(150, optimizer));
        assert_eq!(
            short, long,
            "{optimizer:?}: 50 steps: {short} allocations, 150 steps: {long}"
        );
    }
}
