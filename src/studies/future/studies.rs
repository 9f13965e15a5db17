//! The studies F1–F6: their ids, words and shared rules (base rates, noise
//! shares), the plan types (conditions, hypotheses), and the plans stated
//! in code, which the shipped files in studies/ must equal. A study is
//! data, not code: `vqlab future` plans from those files, and adding an arm
//! or a data set is one more entry in one of them.
use serde::{Deserialize, Serialize};

use crate::study::Scale;

use super::unit::{Arm, DataChoice, Schedule, Sizes};
use crate::data::SyntheticSpec;
use crate::model::codebook::CodebookUpdate;
use crate::model::{Estimator, ModelKind};
use crate::optim::OptimizerKind;

/// One study of the report's future work.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
pub enum StudyId {
    /// Real data (does C2 hold on real and image data?).
    #[value(name = "F1", alias = "f1")]
    F1,
    /// Nonlinear (MLP) encoders, and the rotation estimators there.
    #[value(name = "F2", alias = "f2")]
    F2,
    /// Optimizers and schedules.
    #[value(name = "F3", alias = "f3")]
    F3,
    /// Scale: D = 512, K = 512, and image dimension at K up to 512.
    #[value(name = "F4", alias = "f4")]
    F4,
    /// Other estimators: NSVQ, Gumbel-Softmax, with gradient and EMA codebooks.
    #[value(name = "F5", alias = "f5")]
    F5,
    /// High noise.
    #[value(name = "F6", alias = "f6")]
    F6,
    /// A study read from a file (`vqlab study FILE`).
    #[value(skip)]
    User,
}

impl StudyId {
    /// All six, in order.
    pub const ALL: [StudyId; 6] = [
        StudyId::F1,
        StudyId::F2,
        StudyId::F3,
        StudyId::F4,
        StudyId::F5,
        StudyId::F6,
    ];

    /// `F1` … `F6`.
    pub fn name(self) -> &'static str {
        match self {
            StudyId::F1 => "F1",
            StudyId::F2 => "F2",
            StudyId::F3 => "F3",
            StudyId::F4 => "F4",
            StudyId::F5 => "F5",
            StudyId::F6 => "F6",
            StudyId::User => "study",
        }
    }

    /// The title.
    pub fn title(self) -> &'static str {
        match self {
            StudyId::F1 => "Real data",
            StudyId::F2 => "Nonlinear encoders",
            StudyId::F3 => "Optimizers and schedules",
            StudyId::F4 => "Scale",
            StudyId::F5 => "Other estimators",
            StudyId::F6 => "Noise",
            StudyId::User => "Your study",
        }
    }

    /// The report's words this study answers.
    pub fn question(self) -> &'static str {
        match self {
            StudyId::F1 => "Limitation 1, \"synthetic data; real-world data may differ\"; future work 1, \"image data (MNIST, CIFAR-10)\": does the gradient-methods-beat-PCA+Lloyd result (C2) hold on real data?",
            StudyId::F2 => "Limitation 2, \"linear encoder; nonlinear encoders may benefit more\"; future work 2, \"add MLPs to see if Rotation helps\": do MLP encoders gain more from gradient training, and does the report's rotation (or the rotation trick) help there?",
            StudyId::F3 => "Future work 3, \"learning-rate schedules, adaptive optimizers (Adam)\": do Adam (Riemannian on W) or a cosine schedule change the gain or the ranking?",
            StudyId::F4 => "Limitation 4 / future work 4, \"D=512, K=512\": do the findings hold at D = 512, K = 512 and at image dimension?",
            StudyId::F5 => "Future work 5, \"other estimators: Gumbel-Softmax, REBAR\": where do NSVQ and Gumbel-Softmax stand against STE, with the gradient codebook and with EMA?",
            StudyId::F6 => "Limitation 3, \"high-noise settings might change relative performance\": does the ranking change as noise grows to half the energy?",
            StudyId::User => "",
        }
    }
}

