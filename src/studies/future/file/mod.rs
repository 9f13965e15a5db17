//! A study as a file (TOML or JSON): the researcher's data, sizes, seeds,
//! arms and hypotheses, run by the same machinery as the built-in studies
//! (units in the run store, shards, learning rates chosen on validation
//! rows, PCA + Lloyd baselines tuned as the arms are, the shared verdict
//! rules). `vqlab study FILE` reads it; `examples/my-data.toml` is one.
//!
//! Every error names the file and the line it is about, and is found before
//! anything runs or is written.
use std::path::{Path, PathBuf};

mod conditions;
mod data;
mod hypotheses;
pub use conditions::{ConditionSpec, KSpec, Ks, XAxis};
pub use data::DataSpec;
pub use hypotheses::{HypothesisSpec, PartSpec, RankingSpec, SideSpec};

use serde::Deserialize;

use super::studies::{Condition, Plan, StudyId};
use super::unit::{Arm, Schedule};
use crate::error::{Result, VqError};
use crate::model::codebook::CodebookUpdate;
use crate::model::{Activation, Estimator, ModelKind, ModelSpec};
use crate::optim::OptimizerKind;

/// The study file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    /// A built-in study's id (`F1` … `F6`), for the files that define them;
    /// a study of your own leaves it out.
    #[serde(default)]
    pub id: Option<String>,
    /// The study's title (the report's heading).
    pub title: String,
    /// The question it answers, in words.
    #[serde(default)]
    pub question: Option<String>,
    /// Seeds 0 … seeds − 1 (at least 2 for a verdict).
    pub seeds: u64,
    /// The data (one condition; or `[[condition]]`s).
    #[serde(default)]
    pub data: Option<DataSpec>,
    /// Codebook size K (a list: one condition per K).
    #[serde(default)]
    pub k: Option<KSpec>,
    /// Code dimension m.
    #[serde(default)]
    pub m: Option<Size>,
    /// Mini-batch size B.
    #[serde(default)]
    pub batch: Option<Size>,
    /// Training steps.
    #[serde(default)]
    pub steps: Option<Size>,
    /// Several data sets or sizes (`[[condition]]`), each trained with the
    /// arms that name it (or do not name any); instead of the top-level
    /// data and sizes.
    #[serde(rename = "condition", default)]
    pub conditions: Vec<ConditionSpec>,
    /// The arms (`[[arm]]`).
    #[serde(rename = "arm")]
    pub arms: Vec<ArmSpec>,
    /// The hypotheses (`[[hypothesis]]`).
    #[serde(rename = "hypothesis", default)]
    pub hypotheses: Vec<HypothesisSpec>,
}

/// A value the same at every scale, or its full and `--quick` forms.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum PerScale<T> {
    /// The same at every scale.
    One(T),
    /// `{ full = …, quick = … }`.
    Scaled {
        /// The study's value.
        full: T,
        /// The smoke version's.
        quick: T,
    },
}

impl<T: Clone> PerScale<T> {
    /// The value at `quick` scale or the full one.
    pub fn pick(&self, quick: bool) -> T {
        match self {
            PerScale::One(v) => v.clone(),
            PerScale::Scaled { full, quick: q } => {
                if quick {
                    q.clone()
                } else {
                    full.clone()
                }
            }
        }
    }
}

/// A size: one number (`--quick` caps steps at 40), or its full and
/// `--quick` forms.
pub type Size = PerScale<usize>;

impl Size {
    /// The value at `quick` scale for field `field`.
    fn at(self, field: &str, quick: bool) -> usize {
        match self {
            Size::One(v) if quick && field == "steps" => v.min(QUICK_STEPS),
            other => other.pick(quick),
        }
    }
}

/// The most steps of a `--quick` run whose file gives one number.
pub const QUICK_STEPS: usize = 40;

/// Learning rates of an arm: chosen on validation rows, or fixed.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum RatesSpec {
    /// `"auto"`: the validation grid around the default rates.
    Word(String),
    /// `[η_W, η_E]`.
    Fixed(f64, f64),
}

