//! The units of work of `reproduce`: one experiment, one variant of the open
//! choices, one (K, β) point and one seed, with every method of that
//! experiment trained on the same data from the same start. Each finished
//! unit is stored as JSON at once, so an interrupted reproduction loses
//! nothing: a rerun reuses every unit whose stored spec equals the new one.
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::study::Scale;

use crate::baseline::kmeans::lloyd;
use crate::baseline::{Baseline, KMeansConfig};
use crate::data::{Dataset, SyntheticSpec};
use crate::error::{Result, VqError};
use crate::model::MethodKind;
use crate::numerics::metrics::{evaluate, Metrics};
use crate::numerics::rng::{rng_for, Stream};
use crate::study::store::{spec_digest, StoredUnit, CODE_FINGERPRINT};
use crate::train::{initial_params, train, CurvePoint, Init, TrainConfig};

/// The report's four experiments.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    PartialOrd,
    Ord,
    clap::ValueEnum,
)]
#[serde(rename_all = "lowercase")]
pub enum Experiment {
    /// Verification: autograd vs manual STE, K = 16.
    Exp1,
    /// Convergence: every method at K = 32, curves every 25 steps.
    Exp2,
    /// Codebook scaling: K ∈ {8, 16, 32, 64}.
    Exp3,
    /// Commitment ablation: β ∈ {0, 0.1, 0.25, 0.5, 1}.
    Exp4,
    /// "Why C2": the gain of experiment 2 under other baselines, trainings,
    /// data and evaluations, and the best codebook for the PCA encoder.
    C2,
}

impl Experiment {
    /// All four, in order.
    pub const ALL: [Experiment; 4] = [
        Experiment::Exp1,
        Experiment::Exp2,
        Experiment::Exp3,
        Experiment::Exp4,
    ];

    /// `exp1` … `exp4`.
    pub fn name(self) -> &'static str {
        match self {
            Experiment::Exp1 => "exp1",
            Experiment::Exp2 => "exp2",
            Experiment::Exp3 => "exp3",
            Experiment::Exp4 => "exp4",
            Experiment::C2 => "c2",
        }
    }
}

/// The two choices the report leaves open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Variant {
    /// Initialisation of the gradient methods.
    pub init: Init,
    /// Mini-batch size (experiments 2–4; experiment 1 states 512).
    pub batch: usize,
}

impl Variant {
    /// `init=pca, batch=1024`.
    pub fn label(&self) -> String {
        format!("init={}, batch={}", init_name(self.init), self.batch)
    }
}

/// `pca` or `random`.
pub fn init_name(init: Init) -> &'static str {
    init.name()
}

/// Everything that determines a unit's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitSpec {
    /// [`CODE_FINGERPRINT`] of the build that computed it.
    pub code: String,
    /// The experiment.
    pub experiment: Experiment,
    /// The open choices.
    pub variant: Variant,
    /// The seed (data, initialisation, batches).
    pub seed: u64,
    /// Training samples.
    pub n_train: usize,
    /// Evaluation samples.
    pub n_eval: usize,
    /// The data generator.
    pub data: SyntheticSpec,
    /// The training configuration (K, β, steps, … are in here).
    pub train: TrainConfig,
    /// The methods trained.
    pub methods: Vec<MethodKind>,
    /// Whether the PCA + Lloyd baseline is evaluated.
    pub baseline: bool,
    /// Whether the encoder/codebook attribution of the gain is measured.
    pub attribution: bool,
}

impl UnitSpec {
    /// The unit's key in the run store: readable fields, then a digest of
    /// the whole spec apart from the code fingerprint (so a quick and a full
    /// run, or two data presets, can share one store without overwriting
    /// each other, while a rebuild of the code recomputes into the same
    /// file).
    pub fn key(&self) -> String {
        format!(
            "{}_{}_b{}_k{}_beta{}_seed{}_{:016x}",
            self.experiment.name(),
            init_name(self.variant.init),
            self.variant.batch,
            self.train.k,
            self.train.beta,
            self.seed,
            spec_digest(self)
        )
    }

    /// The file name of the stored result: the key, `.json`.
    pub fn file_name(&self) -> String {
        format!("{}.json", self.key())
    }