/// One data set with its sizes and the arms trained on it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Condition {
    /// The study.
    pub study: StudyId,
    /// Its name in tables (unique within the study).
    pub name: String,
    /// The data.
    pub data: DataChoice,
    /// K, m, batch, steps.
    pub sizes: Sizes,
    /// The arms, in table order.
    pub arms: Vec<Arm>,
    /// The value on a plot's x axis (K for F4's image data, the noise share
    /// of the energy for F6), if the study plots one.
    pub x: Option<f64>,
    /// Arms trained at fixed rates (η_W, η_E) instead of a validation grid
    /// (study files' `rates = [w, e]`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fixed_rates: Vec<(Arm, (f64, f64))>,
}

/// What a candidate is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reference {
    /// PCA + Lloyd run to convergence.
    Converged,
    /// Another arm of the same condition.
    Arm(Arm),
}

/// One comparison of a hypothesis: the candidate's relative recon gain over
/// the reference, 100 · (ref − cand) / ref, paired by seed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GainPart {
    /// The condition's name.
    pub condition: String,
    /// The candidate.
    pub candidate: Arm,
    /// The reference.
    pub reference: Reference,
}

/// Something ranked in a ranking comparison.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Entity {
    /// PCA + Lloyd run to convergence.
    Converged,
    /// An arm.
    Arm(Arm),
}

/// The same entities in two settings: does any pair swap places?
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RankingPart {
    /// What the first setting is, in words.
    pub first_name: String,
    /// The first setting: a condition and its entities.
    pub first: (String, Vec<Entity>),
    /// What the second setting is, in words.
    pub second_name: String,
    /// The second setting, entity i standing for the first's entity i.
    pub second: (String, Vec<Entity>),
}

pub use crate::study::rules::Combine;

/// The test of a hypothesis.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Test {
    /// Relative gains, each judged "at least δ %".
    Gains(Vec<GainPart>),
    /// Ranking comparisons, each judged by the swap rule.
    Rankings(Vec<RankingPart>),
}

/// A hypothesis of the report, as vqlab tests it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Hypothesis {
    /// `H1`, `H2a`, ….
    pub id: &'static str,
    /// The study it belongs to.
    pub study: StudyId,
    /// The hypothesis in words.
    pub text: String,
    /// How its parts combine.
    pub combine: Combine,
    /// Its parts.
    pub test: Test,
}

/// The sizes of the studies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FutureScale {
    /// Synthetic rows trained on, validation rows, evaluation rows.
    pub synthetic_rows: (usize, usize, usize),
    /// Steps of every run (F2: twice this).
    pub steps: usize,
    /// Batch of the synthetic runs.
    pub synthetic_batch: usize,
    /// Batch of the real-data runs.
    pub real_batch: usize,
    /// K of the synthetic runs at the report's size.
    pub synthetic_k: usize,
    /// K of F4's large synthetic configuration.
    pub large_k: usize,
    /// K of the real-data runs of F1, F2, F3, F5.
    pub real_k: usize,
    /// K values of F4's image data.
    pub image_ks: Vec<usize>,
    /// Learning-rate multipliers tried first on the validation split.
    pub grid: Vec<f64>,
    /// At most this many more, past the edge that wins.
    pub grid_extensions: usize,
    /// Curve points per run.
    pub curve_points: usize,
    /// Lockstep steps of the parity units.
    pub parity_steps: usize,
    /// Batch of the conv model's conditions (MNIST and the photo crops in
    /// F1, F2, F5).
    pub conv_batch: usize,
    /// Steps of the conv model's conditions (the same in F2: a conv step
    /// costs about 400 linear ones).
    pub conv_steps: usize,
}

impl Scale for FutureScale {
    /// The full studies (≥ 5 seeds given by the caller).
    fn full() -> Self {
        FutureScale {
            synthetic_rows: (8000, 2000, 2000),
            steps: 500,
            synthetic_batch: 1024,
            real_batch: 256,
            synthetic_k: 32,
            large_k: 512,
            real_k: 64,
            image_ks: vec![16, 64, 256, 512],
            grid: vec![0.25, 1.0, 4.0],
            grid_extensions: 2,
            curve_points: 5,
            parity_steps: 3,
            conv_batch: 64,
            conv_steps: 200,
        }
    }

