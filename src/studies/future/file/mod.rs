//! A study as a file (TOML or JSON): the researcher's data, sizes, seeds,
//! arms and hypotheses, run by the same machinery as the built-in studies
//! (units in the run store, shards, learning rates chosen on validation
//! rows, PCA + Lloyd baselines tuned as the arms are, the shared verdict
//! rules). `vqlab study FILE` reads it; `examples/my-data.toml` is one.
//!
//! Every error names the file and the line it is about, and is found before
//! anything runs or is written.
use std::path::{Path, PathBuf};

mod data;
pub use data::DataSpec;

use serde::Deserialize;

use super::studies::{Condition, GainPart, Hypothesis, Plan, Reference, StudyId, Test};
use super::unit::{Arm, DataChoice, Schedule, Sizes};
use crate::error::{Result, VqError};
use crate::model::codebook::CodebookUpdate;
use crate::model::{Activation, Estimator, ModelKind, ModelSpec};
use crate::optim::OptimizerKind;
use crate::study::rules::Combine;

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
    /// Codebook size K.
    #[serde(default)]
    pub k: Option<Size>,
    /// Code dimension m.
    #[serde(default)]
    pub m: Option<Size>,
    /// Mini-batch size B.
    #[serde(default)]
    pub batch: Option<Size>,
    /// Training steps.
    #[serde(default)]
    pub steps: Option<Size>,
    /// Several data sets or sizes (`[[condition]]`), each trained with every
    /// arm; instead of the top-level data and sizes.
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

