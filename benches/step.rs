//! Criterion benches: one training step of each backend and the nearest-code
//! search, at the experiment-2 configuration (and the search at the large
//! one), so regressions show in `cargo bench`.
use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use vqlab::data::{Dataset, SyntheticSpec};
use vqlab::model::{Draws, Gradients, MethodKind, Params};
use vqlab::numerics::linalg::{gaussian_matrix, random_stiefel};
use vqlab::numerics::quantize::NearestCode;
use vqlab::numerics::rng::{rng_for, Stream};
use vqlab::optim::Update;
use vqlab::train::{BatchSampler, TrainConfig};

fn exp2_setup() -> (Dataset, Params, TrainConfig) {
    let data = Dataset::synthetic(&SyntheticSpec::report_default(), 20_000, 10, 0).unwrap();
    let mut rng = rng_for(0, Stream::Init);
    let params = Params::tied(
        random_stiefel(64, 4, &mut rng).unwrap(),
        gaussian_matrix(32, 4, &mut rng),
    );
    let config = TrainConfig {
        k: 32,
        batch: 1024,
        ..TrainConfig::report_default()
    };
    (data, params, config)
}

fn step(c: &mut Criterion) {
    vqlab::infra::threads::set_threads(1);
    let (data, start, config) = exp2_setup();
    let mut group = c.benchmark_group("step_exp2");
    for kind in [MethodKind::ManualSte, MethodKind::AutogradSte] {
        let mut method = kind.build(config.weights());
        let mut params = start.clone();
        let mut sampler = BatchSampler::new(0, 20_000, 1024);
        let mut grads = Gradients::empty();
        let svd = config.svd.for_method(kind.spec());
        let mut optimizer = config.build_optimizer();
        group.bench_function(BenchmarkId::from_parameter(kind.name()), |b| {
            b.iter(|| {
                let rows = sampler.next_indices();
                method
                    .gradients_rows(&params, data.train.view(), rows, &Draws::none(), &mut grads)
                    .unwrap();
                optimizer.apply(&mut params, &grads, svd, true).unwrap();
            })
        });
    }
    group.finish();
}

fn nearest(c: &mut Criterion) {
    vqlab::infra::threads::set_threads(1);
    let mut group = c.benchmark_group("nearest_code");
    for (name, b, k, m) in [("exp2", 1024, 32, 4), ("large", 4096, 512, 32)] {
        let mut rng = rng_for(1, Stream::Harness);
        let z = gaussian_matrix(b, m, &mut rng);
        let codes = gaussian_matrix(k, m, &mut rng);
        let mut search = NearestCode::new();
        let mut out = vec![0; b];
        group.bench_function(BenchmarkId::from_parameter(name), |bench| {
            bench.iter(|| search.assign(z.view(), codes.view(), &mut out))
        });
    }
    group.finish();
}

criterion_group!(benches, step, nearest);
criterion_main!(benches);