    /// The smoke version: seconds, for tests and CI (runs on the slice in
    /// tests/data).
    fn quick() -> Self {
        FutureScale {
            synthetic_rows: (1600, 400, 400),
            steps: 60,
            synthetic_batch: 256,
            real_batch: 64,
            synthetic_k: 16,
            large_k: 64,
            real_k: 16,
            image_ks: vec![16, 64],
            grid: vec![0.5, 2.0],
            grid_extensions: 1,
            curve_points: 4,
            parity_steps: 2,
            conv_batch: 16,
            conv_steps: 20,
        }
    }
}

/// The report's α = 1 / β = 0.25 SGD rates (η_W, η_E), made for data whose
/// mean squared norm is the calibrated generator's.
pub const REPORT_RATES: (f64, f64) = (0.08, 0.2);

/// The start rates of Adam (before the multiplier): `train`'s defaults.
pub use crate::train::rates::ADAM_RATES;

/// The population mean squared norm of synthetic data: Σ s_i² + D σ².
pub fn synthetic_energy(spec: &SyntheticSpec) -> f64 {
    spec.spectrum.iter().map(|s| s * s).sum::<f64>()
        + spec.dim as f64 * spec.noise_sigma * spec.noise_sigma
}

/// The mean squared norm of a data choice (real data are centred and scaled
/// to unit mean square per coordinate, so it is D).
pub fn energy(data: &DataChoice) -> f64 {
    match data {
        DataChoice::Synthetic { spec, .. } => synthetic_energy(spec),
        DataChoice::Real { set, .. } => set.dim() as f64,
        DataChoice::File { dim, .. } => *dim as f64,
    }
}

/// The base rates of `arm` on `data`: SGD gets the report's rates scaled by
/// the calibrated generator's energy over the data's (the gradients grow with
/// it), for the conv model also divided by the (k/2)² patches of its first
/// stride-2 convolution that each pixel lies in (4 at k = 4); Adam, which
/// divides by the gradient's size, gets [`ADAM_RATES`].
pub fn base_rates(arm: &Arm, data: &DataChoice) -> (f64, f64) {
    match arm.optimizer {
        OptimizerKind::Adam => ADAM_RATES,
        // A researcher's file: `train`'s default, from its spectrum.
        OptimizerKind::Sgd if matches!(data, DataChoice::File { .. }) => {
            let DataChoice::File { top_eigenvalue, .. } = data else {
                unreachable!()
            };
            crate::train::rates::spectrum_rates(*top_eigenvalue)
        }
        OptimizerKind::Sgd => {
            let ratio = synthetic_energy(&SyntheticSpec::report_default()) / energy(data);
            // The conv model's first convolution (stride 2) sees each pixel
            // in (k/2)² overlapping patches: its shared weights' gradient
            // carries that many times the data's energy.
            let overlap = match arm.model.kind {
                ModelKind::Conv => (arm.model.layers.kernel as f64 / 2.0).powi(2),
                _ => 1.0,
            };
            let ratio = ratio / overlap;
            (REPORT_RATES.0 * ratio, REPORT_RATES.1 * ratio)
        }
    }
}

/// The noise σ at which noise carries `share` of the energy of `spec`'s data.
pub fn sigma_for_noise_share(spec: &SyntheticSpec, share: f64) -> f64 {
    let signal: f64 = spec.spectrum.iter().map(|s| s * s).sum();
    (share / (1.0 - share) * signal / spec.dim as f64).sqrt()
}

/// The noise share of the energy at `spec`'s σ.
pub fn noise_share(spec: &SyntheticSpec) -> f64 {
    let noise = spec.dim as f64 * spec.noise_sigma * spec.noise_sigma;
    noise / synthetic_energy(spec)
}

