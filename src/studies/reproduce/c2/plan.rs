//! The C2 study's plan: its scale, data variants, baseline and training
//! variants, and the units they make.
#[allow(unused_imports)]
use super::*;
use crate::study::Scale;

/// The study's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct C2Scale {
    /// Steps of the reference training.
    pub steps: usize,
    /// Longer trainings tried.
    pub longer: [usize; 2],
    /// Restarts and iteration cap of the bound.
    pub bound: (usize, usize),
    /// Restarts of the "restarts" baseline variants.
    pub restarts: usize,
}

impl Scale for C2Scale {
    /// The schedule.
    fn full() -> Self {
        C2Scale {
            steps: 500,
            longer: [2_000, 10_000],
            bound: (20, 1_000),
            restarts: 10,
        }
    }

    /// A smoke-test schedule (a fifth of the steps, short "longer" runs,
    /// two restarts).
    fn quick() -> Self {
        C2Scale {
            steps: 100,
            longer: [200, 400],
            bound: (2, 100),
            restarts: 2,
        }
    }
}

/// A data variant: name and generator.
#[derive(Debug, Clone, PartialEq)]
pub struct DataVariant {
    /// Shown in the tables.
    pub name: String,
    /// The generator.
    pub spec: SyntheticSpec,
    /// Whether every baseline and training variant runs on it (the
    /// reference data) or only the standard ones.
    pub reference: bool,
    /// How well its preset fits the 8 baseline cells (max |rel residual|),
    /// for recalibrated laws.
    pub calibration_residual: Option<f64>,
    /// Lloyd iterations of its baseline and of the training's start (20,
    /// the report's; 5 on the data recalibrated for a 5-iteration
    /// baseline).
    pub baseline_iters: usize,
}

/// The data variants: the reference preset, the recalibrated latent laws,
/// and the noise levels.
pub fn data_variants(reference: &SyntheticSpec) -> Vec<DataVariant> {
    let mut out = vec![DataVariant {
        name: "gaussian (reference)".into(),
        spec: reference.clone(),
        reference: true,
        calibration_residual: None,
        baseline_iters: 20,
    }];
    for (name, text) in LATENT_PRESETS {
        let spec = SyntheticSpec::from_preset_json(text).expect("compiled-in preset is valid");
        let residual = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v["max_abs_rel_residual"].as_f64());
        debug_assert_eq!(spec.latent.name(), name);
        out.push(DataVariant {
            name: format!("{name} (recalibrated)"),
            spec,
            reference: false,
            calibration_residual: residual,
            baseline_iters: 20,
        });
    }
    let iters5: serde_json::Value =
        serde_json::from_str(ITERS5_PRESET).expect("compiled-in preset is valid JSON");
    out.push(DataVariant {
        name:
            "gaussian, recalibrated for a 5-iteration baseline (baseline and start: 5 iterations)"
                .into(),
        spec: SyntheticSpec::from_preset_json(ITERS5_PRESET).expect("compiled-in preset is valid"),
        reference: false,
        calibration_residual: iters5["max_abs_rel_residual"].as_f64(),
        baseline_iters: iters5["target"]["kmeans_iters"]
            .as_u64()
            .expect("the preset names its baseline's iterations") as usize,
    });
    for factor in NOISE_FACTORS {
        out.push(DataVariant {
            name: format!("noise σ × {factor}"),
            spec: SyntheticSpec {
                noise_sigma: reference.noise_sigma * factor,
                ..reference.clone()
            },
            reference: false,
            calibration_residual: None,
            baseline_iters: 20,
        });
    }
    out
}

/// The baseline variants of the reference data: iterations × seeding ×
/// restarts, the standard one first.
pub fn baseline_variants(scale: &C2Scale) -> Vec<BaselineVariant> {
    let mut out = vec![BaselineVariant::STANDARD];
    for restarts in [1, scale.restarts] {
        for seeding in [Seeding::KMeansPlusPlus, Seeding::RandomPoints] {
            for iters in [5, 10, 20, 50, 300] {
                let v = BaselineVariant {
                    iters,
                    seeding,
                    restarts,
                };
                if v != BaselineVariant::STANDARD {
                    out.push(v);
                }
            }
        }
    }
    out
}

/// The training variants of the reference data, the reference first.
pub fn training_variants(scale: &C2Scale, lr_e: f64, batch: usize) -> Vec<TrainingVariant> {
    let reference = TrainingVariant {
        steps: scale.steps,
        lr_e,
        batch,
    };
    let mut out = vec![reference];
    for steps in scale.longer {
        out.push(TrainingVariant { steps, ..reference });
    }
    for factor in [0.5, 2.0] {
        out.push(TrainingVariant {
            lr_e: lr_e * factor,
            ..reference
        });
    }
    for b in [512, 4096] {
        if b != batch {
            out.push(TrainingVariant {
                batch: b,
                ..reference
            });
        }
    }
    out
}

/// The study's units for `seeds` (the reference training is experiment 2's
/// at `variant`).
pub fn plan(
    reference: &SyntheticSpec,
    seeds: &[u64],
    scale: &C2Scale,
    variant: Variant,
) -> Vec<C2Spec> {
    let mut out = Vec::new();
    for data in data_variants(reference) {
        for &seed in seeds {
            let mut train = base_config(32, 0.25, scale.steps, variant, seed, scale.steps);
            // The training starts where the standard baseline ends (the same
            // stream, the same iterations).
            train.kmeans_iters = data.baseline_iters;
            let (baselines, trainings) = if data.reference {
                (
                    baseline_variants(scale),
                    training_variants(scale, train.lr_e, train.batch),
                )
            } else {
                (
                    vec![BaselineVariant {
                        iters: data.baseline_iters,
                        ..BaselineVariant::STANDARD
                    }],
                    training_variants(scale, train.lr_e, train.batch)[..1].to_vec(),
                )
            };
            out.push(C2Spec {
                code: CODE_FINGERPRINT.to_string(),
                data_name: data.name.clone(),
                data: data.spec.clone(),
                seed,
                n_train: 20_000,
                n_eval: 4_000,
                train,
                baselines,
                trainings,
                bound: scale.bound,
            });
        }
    }
    out
}

impl C2Spec {
    /// Estimated work in millions of multiply-adds (for `--plan` and
    /// `--shard`): Lloyd iterations as run at most, training steps, PCA.
    pub fn estimated_cost(&self) -> f64 {
        let (n, d, m, k) = (
            self.n_train as f64,
            self.data.dim as f64,
            self.train.m as f64,
            self.train.k as f64,
        );
        // Lloyd usually stops long before a large cap: count at most 100.
        let lloyd =
            |iters: usize, restarts: usize| n * k * m * (iters.min(100) as f64) * restarts as f64;
        let baselines: f64 = self
            .baselines
            .iter()
            .map(|b| lloyd(b.iters, b.restarts))
            .sum();
        let trainings: f64 = self
            .trainings
            .iter()
            .map(|t| (t.steps * t.batch) as f64 * (2.0 * d * m + 3.0 * k * m))
            .sum();
        (baselines + trainings + lloyd(self.bound.1, self.bound.0) + n * d * d) / 1e6
    }
}