    /// Estimated work of the unit in millions of multiply-adds, for packing
    /// units onto shards: per training step B·(2Dm + 3Km) for each method
    /// (autograd counted 8×, its measured overhead at the report's size),
    /// evaluations of the training and eval sets at every logged point,
    /// PCA (N·D²) and Lloyd (N·K·m per iteration) for the baseline, and the
    /// refits of the attribution.
    pub fn estimated_cost(&self) -> f64 {
        let (d, m, k) = (
            self.data.dim as f64,
            self.train.m as f64,
            self.train.k as f64,
        );
        let (n, n_eval) = (self.n_train as f64, self.n_eval as f64);
        let per_row = 2.0 * d * m + 3.0 * k * m;
        let steps = self.train.steps as f64;
        let logs = (self.train.steps / self.train.log_every.max(1) + 2) as f64;
        let lloyd = n * k * m * self.train.kmeans_iters as f64;
        let methods: f64 = self
            .methods
            .iter()
            .map(|kind| {
                let backend = if kind.spec().backend == crate::model::Backend::Autograd {
                    8.0
                } else {
                    1.0
                };
                backend * steps * self.train.batch as f64 * per_row
                    + logs * n_eval * per_row
                    + (n + n_eval) * per_row
                    + if self.attribution { lloyd } else { 0.0 }
            })
            .sum();
        let baseline = if self.baseline || self.attribution {
            n * d * d + lloyd + if self.attribution { lloyd } else { 0.0 }
        } else {
            0.0
        };
        (methods + baseline + n * d * m) / 1e6
    }
}

/// Where a method's gain over the baseline comes from (claim C12).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// The baseline's W with the trained codebook.
    pub baseline_w_trained_e: Metrics,
    /// The trained W with a codebook refitted by Lloyd (from the trained
    /// codebook, same iterations as the baseline) on the trained codes.
    pub trained_w_refit_e: Metrics,
    /// The matched control: the baseline's W with its codebook refitted by
    /// the same extra Lloyd iterations (from the baseline's codebook) — what
    /// the extra Lloyd iterations alone give.
    pub baseline_w_refit_e: Metrics,
}

/// One method's outcome in a unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MethodOutcome {
    /// The method.
    pub method: MethodKind,
    /// Final eval metrics (absent when the run failed).
    #[serde(rename = "final")]
    pub final_metrics: Option<Metrics>,
    /// Final metrics on the training set.
    pub final_train: Option<Metrics>,
    /// The curve.
    pub curve: Vec<CurvePoint>,
    /// Seconds per training step.
    pub seconds_per_step: f64,
    /// The attribution, when asked for.
    pub attribution: Option<Attribution>,
    /// Why the run failed (divergence, …); the report marks it instead of
    /// averaging it.
    pub error: Option<String>,
}

/// A finished unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnitResult {
    /// What was run.
    pub spec: UnitSpec,
    /// Eval metrics of the baseline, when asked for.
    pub baseline: Option<Metrics>,
    /// Training-set metrics of the baseline, when asked for (the
    /// generalisation gap before training).
    pub baseline_train: Option<Metrics>,
    /// Eval metrics of the initial parameters of the gradient methods.
    pub initial: Metrics,
    /// Per method.
    pub runs: Vec<MethodOutcome>,
    /// Wall time of the unit.
    pub seconds: f64,
}

impl UnitResult {
    /// The outcome of `method`, if it was run.
    pub fn run(&self, method: MethodKind) -> Option<&MethodOutcome> {
        self.runs.iter().find(|r| r.method == method)
    }
}

