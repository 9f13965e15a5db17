//! One unit of the C2 study: a data variant and a seed, every baseline and
//! training variant on the same data.
#[allow(unused_imports)]
use super::*;

impl StoredUnit for C2Spec {
    type Output = C2Result;

    fn key(&self) -> String {
        format!(
            "c2_{}_seed{}_{:016x}",
            self.data_name
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                .collect::<String>(),
            self.seed,
            crate::study::store::spec_digest(self)
        )
    }

    fn spec_of(output: &C2Result) -> &Self {
        &output.spec
    }

    fn run(&self) -> Result<C2Result> {
        run_c2_unit(self)
    }
}

pub(crate) fn run_c2_unit(spec: &C2Spec) -> Result<C2Result> {
    let started = std::time::Instant::now();
    let data = Dataset::synthetic(&spec.data, spec.n_train, spec.n_eval, spec.seed)?;
    let pca = Pca::fit(data.train.view(), spec.train.m)?;
    let w = &pca.components;
    let z = data.train.dot(w);
    let pair = |codebook: &ndarray::Array2<f64>| EvalTrain {
        eval: evaluate(data.eval.view(), w.view(), codebook.view()),
        train: evaluate(data.train.view(), w.view(), codebook.view()),
    };
    // Every baseline variant seeds from the same stream as the `pca`
    // initialisation, so the standard one is exactly the training's start.
    let baselines = spec
        .baselines
        .iter()
        .map(|b| {
            let fit = best_of(
                z.view(),
                spec.train.k,
                b.iters,
                b.seeding,
                b.restarts,
                &mut rng_for(spec.seed, Stream::Init),
            );
            pair(&fit.centres)
        })
        .collect();
    // The bound's restarts: the one chosen on the training codes (what
    // k-means can know), and the lowest eval in-sub among them (an
    // optimistic figure: chosen on the evaluation set itself).
    let mut bound_rng = rng_for(spec.seed, Stream::Restart);
    let measured: Vec<(f64, EvalTrain)> = restarts(
        z.view(),
        spec.train.k,
        spec.bound.1,
        Seeding::KMeansPlusPlus,
        spec.bound.0,
        &mut bound_rng,
    )
    .map(|fit| (fit.final_objective(), pair(&fit.centres)))
    .collect();
    let bound = measured
        .iter()
        .reduce(|best, r| if r.0 < best.0 { r } else { best })
        .expect("at least one restart")
        .1;
    let bound_lowest_eval = measured
        .iter()
        .map(|r| r.1.eval)
        .reduce(|best, m| {
            if m.insub_distortion < best.insub_distortion {
                m
            } else {
                best
            }
        })
        .expect("at least one restart");
    // Every training starts from the same point (the initialisation depends
    // on the data, m, K, the Lloyd iterations and the seed, none of which
    // the variants change): compute it once.
    let reference = spec.train.clone().check(spec.n_train, data.dim())?;
    let start = initial_params(data.train.view(), &reference)?;
    let mut trainings = Vec::new();
    for t in &spec.trainings {
        let mut config = spec.train.clone();
        config.steps = t.steps;
        config.lr_e = t.lr_e;
        config.batch = t.batch;
        config.log_every = t.steps;
        let config = config.check(spec.n_train, data.dim())?;
        let start = start.clone();
        let mut method = MethodKind::ManualSte.build(config.weights());
        match train(method.as_mut(), &data, &config, Some(start), |_| {}) {
            Ok(r) => trainings.push(Some(EvalTrain {
                eval: r.final_metrics,
                train: r.final_train,
            })),
            Err(crate::error::VqError::Diverged { .. }) => trainings.push(None),
            Err(e) => return Err(e),
        }
    }
    Ok(C2Result {
        spec: spec.clone(),
        baselines,
        trainings,
        bound,
        bound_lowest_eval,
        seconds: started.elapsed().as_secs_f64(),
    })
}
