//! FUTURE.md's arms on the calibrated generator, for G5: each arm's final
//! gain per seed, read from `future.json` (what `vqlab future` wrote), and
//! which arms a rank correlation is taken over.
//!
//! An arm counts when it trains with SGD at constant rates and the gradient
//! codebook (its row is named `model/estimator` and nothing more) in a
//! condition on the report's generator (D = 64, σ = 0.05) with the arm
//! starts' K. One model × estimator run in several studies (the same plan,
//! so the same numbers) counts once, from the first.
use std::path::Path;

use serde::Deserialize;

use crate::error::{Result, VqError};
use crate::model::{Estimator, ModelKind};

/// The name of the baseline row whose recon the gains are against.
const BASELINE: &str = "PCA + Lloyd, 20 iterations (report)";

/// One arm's final gain over the report's baseline, per seed, in % of the
/// baseline's recon.
#[derive(Debug, Clone, PartialEq)]
pub struct ArmGain {
    /// The model.
    pub model: ModelKind,
    /// The estimator.
    pub estimator: Estimator,
    /// (baseline − arm) / baseline × 100, per seed of [`ArmGains::seeds`].
    pub gain: Vec<f64>,
}

/// The arms read from one `future.json`.
#[derive(Debug, Clone)]
pub struct ArmGains {
    /// Where they were read, with the file's digest.
    pub source: String,
    /// The seeds of every arm's `gain`, in order.
    pub seeds: Vec<u64>,
    /// The arms, in the order first met.
    pub arms: Vec<ArmGain>,
}

#[derive(Deserialize)]
struct FutureFile {
    seeds: Vec<u64>,
    studies: Vec<StudyFile>,
}

#[derive(Deserialize)]
struct StudyFile {
    conditions: Vec<ConditionFile>,
}

#[derive(Deserialize)]
struct ConditionFile {
    data: String,
    sizes: Sizes,
    rows: Vec<RowFile>,
}

#[derive(Deserialize)]
struct Sizes {
    k: usize,
}

#[derive(Deserialize)]
struct RowFile {
    name: String,
    recon_per_seed: Vec<f64>,
}

/// The conditions on the report's generator, as `vqlab future` names them.
const GENERATOR: &str = "synthetic D=64 σ=0.050";

impl ArmGains {
    /// Reads the arms with `k` codes from `path`; `None` when there is no
    /// file there.
    pub fn read(path: &Path, k: usize) -> Result<Option<ArmGains>> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(error) => {
                return Err(VqError::Io {
                    path: path.to_path_buf(),
                    error,
                })
            }
        };
        let file: FutureFile = serde_json::from_slice(&bytes).map_err(|e| VqError::Data {
            path: path.to_path_buf(),
            message: format!("not a future.json written by `vqlab future`: {e}"),
        })?;
        let mut arms: Vec<ArmGain> = Vec::new();
        for condition in file.studies.iter().flat_map(|s| &s.conditions) {
            if condition.data != GENERATOR || condition.sizes.k != k {
                continue;
            }
            let Some(baseline) = condition.rows.iter().find(|r| r.name == BASELINE) else {
                continue;
            };
            for row in &condition.rows {
                let Some((model, estimator)) = parse_arm(&row.name) else {
                    continue;
                };
                if arms
                    .iter()
                    .any(|a| a.model == model && a.estimator == estimator)
                {
                    continue;
                }
                let gain = baseline
                    .recon_per_seed
                    .iter()
                    .zip(&row.recon_per_seed)
                    .map(|(b, r)| 100.0 * (b - r) / b)
                    .collect();
                arms.push(ArmGain {
                    model,
                    estimator,
                    gain,
                });
            }
        }
        Ok(Some(ArmGains {
            source: format!(
                "{} (digest {:016x})",
                path.display(),
                crate::infra::io::digest(&bytes)
            ),
            seeds: file.seeds,
            arms,
        }))
    }
}

/// `model/estimator` with nothing after it.
fn parse_arm(name: &str) -> Option<(ModelKind, Estimator)> {
    let (model, estimator) = name.split_once('/')?;
    let model = super::MODELS.into_iter().find(|m| m.name() == model)?;
    let estimator = Estimator::ALL.into_iter().find(|e| e.name() == estimator)?;
    Some((model, estimator))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arms_are_read_from_generator_conditions_with_the_right_k_once() {
        let dir = std::env::temp_dir().join(format!("vqlab-arms-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("future.json");
        let row = |name: &str, recon: [f64; 2]| serde_json::json!({ "name": name, "recon_per_seed": recon });
        let condition = |data: &str, k: usize, rows: Vec<serde_json::Value>| serde_json::json!({ "data": data, "sizes": { "k": k }, "rows": rows });
        let file = serde_json::json!({ "seeds": [0, 1], "studies": [
            { "conditions": [
                condition("mnist", 32, vec![row(BASELINE, [2.0, 4.0]), row("tied/ste", [1.0, 1.0])]),
                condition(GENERATOR, 32, vec![
                    row(BASELINE, [2.0, 4.0]),
                    row("tied/ste", [1.0, 3.0]),
                    row("mlp/ste adam", [0.5, 0.5]),
                    row("untied/nsvq", [2.2, 4.0]),
                ]),
                condition(GENERATOR, 16, vec![row(BASELINE, [2.0, 4.0]), row("tied/nsvq", [1.0, 1.0])]),
            ]},
            { "conditions": [
                condition(GENERATOR, 32, vec![row(BASELINE, [2.0, 4.0]), row("tied/ste", [0.0, 0.0])]),
            ]},
        ]});
        std::fs::write(&path, file.to_string()).unwrap();
        let gains = ArmGains::read(&path, 32).unwrap().unwrap();
        assert_eq!(gains.seeds, [0, 1]);
        assert_eq!(
            gains.arms,
            vec![
                ArmGain {
                    model: ModelKind::Tied,
                    estimator: Estimator::Ste,
                    gain: vec![50.0, 25.0],
                },
                ArmGain {
                    model: ModelKind::Untied,
                    estimator: Estimator::Nsvq,
                    gain: vec![100.0 * (2.0 - 2.2) / 2.0, 0.0],
                },
            ]
        );
        assert!(ArmGains::read(&dir.join("absent.json"), 32)
            .unwrap()
            .is_none());
        std::fs::write(&path, "{}").unwrap();
        let err = ArmGains::read(&path, 32).unwrap_err().to_string();
        assert!(err.contains("not a future.json"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
