//! The `[[hypothesis]]`s of a study file: gains (a candidate against a
//! reference, judged "at least δ %") or rankings (the same entities in two
//! settings, judged by the swap rule), resolved against the file's arms
//! and conditions.
use std::path::Path;

use serde::Deserialize;

use super::conditions::Planned;
use super::{bad, line_of};
use crate::error::Result;
use crate::studies::future::studies::{
    Entity, GainPart, Hypothesis, RankingPart, Reference, StudyId, Test,
};
use crate::studies::future::unit::Arm;
use crate::study::rules::Combine;

/// One comparison: the candidate's gain in eval recon over the reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// An arm's name.
    pub candidate: String,
    /// An arm's name, or `converged` (PCA + Lloyd run to convergence).
    pub reference: String,
    /// Only in this condition (its name or id) [default: one part in every
    /// condition where both sides train].
    #[serde(default)]
    pub condition: Option<String>,
}

/// One side of a ranking: entities, in a condition or in every one.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SideSpec {
    /// Arm names and `converged`, ranked by mean eval recon.
    pub entities: Vec<String>,
    /// The condition (its name or id) [default: each condition in turn
    /// where every entity trains; both sides give one or neither does].
    #[serde(default)]
    pub condition: Option<String>,
    /// What this side is, in words, after the condition's name
    /// (`"SGD, constant"` → `synthetic K=32, SGD, constant`).
    #[serde(default)]
    pub name: Option<String>,
}

/// A ranking comparison: does any pair of entities swap places between the
/// two sides (entity i of `second` standing for entity i of `first`)?
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RankingSpec {
    /// The first setting.
    pub first: SideSpec,
    /// The second setting.
    pub second: SideSpec,
}

/// One hypothesis, as written: `candidate`/`reference`, `parts`, or
/// `[[hypothesis.ranking]]`s.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HypothesisSpec {
    /// Its id (`H1`, …).
    pub id: String,
    /// The hypothesis in words.
    pub text: String,
    /// How several parts combine: `all` (the default) or `any`.
    #[serde(default = "all")]
    pub combine: Combine,
    /// The candidate arm (one part).
    #[serde(default)]
    pub candidate: Option<String>,
    /// Its reference (one part).
    #[serde(default)]
    pub reference: Option<String>,
    /// Several parts.
    #[serde(default)]
    pub parts: Vec<PartSpec>,
    /// Ranking comparisons (instead of gains).
    #[serde(default)]
    pub ranking: Vec<RankingSpec>,
}

fn all() -> Combine {
    Combine::All
}

/// What a hypothesis is resolved against.
pub(super) struct Names<'a> {
    pub path: &'a Path,
    pub text: &'a str,
    pub conditions: &'a [Planned],
    pub arm_names: &'a [String],
    pub arms: &'a [Arm],
    /// The arms each condition trains, parallel to `conditions`.
    pub condition_arms: &'a [Vec<Arm>],
}

impl Names<'_> {
    fn at(&self, needle: &str) -> usize {
        line_of(self.text, needle)
    }

    fn arm(&self, name: &str, line: usize) -> Result<Arm> {
        self.arm_names
            .iter()
            .position(|n| n == name)
            .map(|i| self.arms[i])
            .ok_or_else(|| {
                bad(
                    self.path,
                    self.at(&format!("\"{name}\"")).max(line),
                    format!(
                        "no arm is named {name:?} (the arms: {})",
                        self.arm_names.join(", ")
                    ),
                )
            })
    }

    fn entity(&self, name: &str, line: usize) -> Result<Entity> {
        if name == "converged" {
            Ok(Entity::Converged)
        } else {
            self.arm(name, line).map(Entity::Arm)
        }
    }

    /// Whether `entity` is trained in (or, the baseline, fitted on) the
    /// condition named `condition`.
    fn trains(&self, condition: &str, entity: &Entity) -> bool {
        match entity {
            Entity::Converged => true,
            Entity::Arm(arm) => self
                .conditions
                .iter()
                .zip(self.condition_arms)
                .any(|(c, arms)| c.name == condition && arms.contains(arm)),
        }
    }

    /// The condition named or identified by `key`.
    fn condition(&self, key: &str, id: &str, line: usize) -> Result<&Planned> {
        self.conditions
            .iter()
            .find(|c| c.name == key || c.id.as_deref() == Some(key))
            .ok_or_else(|| {
                bad(
                    self.path,
                    self.at(&format!("\"{key}\"")).max(line),
                    format!("hypothesis {id}: no condition is named {key:?}"),
                )
            })
    }
}