/// Runs one unit.
pub fn run_unit(spec: &UnitSpec) -> Result<UnitResult> {
    let started = Instant::now();
    let data = Dataset::synthetic(&spec.data, spec.n_train, spec.n_eval, spec.seed)?;
    let config = &spec.train.clone().check(spec.n_train, data.dim())?;
    let kmeans = KMeansConfig {
        k: config.k,
        iters: config.kmeans_iters,
    };
    let baseline = if spec.baseline || spec.attribution {
        // The same seeding stream as the `pca` initialisation: for init=pca
        // the gradient methods start exactly at this baseline.
        Some(Baseline::fit(
            data.train.view(),
            config.m,
            kmeans,
            &mut rng_for(spec.seed, Stream::Init),
        )?)
    } else {
        None
    };
    let start = initial_params(data.train.view(), config)?;
    let initial = evaluate(data.eval.view(), start.w().view(), start.codebook.view());
    // The matched control of the attribution: the baseline W with the same
    // extra Lloyd iterations as the trained W gets.
    let baseline_refit = match (&baseline, spec.attribution) {
        (Some(base), true) => {
            let z = data.train.dot(&base.w);
            let refit = lloyd(z.view(), base.codebook.clone(), config.kmeans_iters);
            Some(evaluate(
                data.eval.view(),
                base.w.view(),
                refit.centres.view(),
            ))
        }
        _ => None,
    };
    let mut runs = Vec::new();
    for &kind in &spec.methods {
        let mut method = kind.build(config.weights());
        let outcome = match train(method.as_mut(), &data, config, Some(start.clone()), |_| {}) {
            Ok(result) => {
                let params = result.params.as_ref().expect("train returns parameters");
                let attribution = match (&baseline, baseline_refit) {
                    (Some(base), Some(baseline_w_refit_e)) => {
                        let z = data.train.dot(params.w());
                        let refit = lloyd(z.view(), params.codebook.clone(), config.kmeans_iters);
                        Some(Attribution {
                            baseline_w_trained_e: evaluate(
                                data.eval.view(),
                                base.w.view(),
                                params.codebook.view(),
                            ),
                            trained_w_refit_e: evaluate(
                                data.eval.view(),
                                params.w().view(),
                                refit.centres.view(),
                            ),
                            baseline_w_refit_e,
                        })
                    }
                    _ => None,
                };
                MethodOutcome {
                    method: kind,
                    final_metrics: Some(result.final_metrics),
                    final_train: Some(result.final_train),
                    curve: result.curve,
                    seconds_per_step: result.timing.seconds_per_step,
                    attribution,
                    error: None,
                }
            }
            Err(e @ VqError::Diverged { .. }) => MethodOutcome {
                method: kind,
                final_metrics: None,
                final_train: None,
                curve: Vec::new(),
                seconds_per_step: 0.0,
                attribution: None,
                error: Some(e.to_string()),
            },
            Err(e) => return Err(e),
        };
        runs.push(outcome);
    }
    let on = |x: ndarray::ArrayView2<f64>| {
        baseline
            .as_ref()
            .filter(|_| spec.baseline)
            .map(|b| evaluate(x, b.w.view(), b.codebook.view()))
    };
    Ok(UnitResult {
        baseline: on(data.eval.view()),
        baseline_train: on(data.train.view()),
        spec: spec.clone(),
        initial,
        runs,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Sizes and schedules of a reproduction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReproduceScale {
    /// Steps of experiment 1.
    pub exp1_steps: usize,
    /// Steps of experiments 2–4.
    pub steps: usize,
    /// Logging interval of the curves.
    pub log_every: usize,
}

impl Scale for ReproduceScale {
    /// The report's schedule.
    fn full() -> Self {
        ReproduceScale {
            exp1_steps: 200,
            steps: 500,
            log_every: 25,
        }
    }

    /// A reduced schedule for smoke tests (one fifth of the steps).
    fn quick() -> Self {
        ReproduceScale {
            exp1_steps: 40,
            steps: 100,
            log_every: 5,
        }
    }
}

pub(crate) fn base_config(
    k: usize,
    beta: f64,
    steps: usize,
    variant: Variant,
    seed: u64,
    log_every: usize,
) -> TrainConfig {
    TrainConfig {
        k,
        steps,
        batch: variant.batch,
        beta,
        init: variant.init,
        seed,
        log_every,
        ..TrainConfig::report_default()
    }
}

/// The units of `experiment` for `variants` and `seeds`, as the report's table (`reference/README.md`).
pub fn plan(
    experiment: Experiment,
    variants: &[Variant],
    seeds: &[u64],
    data: &SyntheticSpec,
    scale: &ReproduceScale,
) -> Vec<UnitSpec> {
    let mut out = Vec::new();
    for &variant in variants {
        for &seed in seeds {
            let unit = |k: usize,
                        beta: f64,
                        n_train,
                        n_eval,
                        steps,
                        methods: Vec<MethodKind>,
                        baseline,
                        attribution| UnitSpec {
                code: CODE_FINGERPRINT.to_string(),
                experiment,
                variant,
                seed,
                n_train,
                n_eval,
                data: data.clone(),
                train: base_config(k, beta, steps, variant, seed, scale.log_every),
                methods,
                baseline,
                attribution,
            };
            use MethodKind::*;
            match experiment {
                Experiment::Exp1 => out.push(unit(
                    16,
                    0.25,
                    10_000,
                    2_000,
                    scale.exp1_steps,
                    vec![AutogradSte, ManualSte],
                    false,
                    false,
                )),
                Experiment::Exp2 => out.push(unit(
                    32,
                    0.25,
                    20_000,
                    4_000,
                    scale.steps,
                    vec![AutogradSte, ManualSte, Rotation, RotationTrick],
                    true,
                    true,
                )),
                Experiment::Exp3 => {
                    for k in [8, 16, 32, 64] {
                        out.push(unit(
                            k,
                            0.25,
                            20_000,
                            4_000,
                            scale.steps,
                            vec![ManualSte, Rotation],
                            true,
                            false,
                        ));
                    }
                }
                // The study plans its own units (`c2::plan`).
                Experiment::C2 => {}
                Experiment::Exp4 => {
                    for beta in [0.0, 0.1, 0.25, 0.5, 1.0] {
                        out.push(unit(
                            32,
                            beta,
                            20_000,
                            4_000,
                            scale.steps,
                            vec![ManualSte, Rotation],
                            false,
                            false,
                        ));
                    }
                }
            }
        }
    }
    out
}

impl StoredUnit for UnitSpec {
    type Output = UnitResult;
    fn key(&self) -> String {
        UnitSpec::key(self)
    }
    fn spec_of(output: &UnitResult) -> &Self {
        &output.spec
    }
    fn run(&self) -> Result<UnitResult> {
        run_unit(self)
    }
}