/// The real data of the studies (what `data-setup.sh` installs, or the
/// slice in tests/data).
#[derive(Debug, Clone, PartialEq)]
pub struct RealChoices {
    /// MNIST.
    pub mnist: DataChoice,
    /// scikit-learn's digits.
    pub digits: DataChoice,
    /// The photo crops (evaluated on the held-out photograph's).
    pub photos: DataChoice,
}

/// The studies' conditions and hypotheses.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Every condition of the chosen studies.
    pub conditions: Vec<Condition>,
    /// Every hypothesis of the chosen studies.
    pub hypotheses: Vec<Hypothesis>,
}

fn arms(model: ModelKind, estimators: &[Estimator]) -> Vec<Arm> {
    estimators.iter().map(|&e| Arm::new(model, e)).collect()
}

const REPORT_ESTIMATORS: [Estimator; 2] = [Estimator::Ste, Estimator::ResidualProjection];

/// The conditions and hypotheses of `studies` at `scale`, stated in code:
/// the independent statement the shipped study files (studies/F1.toml …,
/// which `vqlab future` plans from) are checked against, condition for
/// condition and part for part, at both scales.
pub fn plan(studies: &[StudyId], scale: &FutureScale, real: &RealChoices) -> Plan {
    let report = SyntheticSpec::report_default();
    let (n_fit, n_val, n_eval) = scale.synthetic_rows;
    let synthetic = |spec: SyntheticSpec| DataChoice::Synthetic {
        spec,
        n_fit,
        n_val,
        n_eval,
    };
    let syn_sizes = |k: usize, steps: usize| Sizes {
        k,
        m: 4,
        batch: scale.synthetic_batch,
        steps,
    };
    let real_sizes = |data: &DataChoice, k: usize, steps: usize| Sizes {
        k,
        m: if data.dim() >= 256 { 16 } else { 8 },
        batch: scale.real_batch.min(data.n_fit()),
        steps,
    };
    let every = Estimator::ALL;
    // The two data sets of F2, F3 and F5: the calibrated generator at the
    // report's size, and MNIST.
    let synthetic_and_mnist = |steps: usize| {
        [
            (
                format!("synthetic K={}", scale.synthetic_k),
                synthetic(report.clone()),
                syn_sizes(scale.synthetic_k, steps),
            ),
            (
                format!("mnist K={}", scale.real_k),
                real.mnist.clone(),
                real_sizes(&real.mnist, scale.real_k, steps),
            ),
        ]
    };
    // The conv model's two image sets, each one condition with its own
    // sizes (a conv step costs hundreds of linear ones); F1 and F5 share
    // their SGD units.
    let conv_conditions = || {
        [&real.mnist, &real.photos].map(|data| {
            let sizes = Sizes {
                batch: scale.conv_batch.min(data.n_fit()),
                ..real_sizes(data, scale.real_k, scale.conv_steps)
            };
            (
                format!("{} conv K={}", data.name(), sizes.k),
                data.clone(),
                sizes,
            )
        })
    };
    let conv = |e: Estimator| Arm::new(ModelKind::Conv, e);
    let mut conditions = Vec::new();
    let mut hypotheses = Vec::new();
    let cond = |study, name: String, data: DataChoice, sizes, arms, x| Condition {
        study,
        name,
        data,
        sizes,
        arms,
        x,
        fixed_rates: Vec::new(),
    };
    for &study in studies {
        match study {
            StudyId::F1 => {
                let mut parts = Vec::new();
                for data in [&real.digits, &real.mnist] {
                    let k = if data.dim() >= 256 {
                        scale.real_k
                    } else {
                        scale.synthetic_k
                    };
                    let mut a = arms(ModelKind::Tied, &every);
                    a.extend(arms(ModelKind::Untied, &every));
                    let name = format!("{} K={k}", data.name());
                    for model in [ModelKind::Tied, ModelKind::Untied] {
                        for e in REPORT_ESTIMATORS {
                            parts.push(GainPart {
                                condition: name.clone(),
                                candidate: Arm::new(model, e),
                                reference: Reference::Converged,
                            });
                        }
                    }
                    conditions.push(cond(
                        study,
                        name,
                        data.clone(),
                        real_sizes(data, k, scale.steps),
                        a,
                        None,
                    ));
                }
                hypotheses.push(Hypothesis {
                    id: "H1",
                    study,
                    text: "On real data (digits, MNIST), the report's gradient methods (STE and its \"rotation\", tied and untied) beat PCA + Lloyd run to convergence".into(),
                    combine: Combine::All,
                    test: Test::Gains(parts),
                });
                let mut parts = Vec::new();
                for (name, data, sizes) in conv_conditions() {
                    for e in REPORT_ESTIMATORS {
                        parts.push(GainPart {
                            condition: name.clone(),
                            candidate: conv(e),
                            reference: Reference::Converged,
                        });
                    }
                    conditions.push(cond(
                        study,
                        name,
                        data,
                        sizes,
                        REPORT_ESTIMATORS.map(conv).to_vec(),
                        None,
                    ));
                }
                hypotheses.push(Hypothesis {
                    id: "H1c",
                    study,
                    text: "On images (MNIST, photo crops), the conv model trained by the report's gradient methods (STE and its \"rotation\") beats PCA + Lloyd run to convergence (a code per latent vector: 49 or 64 codes per image against the baseline's one)".into(),
                    combine: Combine::All,
                    test: Test::Gains(parts),
                });
            }
            StudyId::F2 => {
                let adam = |a: Arm| a.with_optimizer(OptimizerKind::Adam);
                let (mut more, mut rotation) = (Vec::new(), Vec::new());
                let steps = 2 * scale.steps;
                for (name, data, sizes) in synthetic_and_mnist(steps) {
                    let mut a: Vec<Arm> =
                        arms(ModelKind::Mlp, &every).into_iter().map(adam).collect();
                    for e in [
                        Estimator::Ste,
                        Estimator::ResidualProjection,
                        Estimator::RotationTrick,
                    ] {
                        a.push(adam(Arm::new(ModelKind::Tied, e)));
                    }
                    a.push(adam(Arm::new(ModelKind::Untied, Estimator::Ste)));
                    more.push(GainPart {
                        condition: name.clone(),
                        candidate: adam(Arm::new(ModelKind::Mlp, Estimator::Ste)),
                        reference: Reference::Arm(adam(Arm::new(ModelKind::Tied, Estimator::Ste))),
                    });
                    for e in [Estimator::ResidualProjection, Estimator::RotationTrick] {
                        rotation.push(GainPart {
                            condition: name.clone(),
                            candidate: adam(Arm::new(ModelKind::Mlp, e)),
                            reference: Reference::Arm(adam(Arm::new(
                                ModelKind::Mlp,
                                Estimator::Ste,
                            ))),
                        });
                    }
                    conditions.push(cond(study, name, data, sizes, a, None));
                }
                let mut conv_rotation = Vec::new();
                for (name, data, sizes) in conv_conditions() {
                    let (ste, trick) = (
                        adam(conv(Estimator::Ste)),
                        adam(conv(Estimator::RotationTrick)),
                    );
                    conv_rotation.push(GainPart {
                        condition: name.clone(),
                        candidate: trick,
                        reference: Reference::Arm(ste),
                    });
                    conditions.push(cond(study, name, data, sizes, vec![ste, trick], None));
                }
                hypotheses.push(Hypothesis {
                    id: "H2a",
                    study,
                    text: "An MLP encoder/decoder trained with STE ends with a lower eval recon than the linear (tied) model trained the same way".into(),
                    combine: Combine::All,
                    test: Test::Gains(more),
                });
                hypotheses.push(Hypothesis {
                    id: "H2b",
                    study,
                    text: "With an MLP, the report's \"rotation\" (residual projection) or the rotation trick beats STE".into(),
                    combine: Combine::Any,
                    test: Test::Gains(rotation),
                });
                hypotheses.push(Hypothesis {
                    id: "H2c",
                    study,
                    text: "With the conv model on images (MNIST, photo crops), the rotation trick beats STE".into(),
                    combine: Combine::Any,
                    test: Test::Gains(conv_rotation),
                });
            }
            StudyId::F3 => {
                let methods = [
                    Arm::new(ModelKind::Tied, Estimator::Ste),
                    Arm::new(ModelKind::Tied, Estimator::ResidualProjection),
                    Arm::new(ModelKind::Untied, Estimator::Ste),
                    Arm::new(ModelKind::Mlp, Estimator::Ste),
                ];
                let settings = [
                    ("SGD, constant", OptimizerKind::Sgd, Schedule::Constant),
                    ("Adam, constant", OptimizerKind::Adam, Schedule::Constant),
                    ("SGD, cosine", OptimizerKind::Sgd, Schedule::Cosine),
                    ("Adam, cosine", OptimizerKind::Adam, Schedule::Cosine),
                ];
                let with = |a: Arm, (_, o, s): (&str, OptimizerKind, Schedule)| {
                    a.with_optimizer(o).with_schedule(s)
                };
                let (mut gains, mut rankings) = (Vec::new(), Vec::new());
                for (name, data, sizes) in synthetic_and_mnist(scale.steps) {
                    let mut a = Vec::new();
                    for setting in settings {
                        a.extend(methods.iter().map(|&m| with(m, setting)));
                    }
                    for &m in &methods {
                        for setting in &settings[1..3] {
                            gains.push(GainPart {
                                condition: name.clone(),
                                candidate: with(m, *setting),
                                reference: Reference::Arm(m),
                            });
                        }
                    }
                    let entities = |setting| -> Vec<Entity> {
                        std::iter::once(Entity::Converged)
                            .chain(methods.iter().map(|&m| Entity::Arm(with(m, setting))))
                            .collect()
                    };
                    for setting in &settings[1..] {
                        rankings.push(RankingPart {
                            first_name: format!("{name}, {}", settings[0].0),
                            first: (name.clone(), entities(settings[0])),
                            second_name: format!("{name}, {}", setting.0),
                            second: (name.clone(), entities(*setting)),
                        });
                    }
                    conditions.push(cond(study, name, data, sizes, a, None));
                }
                hypotheses.push(Hypothesis {
                    id: "H3a",
                    study,
                    text:
                        "Adam (Riemannian on W) or a cosine schedule beats SGD with constant rates"
                            .into(),
                    combine: Combine::Any,
                    test: Test::Gains(gains),
                });
                hypotheses.push(Hypothesis {
                    id: "H3b",
                    study,
                    text: "The optimizer or schedule changes the ranking of the methods and the baseline".into(),
                    combine: Combine::Any,
                    test: Test::Rankings(rankings),
                });
            }
            StudyId::F4 => {
                let mut a = arms(ModelKind::Tied, &every);
                a.push(Arm::new(ModelKind::Untied, Estimator::Ste));
                let mut parts = Vec::new();
                let large = SyntheticSpec {
                    dim: 512,
                    ..report.clone()
                };
                let mut runs = vec![(
                    format!("synthetic D=512 K={}", scale.large_k),
                    synthetic(large),
                    syn_sizes(scale.large_k, scale.steps),
                    None,
                )];
                for &k in &scale.image_ks {
                    if k <= real.mnist.n_fit() {
                        runs.push((
                            format!("mnist K={k}"),
                            real.mnist.clone(),
                            real_sizes(&real.mnist, k, scale.steps),
                            Some(k as f64),
                        ));
                    }
                }
                for (name, data, sizes, x) in runs {
                    parts.push(GainPart {
                        condition: name.clone(),
                        candidate: Arm::new(ModelKind::Tied, Estimator::Ste),
                        reference: Reference::Converged,
                    });
                    conditions.push(cond(study, name, data, sizes, a.clone(), x));
                }
                hypotheses.push(Hypothesis {
                    id: "H4",
                    study,
                    text: "At scale (synthetic D = 512, K = 512; MNIST, D = 784, at every K) manual STE still beats PCA + Lloyd run to convergence".into(),
                    combine: Combine::All,
                    test: Test::Gains(parts),
                });
            }
            StudyId::F5 => {
                let estimators = [
                    Estimator::Ste,
                    Estimator::Nsvq,
                    Estimator::Gumbel,
                    Estimator::GumbelHard,
                ];
                let mut parts = Vec::new();
                for (name, data, sizes) in synthetic_and_mnist(scale.steps) {
                    let mut a = Vec::new();
                    for update in [CodebookUpdate::Grad, CodebookUpdate::Ema] {
                        for &e in &estimators {
                            a.push(Arm::new(ModelKind::Tied, e).with_codebook(update));
                        }
                        for &e in &estimators[1..] {
                            parts.push(GainPart {
                                condition: name.clone(),
                                candidate: Arm::new(ModelKind::Tied, e).with_codebook(update),
                                reference: Reference::Arm(
                                    Arm::new(ModelKind::Tied, Estimator::Ste).with_codebook(update),
                                ),
                            });
                        }
                    }
                    conditions.push(cond(study, name, data, sizes, a, None));
                }
                let mut conv_parts = Vec::new();
                for (name, data, sizes) in conv_conditions() {
                    conv_parts.push(GainPart {
                        condition: name.clone(),
                        candidate: conv(Estimator::Nsvq),
                        reference: Reference::Arm(conv(Estimator::Ste)),
                    });
                    let a = vec![conv(Estimator::Ste), conv(Estimator::Nsvq)];
                    conditions.push(cond(study, name, data, sizes, a, None));
                }
                hypotheses.push(Hypothesis {
                    id: "H5",
                    study,
                    text: "NSVQ or Gumbel-Softmax (soft or straight-through) beats STE with the same codebook update (gradient or EMA)".into(),
                    combine: Combine::Any,
                    test: Test::Gains(parts),
                });
                hypotheses.push(Hypothesis {
                    id: "H5c",
                    study,
                    text: "With the conv model on images (MNIST, photo crops), NSVQ beats STE (gradient codebook)".into(),
                    combine: Combine::Any,
                    test: Test::Gains(conv_parts),
                });
            }
            StudyId::User => {}
            StudyId::F6 => {
                let a = vec![
                    Arm::new(ModelKind::Tied, Estimator::Ste),
                    Arm::new(ModelKind::Tied, Estimator::ResidualProjection),
                    Arm::new(ModelKind::Tied, Estimator::RotationTrick),
                    Arm::new(ModelKind::Untied, Estimator::Ste),
                ];
                let mut names = Vec::new();
                let mut specs = vec![report.clone()];
                for share in [0.1, 0.25, 0.4, 0.5] {
                    specs.push(SyntheticSpec {
                        noise_sigma: sigma_for_noise_share(&report, share),
                        ..report.clone()
                    });
                }
                for spec in specs {
                    let share = noise_share(&spec);
                    let name =
                        format!("noise {:.1} % (σ = {:.4})", 100.0 * share, spec.noise_sigma);
                    names.push(name.clone());
                    conditions.push(cond(
                        study,
                        name,
                        synthetic(spec),
                        syn_sizes(scale.synthetic_k, scale.steps),
                        a.clone(),
                        Some(share),
                    ));
                }
                let entities: Vec<Entity> = std::iter::once(Entity::Converged)
                    .chain(a.iter().map(|&x| Entity::Arm(x)))
                    .collect();
                let last = names.last().expect("five levels").clone();
                hypotheses.push(Hypothesis {
                    id: "H6",
                    study,
                    text: "Noise up to half the energy changes the ranking of the methods and the baseline (against the calibrated noise)".into(),
                    combine: Combine::Any,
                    test: Test::Rankings(vec![RankingPart {
                        first_name: names[0].clone(),
                        first: (names[0].clone(), entities.clone()),
                        second_name: last.clone(),
                        second: (last, entities),
                    }]),
                });
            }
        }
    }
    Plan {
        conditions,
        hypotheses,
    }
}

#[cfg(test)]
mod tests;
