//! Running a unit: the baselines, one arm at every rate of its grid with the
//! rate chosen on validation rows, and the stored-unit glue.
#[allow(unused_imports)]
use super::*;

impl StoredUnit for FutureSpec {
    type Output = FutureResult;

    fn key(&self) -> String {
        let kind = match &self.job {
            Job::Baselines { .. } => "base",
            Job::Train { .. } => "train",
            Job::Parity { .. } => "parity",
        };
        format!("future_{kind}_seed{}_{:016x}", self.seed, spec_digest(self))
    }

    fn spec_of(output: &FutureResult) -> &Self {
        &output.spec
    }

    fn run(&self) -> Result<FutureResult> {
        let started = std::time::Instant::now();
        let unit = build_data(&self.data, self.seed, &self.dir.0)?;
        let outcome = match &self.job {
            Job::Baselines { cap, restarts } => {
                Outcome::Baselines(baselines(&unit, self, *cap, *restarts)?)
            }
            Job::Train {
                arm,
                base,
                grid,
                extend,
                curve_points,
            } => Outcome::Train(train_arm(
                &unit,
                self,
                arm,
                *base,
                (grid, *extend),
                *curve_points,
            )?),
            Job::Parity {
                model,
                estimators,
                optimizer,
                steps,
                base,
            } => {
                let mut config = self.config(Arm::new(model.kind, Estimator::Ste), *base);
                config.model = self.model_on_data(*model);
                config.optimizer.kind = *optimizer;
                config.steps = *steps;
                let checked = config.check(unit.data.train.nrows(), unit.data.dim())?;
                let pairs =
                    crate::studies::gradcheck::lockstep_pairs(&unit.data, &checked, estimators)?;
                Outcome::Parity {
                    rows: pairs
                        .into_iter()
                        .map(|p| ParityRow {
                            estimator: p.estimator,
                            max_rel_err_grad: p.max_rel_err_grad,
                            max_abs_err_loss: p.max_abs_err_loss,
                        })
                        .collect(),
                }
            }
        };
        Ok(FutureResult {
            spec: self.clone(),
            outcome,
            seconds: started.elapsed().as_secs_f64(),
        })
    }
}

impl FutureSpec {
    /// The training configuration of `arm` at rates `rates` (α = 1,
    /// β = 0.25 as in the report, for every estimator).
    fn config(&self, arm: Arm, rates: (f64, f64)) -> TrainConfig {
        let Sizes { k, m, batch, steps } = self.sizes;
        TrainConfig {
            model: self.model_on_data(arm.model),
            k,
            m,
            steps,
            batch,
            lr_w: rates.0,
            lr_e: rates.1,
            alpha: crate::train::report::ALPHA,
            beta: crate::train::report::BETA,
            init: Init::default_for(&arm.model),
            kmeans_iters: crate::train::report::KMEANS_ITERS,
            seed: self.seed,
            log_every: 0,
            svd: SvdChoice::Lapack,
            optimizer: OptimizerSpec {
                kind: arm.optimizer,
                ..OptimizerSpec::default()
            },
            schedule: match arm.schedule {
                Schedule::Constant => ScheduleSpec::default(),
                Schedule::Cosine => ScheduleSpec {
                    kind: ScheduleKind::Cosine,
                    lr_final_w: 0.0,
                    lr_final_e: 0.0,
                },
            },
            codebook: CodebookSpec {
                update: arm.codebook,
                ..CodebookSpec::default()
            },
            gumbel: GumbelSpec::default(),
        }
    }
}