fn auto() -> RatesSpec {
    RatesSpec::Word("auto".into())
}

/// One arm, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArmSpec {
    /// Its name in tables and hypotheses (unique) [default: its label,
    /// `model/estimator` and any non-default optimizer, schedule, codebook].
    #[serde(default)]
    pub name: Option<String>,
    /// The model [default: tied].
    #[serde(default)]
    pub model: ModelKind,
    /// The estimator.
    pub estimator: Estimator,
    /// The optimizer [default: sgd].
    #[serde(default)]
    pub optimizer: OptimizerKind,
    /// The schedule [default: constant].
    #[serde(default = "constant")]
    pub schedule: Schedule,
    /// The codebook update [default: grad].
    #[serde(default)]
    pub codebook: CodebookUpdate,
    /// The mlp's hidden width [default: 64].
    #[serde(default)]
    pub hidden: Option<usize>,
    /// The mlp's activation [default: relu].
    #[serde(default)]
    pub activation: Option<Activation>,
    /// `"auto"` (the default) or `[η_W, η_E]` (η_E unused by the EMA codebook).
    #[serde(default = "auto")]
    pub rates: RatesSpec,
    /// The conditions it trains on, by id or name [default: every one]; a
    /// hypothesis part without a condition is judged where both its sides
    /// train.
    #[serde(default)]
    pub conditions: Option<Vec<String>>,
}

fn constant() -> Schedule {
    Schedule::Constant
}

/// A study read from a file: its words and its plan.
#[derive(Debug, Clone)]
pub struct UserStudy {
    /// The file it came from.
    pub path: PathBuf,
    /// The title.
    pub title: String,
    /// The question.
    pub question: String,
    /// Seeds.
    pub seeds: u64,
    /// The conditions (each with its arms), the hypotheses.
    pub plan: Plan,
    /// The arms' names, in the file's order.
    pub arm_names: Vec<String>,
}

/// The built-in studies F1–F6: the files in the repository's studies/
/// folder, compiled in (`vqlab future` plans from them; copy one to change
/// a line and run it with `vqlab study`).
pub const BUILT_IN: [(StudyId, &str, &str); 6] = [
    (
        StudyId::F1,
        "studies/F1.toml",
        include_str!("../../../../studies/F1.toml"),
    ),
    (
        StudyId::F2,
        "studies/F2.toml",
        include_str!("../../../../studies/F2.toml"),
    ),
    (
        StudyId::F3,
        "studies/F3.toml",
        include_str!("../../../../studies/F3.toml"),
    ),
    (
        StudyId::F4,
        "studies/F4.toml",
        include_str!("../../../../studies/F4.toml"),
    ),
    (
        StudyId::F5,
        "studies/F5.toml",
        include_str!("../../../../studies/F5.toml"),
    ),
    (
        StudyId::F6,
        "studies/F6.toml",
        include_str!("../../../../studies/F6.toml"),
    ),
];

/// The plan of the built-in studies `ids`, in order, at full or `quick`
/// scale, MNIST and digits read from `data_dir`.
pub fn built_in_plan(ids: &[StudyId], data_dir: &Path, quick: bool) -> Result<Plan> {
    let mut plan = Plan {
        conditions: Vec::new(),
        hypotheses: Vec::new(),
    };
    for id in ids {
        let (_, name, text) = BUILT_IN
            .iter()
            .find(|(i, _, _)| i == id)
            .ok_or_else(|| bad(Path::new("studies"), 1, format!("{id:?} is not built in")))?;
        let path = Path::new(name);
        let study = StudyFile::parse(path, text)?.into_study(path, text, data_dir, quick)?;
        plan.conditions.extend(study.plan.conditions);
        plan.hypotheses.extend(study.plan.hypotheses);
    }
    Ok(plan)
}