impl HypothesisSpec {
    /// The hypothesis of `study`, its parts in every condition they name
    /// (a part or ranking without a condition: one per condition where
    /// every side trains, conditions outermost).
    pub(super) fn resolve(&self, study: StudyId, names: &Names) -> Result<Hypothesis> {
        let line = names.at(&format!("\"{}\"", self.id));
        let fail = |m: String| bad(names.path, line, format!("hypothesis {}: {m}", self.id));
        let mut parts: Vec<PartSpec> = self.parts.clone();
        match (&self.candidate, &self.reference) {
            (Some(c), Some(r)) => parts.push(PartSpec {
                candidate: c.clone(),
                reference: r.clone(),
                condition: None,
            }),
            (None, None) => {}
            _ => return Err(fail("candidate and reference go together".into())),
        }
        let test = match (parts.is_empty(), self.ranking.is_empty()) {
            (true, true) => {
                return Err(fail(
                    "no comparison (candidate and reference, parts, or [[hypothesis.ranking]])"
                        .into(),
                ))
            }
            (false, false) => {
                return Err(fail(
                    "gains and rankings are judged by different rules: one kind per hypothesis"
                        .into(),
                ))
            }
            (false, true) => Test::Gains(self.gains(&parts, names, line)?),
            (true, false) => Test::Rankings(self.rankings(names, line)?),
        };
        Ok(Hypothesis {
            // Ids are `&'static str` (the code's studies' are literals); a
            // study file's few are leaked once per run.
            id: Box::leak(self.id.clone().into_boxed_str()),
            study,
            text: self.text.clone(),
            combine: self.combine,
            test,
        })
    }

    fn gains(&self, parts: &[PartSpec], names: &Names, line: usize) -> Result<Vec<GainPart>> {
        let mut only = Vec::new();
        for p in parts {
            only.push(match &p.condition {
                Some(c) => Some(names.condition(c, &self.id, line)?.name.clone()),
                None => None,
            });
        }
        let mut gains = Vec::new();
        let mut judged = vec![false; parts.len()];
        for condition in names.conditions {
            for (j, (p, o)) in parts.iter().zip(&only).enumerate() {
                if o.as_ref().is_some_and(|c| *c != condition.name) {
                    continue;
                }
                let reference = if p.reference == "converged" {
                    Reference::Converged
                } else {
                    Reference::Arm(names.arm(&p.reference, line)?)
                };
                let candidate = names.arm(&p.candidate, line)?;
                let entities = [
                    Entity::Arm(candidate),
                    match reference {
                        Reference::Converged => Entity::Converged,
                        Reference::Arm(a) => Entity::Arm(a),
                    },
                ];
                let both = entities.iter().all(|e| names.trains(&condition.name, e));
                if !both && o.is_some() {
                    return Err(bad(
                        names.path,
                        line,
                        format!(
                            "hypothesis {}: {} against {} in {:?}, where one of them does not train",
                            self.id, p.candidate, p.reference, condition.name
                        ),
                    ));
                }
                if both {
                    judged[j] = true;
                    gains.push(GainPart {
                        condition: condition.name.clone(),
                        candidate,
                        reference,
                    });
                }
            }
        }
        if let Some(j) = judged.iter().position(|j| !j) {
            return Err(bad(
                names.path,
                line,
                format!(
                    "hypothesis {}: {} against {} is in no condition where both train",
                    self.id, parts[j].candidate, parts[j].reference
                ),
            ));
        }
        Ok(gains)
    }

    fn rankings(&self, names: &Names, line: usize) -> Result<Vec<RankingPart>> {
        let fail = |m: &str| bad(names.path, line, format!("hypothesis {}: {m}", self.id));
        for r in &self.ranking {
            if r.first.entities.len() != r.second.entities.len() || r.first.entities.len() < 2 {
                return Err(fail(
                    "a ranking's two sides name the same number of entities (at least 2)",
                ));
            }
            if r.first.condition.is_some() != r.second.condition.is_some() {
                return Err(fail(
                    "a ranking's sides both name a condition, or neither does (then one per condition)",
                ));
            }
        }
        let side = |s: &SideSpec, condition: &Planned| -> Result<(String, (String, Vec<Entity>))> {
            let entities = s
                .entities
                .iter()
                .map(|e| names.entity(e, line))
                .collect::<Result<Vec<_>>>()?;
            let words = match &s.name {
                Some(n) => format!("{}, {n}", condition.name),
                None => condition.name.clone(),
            };
            Ok((words, (condition.name.clone(), entities)))
        };
        let part = |r: &RankingSpec, first: &Planned, second: &Planned| -> Result<RankingPart> {
            let (first_name, first) = side(&r.first, first)?;
            let (second_name, second) = side(&r.second, second)?;
            Ok(RankingPart {
                first_name,
                first,
                second_name,
                second,
            })
        };
        let mut rankings = Vec::new();
        let trained = |p: &RankingPart| {
            [&p.first, &p.second]
                .iter()
                .all(|(c, entities)| entities.iter().all(|e| names.trains(c, e)))
        };
        let mut judged = vec![false; self.ranking.len()];
        for condition in names.conditions {
            for (j, r) in self.ranking.iter().enumerate() {
                if r.first.condition.is_some() {
                    continue;
                }
                // One per condition where every entity trains.
                let p = part(r, condition, condition)?;
                if trained(&p) {
                    judged[j] = true;
                    rankings.push(p);
                }
            }
        }
        for (j, r) in self.ranking.iter().enumerate() {
            if let (Some(a), Some(b)) = (&r.first.condition, &r.second.condition) {
                let first = names.condition(a, &self.id, line)?;
                let second = names.condition(b, &self.id, line)?;
                let p = part(r, first, second)?;
                if !trained(&p) {
                    return Err(fail(&format!(
                        "a ranking between {a:?} and {b:?} names an arm that does not train in one of them"
                    )));
                }
                rankings.push(p);
            } else if !judged[j] {
                return Err(fail(&format!(
                    "no condition trains every entity of the ranking of {}",
                    r.first.entities.join(", ")
                )));
            }
        }
        Ok(rankings)
    }
}