pub(crate) fn baselines(
    unit: &UnitData,
    spec: &FutureSpec,
    cap: usize,
    tries: usize,
) -> Result<BaselineOutcome> {
    let data = &unit.data;
    let Sizes { k, m, .. } = spec.sizes;
    // The same stream as the `pca` initialisation: the report's baseline is
    // exactly where the linear models start.
    let report = Baseline::fit(
        data.train.view(),
        m,
        KMeansConfig { k, iters: 20 },
        &mut rng_for(spec.seed, Stream::Init),
    )?;
    let z = data.train.dot(&report.w);
    // Restarts to convergence (the first with the report baseline's
    // seeding), the one with the lowest validation recon kept (the earliest
    // on ties): the baseline is tuned on the rows the arms tune on.
    let mut best: Option<(f64, usize, crate::baseline::kmeans::KMeansFit)> = None;
    let mut rng = rng_for(spec.seed, Stream::Init);
    let fits = restarts(z.view(), k, cap, Seeding::KMeansPlusPlus, tries, &mut rng);
    for (i, fit) in fits.enumerate() {
        let val = evaluate(unit.val.view(), report.w.view(), fit.centres.view()).recon_mse;
        if best.as_ref().is_none_or(|(b, _, _)| val < *b) {
            best = Some((val, i, fit));
        }
    }
    let (_, chosen, converged) = best.expect("at least one restart");
    let units = |c: &Array2<f64>| {
        evaluate(data.eval.view(), report.w.view(), c.view()).in_units(data.scale)
    };
    let (originals, pictures) = match data.image {
        None => (Vec::new(), Vec::new()),
        Some(_) => {
            let shown = picture_rows(data);
            let z = shown.dot(&report.w);
            let codes =
                crate::numerics::quantize::nearest_codes(z.view(), converged.centres.view());
            let q = converged.centres.select(Axis(0), &codes);
            let recon = q.dot(&report.w.t());
            (in_data_units(data, &shown), in_data_units(data, &recon))
        }
    };
    Ok(BaselineOutcome {
        report: units(&report.codebook),
        converged: units(&converged.centres),
        converged_iterations: converged.iterations,
        converged_restart: (chosen, tries.max(1)),
        originals,
        pictures,
    })
}

/// The evaluation rows a unit's pictures show (prepared, as trained on).
fn picture_rows(data: &Dataset) -> Array2<f64> {
    let n = PICTURE_ROWS.min(data.eval.nrows());
    data.eval.slice(s![..n, ..]).to_owned()
}

/// Prepared rows back in the data's units (times the scale, plus the mean).
fn in_data_units(data: &Dataset, rows: &Array2<f64>) -> Vec<Vec<f64>> {
    let mut back = rows * data.scale;
    if let Some(mean) = &data.mean {
        back += mean;
    }
    back.outer_iter().map(|r| r.to_vec()).collect()
}

pub(crate) fn train_arm(
    unit: &UnitData,
    spec: &FutureSpec,
    arm: &Arm,
    base: (f64, f64),
    (grid, extend): (&[f64], usize),
    curve_points: usize,
) -> Result<TrainOutcome> {
    let data = &unit.data;
    let (n, dim) = (data.train.nrows(), data.dim());
    let arm = &Arm {
        model: spec.model_on_data(arm.model),
        ..*arm
    };
    // The start does not depend on the rates: computed once.
    let reference = spec.config(*arm, base).check(n, dim)?;
    let start = initial_params(data.train.view(), &reference)?;
    let initial = start.evaluate(data.eval.view()).in_units(data.scale);
    let search = RateSearch {
        grid: grid.to_vec(),
        extend,
    };
    let RateChoice {
        points,
        chosen,
        best,
    } = choose_rates(
        base,
        &search,
        unit.val.view(),
        data.scale,
        |(lr_w, lr_e)| {
            let mut config = spec.config(*arm, (lr_w, lr_e));
            config.log_every = (spec.sizes.steps / curve_points.max(1)).max(1);
            let config = config.check(n, dim)?;
            let mut method = arm.method().build(config.weights());
            train(method.as_mut(), data, &config, Some(start.clone()), |_| {})
        },
    )?;
    Ok(TrainOutcome {
        grid: points,
        chosen,
        eval: best.as_ref().map(|r| r.final_metrics),
        train: best.as_ref().map(|r| r.final_train),
        curve: best
            .as_ref()
            .map(|r| r.curve.iter().map(|p| (p.step, p.eval.recon_mse)).collect())
            .unwrap_or_default(),
        initial,
        pictures: match (data.image, best.as_ref().and_then(|r| r.params.as_ref())) {
            (Some(_), Some(params)) => {
                in_data_units(data, &params.reconstruct(picture_rows(data).view()).1)
            }
            _ => Vec::new(),
        },
    })
}