/// The 1-based line of `path`'s `text` that first holds `needle` (1 when
/// none does).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// The line of the `n`-th (from 0) `header` (`[[arm]]`, `[[condition]]`)
/// of a TOML file, if there is one.
fn header_line(text: &str, header: &str, n: usize) -> Option<usize> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(n)
        .map(|(i, _)| i + 1)
}

/// The line of the first line containing `needle` in the block that starts
/// at `start` (up to the next `[[`), or `start`.
fn line_in_block(text: &str, start: usize, needle: &str) -> usize {
    text.lines()
        .enumerate()
        .skip(start)
        .take_while(|(_, l)| !l.trim_start().starts_with("[["))
        .find(|(_, l)| l.contains(needle))
        .map_or(start, |(i, _)| i + 1)
}

fn bad(path: &Path, line: usize, message: impl Into<String>) -> VqError {
    VqError::StudyFile {
        path: path.to_path_buf(),
        line,
        message: message.into(),
    }
}

impl StudyFile {
    /// Reads `path` (`.toml` or `.json`): syntax, unknown fields and types
    /// are checked here; the rest by [`StudyFile::into_study`].
    pub fn read(path: &Path) -> Result<(StudyFile, String)> {
        let text = std::fs::read_to_string(path).map_err(|error| VqError::Io {
            path: path.to_path_buf(),
            error,
        })?;
        Ok((Self::parse(path, &text)?, text))
    }

    /// Parses `text`, the contents of `path` (`.toml` or `.json`).
    pub fn parse(path: &Path, text: &str) -> Result<StudyFile> {
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let file = match ext {
            "toml" => toml::from_str::<StudyFile>(text).map_err(|e| {
                let line = e.span().map_or(1, |s| {
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                });
                bad(path, line, e.message().to_string())
            })?,
            "json" => serde_json::from_str::<StudyFile>(text)
                .map_err(|e| bad(path, e.line().max(1), e.to_string()))?,
            _ => return Err(bad(path, 1, "a study file ends in .toml or .json")),
        };
        Ok(file)
    }