impl<T: Copy> PerScale<T> {
    /// The value at `quick` scale or the full one.
    pub fn pick(self, quick: bool) -> T {
        match self {
            PerScale::One(v) => v,
            PerScale::Scaled { full, quick: q } => {
                if quick {
                    q
                } else {
                    full
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

/// One condition: a data set and its sizes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// Its name in tables and hypotheses (default: the data's name and K,
    /// `digits K=32`); `{k}` in it stands for K at the scale run.
    #[serde(default)]
    pub name: Option<String>,
    /// The data.
    pub data: DataSpec,
    /// Codebook size K.
    pub k: Size,
    /// Code dimension m.
    pub m: Size,
    /// Mini-batch size B.
    pub batch: Size,
    /// Training steps.
    pub steps: Size,
}

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
}

fn constant() -> Schedule {
    Schedule::Constant
}

/// One comparison: the candidate's gain in eval recon over the reference.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartSpec {
    /// An arm's name.
    pub candidate: String,
    /// An arm's name, or `converged` (PCA + Lloyd run to convergence).
    pub reference: String,
    /// Only in this condition [default: one part in every condition].
    #[serde(default)]
    pub condition: Option<String>,
}

/// One hypothesis, as written: `candidate`/`reference`, or `parts`.
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
}

fn all() -> Combine {
    Combine::All
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
    /// One condition, the hypotheses.
    pub plan: Plan,
    /// The arms' names, in the condition's order.
    pub arm_names: Vec<String>,
}

/// The 1-based line of `path`'s `text` that first holds `needle` (1 when
/// none does).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
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
        let ext = path.extension().and_then(|e| e.to_str()).unwrap_or("");
        let file = match ext {
            "toml" => toml::from_str::<StudyFile>(&text).map_err(|e| {
                let line = e.span().map_or(1, |s| {
                    text[..s.start.min(text.len())].matches('\n').count() + 1
                });
                bad(path, line, e.message().to_string())
            })?,
            "json" => serde_json::from_str::<StudyFile>(&text)
                .map_err(|e| bad(path, e.line().max(1), e.to_string()))?,
            _ => return Err(bad(path, 1, "a study file ends in .toml or .json")),
        };
        Ok((file, text))
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
            match (&self.data, self.k, self.m, self.batch, self.steps) {
                (Some(data), Some(k), Some(m), Some(batch), Some(steps)) => vec![ConditionSpec {
                    name: None,
                    data: data.clone(),
                    k,
                    m,
                    batch,
                    steps,
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
        let mut conditions: Vec<(String, DataChoice, Sizes)> = Vec::new();
        for spec in &specs {
            let sizes = Sizes {
                k: spec.k.at("k", quick),
                m: spec.m.at("m", quick),
                batch: spec.batch.at("batch", quick),
                steps: spec.steps.at("steps", quick),
            };
            for (field, v) in [
                ("k", sizes.k),
                ("m", sizes.m),
                ("batch", sizes.batch),
                ("steps", sizes.steps),
            ] {
                if v == 0 {
                    return Err(bad(
                        path,
                        at(&format!("{field} =")),
                        format!("{field} = 0: at least 1"),
                    ));
                }
            }
            let data = spec.data.choice(path, text, folder, data_dir, quick)?;
            let n_fit = data.n_fit();
            for (field, v) in [("k", sizes.k), ("batch", sizes.batch)] {
                if v > n_fit {
                    return Err(bad(
                        path,
                        at(&format!("{field} =")),
                        format!(
                            "{field} = {v}: at most the {n_fit} rows trained on ({})",
                            data.name()
                        ),
                    ));
                }
            }
            // `{k}` in a name stands for this scale's K.
            let name = spec.name.as_ref().map_or_else(
                || format!("{} K={}", data.name(), sizes.k),
                |n| n.replace("{k}", &sizes.k.to_string()),
            );
            if conditions.iter().any(|(n, _, _)| *n == name) {
                return Err(bad(
                    path,
                    at(&name),
                    format!("two conditions are named {name:?}"),
                ));
            }
            conditions.push((name, data, sizes));
        }
        if self.arms.is_empty() {
            return Err(bad(path, 1, "no [[arm]]: a study trains at least one arm"));
        }
        let mut arms: Vec<Arm> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut fixed = Vec::new();
        for spec in &self.arms {
            let name = spec.name.clone().unwrap_or_default();
            let line = at(&format!("\"{name}\""));
            let arm = spec.arm().map_err(|(field, m)| {
                // The field's own line inside this arm, if it is there.
                let own = text
                    .lines()
                    .enumerate()
                    .skip(line)
                    .take_while(|(_, l)| !l.trim_start().starts_with("[["))
                    .find(|(_, l)| l.contains(field))
                    .map_or(line, |(i, _)| i + 1);
                bad(path, own, m)
            })?;
            // Unnamed arms are named by their label (`tied/ste adam`, …).
            let name = spec.name.clone().unwrap_or_else(|| arm.label());
            if names.contains(&name) {
                return Err(bad(path, line, format!("two arms are named {name:?}")));
            }
            for (_, data, sizes) in &conditions {
                if !arm.model.model().has_hidden_layer() && sizes.m > data.dim() {
                    return Err(bad(
                        path,
                        at("m ="),
                        format!(
                            "m = {} is more than the dimension D = {} of {}",
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
        let arm_named = |name: &str, line: usize| -> Result<Arm> {
            names
                .iter()
                .position(|n| n == name)
                .map(|i| arms[i])
                .ok_or_else(|| {
                    bad(
                        path,
                        line,
                        format!("no arm is named {name:?} (the arms: {})", names.join(", ")),
                    )
                })
        };
        let mut hypotheses = Vec::new();
        for h in &self.hypotheses {
            let line = at(&format!("\"{}\"", h.id));
            let mut parts: Vec<PartSpec> = h.parts.clone();
            match (&h.candidate, &h.reference) {
                (Some(c), Some(r)) => parts.push(PartSpec {
                    candidate: c.clone(),
                    reference: r.clone(),
                    condition: None,
                }),
                (None, None) => {}
                _ => {
                    return Err(bad(
                        path,
                        line,
                        format!("hypothesis {}: candidate and reference go together", h.id),
                    ))
                }
            }
            if parts.is_empty() {
                return Err(bad(
                    path,
                    line,
                    format!(
                        "hypothesis {}: no comparison (candidate and reference, or parts)",
                        h.id
                    ),
                ));
            }
            for p in &parts {
                if let Some(c) = &p.condition {
                    if !conditions.iter().any(|(n, _, _)| n == c) {
                        return Err(bad(
                            path,
                            at(&format!("\"{c}\"")).max(line),
                            format!("hypothesis {}: no condition is named {c:?}", h.id),
                        ));
                    }
                }
            }
            let mut gains = Vec::new();
            for (condition, _, _) in &conditions {
                for p in parts
                    .iter()
                    .filter(|p| p.condition.as_ref().is_none_or(|c| c == condition))
                {
                    let (c, r) = (&p.candidate, &p.reference);
                    let candidate = arm_named(c, at(&format!("\"{c}\"")).max(line))?;
                    let reference = if r == "converged" {
                        Reference::Converged
                    } else {
                        Reference::Arm(arm_named(r, at(&format!("\"{r}\"")).max(line))?)
                    };
                    gains.push(GainPart {
                        condition: condition.clone(),
                        candidate,
                        reference,
                    });
                }
            }
            hypotheses.push(Hypothesis {
                // Ids are `&'static str` (the built-in studies' are
                // literals); a study file's few are leaked once per run.
                id: Box::leak(h.id.clone().into_boxed_str()),
                study,
                text: h.text.clone(),
                combine: h.combine,
                test: Test::Gains(gains),
            });
        }
        Ok(UserStudy {
            path: path.to_path_buf(),
            title: self.title.clone(),
            question: self.question.clone().unwrap_or_default(),
            seeds: self.seeds,
            plan: Plan {
                conditions: conditions
                    .into_iter()
                    .map(|(name, data, sizes)| Condition {
                        study,
                        name,
                        data,
                        sizes,
                        arms: arms.clone(),
                        x: None,
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
mod tests {
    use super::super::real_choices;
    use super::super::studies::{plan, FutureScale};
    use super::*;
    use crate::data::RealSet;
    use crate::study::Scale;

    fn root() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    /// The plan `studies/<id>.toml` gives on the data in `dir` at `quick`
    /// scale, beside the code's.
    fn both_plans(id: StudyId, dir: &Path, quick: bool) -> (Plan, Plan) {
        let path = root().join(format!("studies/{}.toml", id.name()));
        let (file, text) = StudyFile::read(&path).unwrap();
        let from_file = file.into_study(&path, &text, dir, quick).unwrap().plan;
        let real = real_choices(dir).unwrap();
        let from_code = plan(&[id], &FutureScale::of(quick), &real);
        (from_file, from_code)
    }

    #[test]
    fn the_study_files_plan_exactly_what_the_code_plans() {
        // Quick, on the slice the tests carry: the same conditions (data,
        // sizes, arms in order) and the same hypotheses, part for part, so
        // the same units and numbers.
        for (id, conditions, arms, hypotheses) in [(StudyId::F1, 2, 12, 1), (StudyId::F2, 2, 10, 2)]
        {
            let (file, code) = both_plans(id, &root().join("tests/data"), true);
            assert_eq!(file.conditions, code.conditions, "{id:?}");
            assert_eq!(file.hypotheses, code.hypotheses, "{id:?}");
            assert_eq!(file.conditions.len(), conditions);
            assert_eq!(file.conditions[0].arms.len(), arms);
            assert_eq!(file.hypotheses.len(), hypotheses);
            // Full scale needs the full sets (./data-setup.sh): the slice
            // has fewer rows than the full batch of 256, which the code's
            // plan clips.
            let full = root().join("data");
            if RealSet::Mnist.load(&full).is_ok() && RealSet::Digits.load(&full).is_ok() {
                let (file, code) = both_plans(id, &full, false);
                assert_eq!(file.conditions, code.conditions, "{id:?} full");
                assert_eq!(file.hypotheses, code.hypotheses, "{id:?} full");
            } else {
                eprintln!("full-scale {id:?} plan not compared: run ./data-setup.sh");
            }
        }
    }

    #[test]
    fn generator_rows_read_as_one_triple_or_per_scale() {
        #[derive(Deserialize)]
        struct Rows {
            generator: data::GeneratorRows,
        }
        let one: Rows = toml::from_str("generator = [600, 100, 200]").unwrap();
        assert_eq!(one.generator.pick(true), (600, 100, 200));
        assert_eq!(one.generator.pick(false), (600, 100, 200));
        let scaled: Rows =
            toml::from_str("generator = { full = [8000, 2000, 2000], quick = [1600, 400, 400] }")
                .unwrap();
        assert_eq!(scaled.generator.pick(true), (1600, 400, 400));
        assert_eq!(scaled.generator.pick(false), (8000, 2000, 2000));
    }

    #[test]
    fn sizes_take_their_quick_form_and_plain_steps_are_capped() {
        let scaled = Size::Scaled {
            full: 500,
            quick: 60,
        };
        assert_eq!(
            (scaled.at("steps", false), scaled.at("steps", true)),
            (500, 60)
        );
        assert_eq!(Size::One(500).at("steps", true), QUICK_STEPS);
        assert_eq!(Size::One(500).at("batch", true), 500);
        assert_eq!(Size::One(500).at("steps", false), 500);
    }
}