    /// Checks the file against itself and its data, and plans it at full
    /// or `quick` scale: its conditions (each data set at its sizes) with
    /// the arms, and the hypotheses (a part without a condition is one part
    /// per condition, conditions outermost). Data paths are relative to the
    /// file's folder; built-in sets are read from `data_dir`.
    pub fn into_study(
        self,
        path: &Path,
        text: &str,
        data_dir: &Path,
        quick: bool,
    ) -> Result<UserStudy> {
        let at = |needle: &str| line_of(text, needle);
        let study = match &self.id {
            None => StudyId::User,
            Some(id) => <StudyId as clap::ValueEnum>::from_str(id, false).map_err(|_| {
                bad(
                    path,
                    at("id"),
                    format!("id = {id:?}: a built-in study (F1 … F6), or leave it out"),
                )
            })?,
        };
        if self.seeds < 2 {
            return Err(bad(
                path,
                at("seeds"),
                format!(
                    "seeds = {}: at least 2 (an interval needs two seeds)",
                    self.seeds
                ),
            ));
        }
        let specs: Vec<ConditionSpec> = if self.conditions.is_empty() {
            match (&self.data, &self.k, self.m, self.batch, self.steps) {
                (Some(data), Some(k), Some(m), Some(batch), Some(steps)) => vec![ConditionSpec {
                    id: None,
                    name: None,
                    data: data.clone(),
                    k: k.clone(),
                    m,
                    batch,
                    steps,
                    x: None,
                }],
                _ => {
                    return Err(bad(
                        path,
                        1,
                        "the study needs [data], k, m, batch and steps (or [[condition]]s)",
                    ))
                }
            }
        } else if self.data.is_some() || self.k.is_some() || self.m.is_some() {
            return Err(bad(
                path,
                at("[[condition]]"),
                "[[condition]]s give each condition's data and sizes: leave the top-level [data], k, m, batch, steps out",
            ));
        } else {
            self.conditions.clone()
        };
        let folder = path.parent().unwrap_or(Path::new("."));
        let mut conditions: Vec<conditions::Planned> = Vec::new();
        for spec in &specs {
            for c in spec.plan(path, text, folder, data_dir, quick)? {
                let clash = conditions.iter().any(|o| {
                    o.name == c.name
                        || o.id.as_deref() == Some(&c.name)
                        || (c.id.is_some() && (o.id == c.id || o.name == *c.id.as_ref().unwrap()))
                });
                if clash {
                    return Err(bad(
                        path,
                        at(&c.name),
                        format!(
                            "two conditions are named {:?}",
                            c.id.as_ref().unwrap_or(&c.name)
                        ),
                    ));
                }
                conditions.push(c);
            }
        }
        if self.arms.is_empty() {
            return Err(bad(path, 1, "no [[arm]]: a study trains at least one arm"));
        }
        let mut arms: Vec<Arm> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut fixed = Vec::new();
        let mut condition_arms: Vec<Vec<Arm>> = vec![Vec::new(); conditions.len()];
        for (n, spec) in self.arms.iter().enumerate() {
            // The arm's `[[arm]]` line (TOML), else its name's.
            let line = header_line(text, "[[arm]]", n)
                .unwrap_or_else(|| at(&format!("\"{}\"", spec.name.clone().unwrap_or_default())));
            // A field's own line inside this arm, if it is there.
            let own = |field: &str| line_in_block(text, line, field);
            let arm = spec.arm().map_err(|(field, m)| bad(path, own(field), m))?;
            // Unnamed arms are named by their label (`tied/ste adam`, …).
            let name = spec.name.clone().unwrap_or_else(|| arm.label());
            if names.contains(&name) {
                return Err(bad(path, line, format!("two arms are named {name:?}")));
            }
            let on = spec
                .runs_on(&conditions, &name)
                .map_err(|m| bad(path, own("conditions"), m))?;
            for &i in &on {
                let conditions::Planned {
                    data,
                    sizes,
                    name: c,
                    ..
                } = &conditions[i];
                if arm.model.kind == ModelKind::Conv && data.image().is_none() {
                    return Err(bad(
                        path,
                        own("model"),
                        format!("arm {name:?}: the conv model needs image data (a built-in set: mnist, digits, photos), and condition {c:?} ({}) has none: name the image conditions it trains on in `conditions = [...]`", data.name()),
                    ));
                }
                condition_arms[i].push(arm);
                if !arm.model.model().has_hidden_layer() && sizes.m > data.dim() {
                    return Err(bad(
                        path,
                        at("m ="),
                        format!(
                            "arm {name:?} in condition {c:?}: m = {} is more than the dimension D = {} of {}",
                            sizes.m,
                            data.dim(),
                            data.name()
                        ),
                    ));
                }
            }
            if let Some(j) = arms.iter().position(|a| *a == arm) {
                return Err(bad(
                    path,
                    line,
                    format!(
                        "arm {name:?} is the same configuration as arm {:?}",
                        names[j]
                    ),
                ));
            }
            match &spec.rates {
                RatesSpec::Word(w) if w == "auto" => {}
                RatesSpec::Word(w) => {
                    return Err(bad(
                        path,
                        line,
                        format!("rates = {w:?}: \"auto\" or [lr_w, lr_e]"),
                    ))
                }
                RatesSpec::Fixed(w, e) => {
                    if !(w.is_finite() && *w > 0.0 && e.is_finite() && *e > 0.0) {
                        return Err(bad(
                            path,
                            line,
                            format!("rates = [{w}, {e}]: both finite and > 0"),
                        ));
                    }
                    fixed.push((arm, (*w, *e)));
                }
            }
            arms.push(arm);
            names.push(name);
        }
        let resolve_against = hypotheses::Names {
            path,
            text,
            conditions: &conditions,
            arm_names: &names,
            arms: &arms,
            condition_arms: &condition_arms,
        };
        if let Some((_, c)) = conditions
            .iter()
            .enumerate()
            .find(|(i, _)| condition_arms[*i].is_empty())
        {
            let key = c.id.as_ref().unwrap_or(&c.name);
            return Err(bad(
                path,
                at(&format!("\"{key}\"")),
                format!(
                    "no arm trains on condition {:?} (see the arms' `conditions = [...]`)",
                    c.name
                ),
            ));
        }
        let hypotheses = self
            .hypotheses
            .iter()
            .map(|h| h.resolve(study, &resolve_against))
            .collect::<Result<Vec<_>>>()?;
        Ok(UserStudy {
            path: path.to_path_buf(),
            title: self.title.clone(),
            question: self.question.clone().unwrap_or_default(),
            seeds: self.seeds,
            plan: Plan {
                conditions: conditions
                    .into_iter()
                    .zip(condition_arms)
                    .map(|(c, arms)| Condition {
                        study,
                        name: c.name,
                        data: c.data,
                        sizes: c.sizes,
                        arms,
                        x: c.x,
                        fixed_rates: fixed.clone(),
                    })
                    .collect(),
                hypotheses,
            },
            arm_names: names,
        })
    }
}

impl ArmSpec {
    /// The indices of the conditions it trains on (`name`: the arm's, for
    /// messages).
    fn runs_on(
        &self,
        conditions: &[conditions::Planned],
        name: &str,
    ) -> std::result::Result<Vec<usize>, String> {
        let Some(keys) = &self.conditions else {
            return Ok((0..conditions.len()).collect());
        };
        if keys.is_empty() {
            return Err(format!(
                "arm {name:?}: conditions = []: at least one (or leave it out for every one)"
            ));
        }
        let mut on = Vec::new();
        for key in keys {
            let i = conditions
                .iter()
                .position(|c| c.name == *key || c.id.as_deref() == Some(key))
                .ok_or_else(|| {
                    let known: Vec<&str> = conditions
                        .iter()
                        .map(|c| c.id.as_deref().unwrap_or(&c.name))
                        .collect();
                    format!(
                        "arm {name:?}: no condition is named {key:?} (the conditions: {})",
                        known.join(", ")
                    )
                })?;
            if !on.contains(&i) {
                on.push(i);
            }
        }
        on.sort_unstable();
        Ok(on)
    }

    /// Its name, or its estimator's when it has none (for messages).
    fn display_name(&self) -> &str {
        self.name.as_deref().unwrap_or(self.estimator.name())
    }

    /// The arm, or the field the model cannot take and why.
    fn arm(&self) -> std::result::Result<Arm, (&'static str, String)> {
        let mut model = ModelSpec::of(self.model);
        let hidden_layer = model.model().has_hidden_layer();
        if let Some(h) = self.hidden {
            if !hidden_layer {
                return Err((
                    "hidden",
                    format!(
                        "arm {:?}: hidden = {h}, but the {} model has no hidden layer",
                        self.display_name(),
                        self.model.name()
                    ),
                ));
            }
            if h == 0 || h > crate::train::MAX_HIDDEN {
                return Err((
                    "hidden",
                    format!(
                        "arm {:?}: hidden = {h}: between 1 and {}",
                        self.display_name(),
                        crate::train::MAX_HIDDEN
                    ),
                ));
            }
            model.hidden = h;
        }
        if let Some(a) = self.activation {
            if !hidden_layer {
                return Err((
                    "activation",
                    format!(
                        "arm {:?}: activation = {:?}, but the {} model has no hidden layer",
                        self.display_name(),
                        a.name(),
                        self.model.name()
                    ),
                ));
            }
            model.activation = a;
        }
        Ok(Arm {
            model,
            ..Arm::new(self.model, self.estimator)
        }
        .with_optimizer(self.optimizer)
        .with_schedule(self.schedule)
        .with_codebook(self.codebook))
    }
}

#[cfg(test)]
mod tests;
