//! A study as a file (TOML or JSON): the researcher's data, sizes, seeds,
//! arms and hypotheses, run by the same machinery as the built-in studies
//! (units in the run store, shards, learning rates chosen on validation
//! rows, PCA + Lloyd baselines tuned as the arms are, the shared verdict
//! rules). `vqlab study FILE` reads it; `examples/my-data.toml` is one.
//!
//! Every error names the file and the line it is about, and is found before
//! anything runs or is written.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::studies::{Condition, GainPart, Hypothesis, Plan, Reference, StudyId, Test};
use super::unit::{Arm, DataChoice, Schedule, Sizes};
use crate::data::{load_matrix_with, RealSet, SyntheticSpec};
use crate::error::{Result, VqError};
use crate::model::codebook::CodebookUpdate;
use crate::model::{Activation, Estimator, ModelKind, ModelSpec};
use crate::optim::OptimizerKind;
use crate::study::rules::Combine;

/// The study file, as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyFile {
    /// The study's title (the report's heading).
    pub title: String,
    /// The question it answers, in words.
    #[serde(default)]
    pub question: Option<String>,
    /// Seeds 0 … seeds − 1 (at least 2 for a verdict).
    pub seeds: u64,
    /// The data.
    pub data: DataSpec,
    /// Codebook size K.
    pub k: usize,
    /// Code dimension m.
    pub m: usize,
    /// Mini-batch size B.
    pub batch: usize,
    /// Training steps.
    pub steps: usize,
    /// The arms (`[[arm]]`).
    #[serde(rename = "arm")]
    pub arms: Vec<ArmSpec>,
    /// The hypotheses (`[[hypothesis]]`).
    #[serde(rename = "hypothesis", default)]
    pub hypotheses: Vec<HypothesisSpec>,
}

fn eval_fraction() -> f64 {
    0.2
}

fn val_fraction() -> f64 {
    0.125
}

/// Where the rows come from: exactly one of `file`, `set`, `generator`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataSpec {
    /// A `.npy` or `.csv` file (relative to the study file), split anew per
    /// seed into evaluation, validation and training rows.
    #[serde(default)]
    pub file: Option<PathBuf>,
    /// With `file`: your own evaluation rows (the file is then all
    /// training and validation rows).
    #[serde(default)]
    pub eval_file: Option<PathBuf>,
    /// A built-in set: `digits` or `mnist` (what ./data-setup.sh installs).
    #[serde(default)]
    pub set: Option<RealSet>,
    /// The report's calibrated generator: rows trained on, validation rows,
    /// evaluation rows (new data per seed).
    #[serde(default)]
    pub generator: Option<(usize, usize, usize)>,
    /// The share of the rows held out for evaluation (file, set).
    #[serde(default = "eval_fraction")]
    pub eval_fraction: f64,
    /// The share of the remaining rows that chooses learning rates.
    #[serde(default = "val_fraction")]
    pub val_fraction: f64,
    /// The CSV delimiter (one character) [default: detected].
    #[serde(default)]
    pub delimiter: Option<char>,
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
    /// Its name in tables and hypotheses (unique).
    pub name: String,
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

    /// Checks the file against itself and its data, and plans it: one
    /// condition (the data at the file's sizes) with the arms, and the
    /// hypotheses. Data paths are relative to the file's folder; built-in
    /// sets are read from `data_dir`.
    pub fn into_study(self, path: &Path, text: &str, data_dir: &Path) -> Result<UserStudy> {
        let at = |needle: &str| line_of(text, needle);
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
        for (field, v) in [
            ("k", self.k),
            ("m", self.m),
            ("batch", self.batch),
            ("steps", self.steps),
        ] {
            if v == 0 {
                return Err(bad(path, at(field), format!("{field} = 0: at least 1")));
            }
        }
        let folder = path.parent().unwrap_or(Path::new("."));
        let data = self.data.choice(path, text, folder, data_dir)?;
        if self.arms.is_empty() {
            return Err(bad(path, 1, "no [[arm]]: a study trains at least one arm"));
        }
        let mut arms: Vec<Arm> = Vec::new();
        let mut names: Vec<String> = Vec::new();
        let mut fixed = Vec::new();
        for spec in &self.arms {
            let line = at(&format!("\"{}\"", spec.name));
            if names.contains(&spec.name) {
                return Err(bad(
                    path,
                    line,
                    format!("two arms are named {:?}", spec.name),
                ));
            }
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
            if !arm.model.model().has_hidden_layer() && self.m > data.dim() {
                return Err(bad(
                    path,
                    at("m ="),
                    format!(
                        "m = {} is more than the data's dimension D = {}",
                        self.m,
                        data.dim()
                    ),
                ));
            }
            if let Some(j) = arms.iter().position(|a| *a == arm) {
                return Err(bad(
                    path,
                    line,
                    format!(
                        "arm {:?} is the same configuration as arm {:?}",
                        spec.name, names[j]
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
            names.push(spec.name.clone());
        }
        let n_fit = data.n_fit();
        for (field, v) in [("k", self.k), ("batch", self.batch)] {
            if v > n_fit {
                return Err(bad(
                    path,
                    at(&format!("{field} =")),
                    format!("{field} = {v}: at most the {n_fit} rows trained on"),
                ));
            }
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
        let condition_name = format!("{} K={}", data.name(), self.k);
        let mut hypotheses = Vec::new();
        for h in &self.hypotheses {
            let line = at(&format!("\"{}\"", h.id));
            let mut parts: Vec<(String, String)> = h
                .parts
                .iter()
                .map(|p| (p.candidate.clone(), p.reference.clone()))
                .collect();
            match (&h.candidate, &h.reference) {
                (Some(c), Some(r)) => parts.push((c.clone(), r.clone())),
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
            let mut gains = Vec::new();
            for (c, r) in parts {
                let candidate = arm_named(&c, at(&format!("\"{c}\"")).max(line))?;
                let reference = if r == "converged" {
                    Reference::Converged
                } else {
                    Reference::Arm(arm_named(&r, at(&format!("\"{r}\"")).max(line))?)
                };
                gains.push(GainPart {
                    condition: condition_name.clone(),
                    candidate,
                    reference,
                });
            }
            hypotheses.push(Hypothesis {
                // Ids are `&'static str` (the built-in studies' are
                // literals); a study file's few are leaked once per run.
                id: Box::leak(h.id.clone().into_boxed_str()),
                study: StudyId::User,
                text: h.text.clone(),
                combine: h.combine,
                test: Test::Gains(gains),
            });
        }
        let sizes = Sizes {
            k: self.k,
            m: self.m,
            batch: self.batch,
            steps: self.steps,
        };
        Ok(UserStudy {
            path: path.to_path_buf(),
            title: self.title.clone(),
            question: self.question.clone().unwrap_or_default(),
            seeds: self.seeds,
            plan: Plan {
                conditions: vec![Condition {
                    study: StudyId::User,
                    name: condition_name,
                    data,
                    sizes,
                    arms,
                    x: None,
                    fixed_rates: fixed,
                }],
                hypotheses,
            },
            arm_names: names,
        })
    }
}

impl ArmSpec {
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
                        self.name,
                        self.model.name()
                    ),
                ));
            }
            if h == 0 || h > crate::train::MAX_HIDDEN {
                return Err((
                    "hidden",
                    format!(
                        "arm {:?}: hidden = {h}: between 1 and {}",
                        self.name,
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
                        self.name,
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

impl DataSpec {
    /// The data choice, its file read and identified by content.
    fn choice(
        &self,
        path: &Path,
        text: &str,
        folder: &Path,
        data_dir: &Path,
    ) -> Result<DataChoice> {
        let at = |needle: &str| line_of(text, needle);
        let given = [
            self.file.is_some(),
            self.set.is_some(),
            self.generator.is_some(),
        ];
        if given.iter().filter(|g| **g).count() != 1 {
            return Err(bad(
                path,
                at("[data]"),
                "[data] needs exactly one of file, set, generator",
            ));
        }
        if self.eval_file.is_some() && self.file.is_none() {
            return Err(bad(
                path,
                at("eval_file"),
                "eval_file goes with file (your own evaluation rows)",
            ));
        }
        for (field, v) in [
            ("eval_fraction", self.eval_fraction),
            ("val_fraction", self.val_fraction),
        ] {
            if !(v > 0.0 && v < 1.0) {
                return Err(bad(
                    path,
                    at(field),
                    format!("{field} = {v}: a number in (0, 1)"),
                ));
            }
        }
        let delimiter = match self.delimiter {
            None => None,
            Some(c) if c.is_ascii() => Some(c as u8),
            Some(c) => {
                return Err(bad(
                    path,
                    at("delimiter"),
                    format!("delimiter = {c:?}: one ASCII character"),
                ))
            }
        };
        if let Some((n_fit, n_val, n_eval)) = self.generator {
            if n_fit == 0 || n_val == 0 || n_eval == 0 {
                return Err(bad(
                    path,
                    at("generator"),
                    "generator = [trained on, validation, evaluation]: each at least 1",
                ));
            }
            return Ok(DataChoice::Synthetic {
                spec: SyntheticSpec::report_default(),
                n_fit,
                n_val,
                n_eval,
            });
        }
        if let Some(set) = self.set {
            let matrix = set.load(data_dir)?;
            return Ok(DataChoice::real(
                set,
                &matrix,
                self.eval_fraction,
                self.val_fraction,
            ));
        }
        let file = folder.join(self.file.as_ref().expect("one of the three"));
        let matrix = load_matrix_with(&file, delimiter)?;
        let eval = match &self.eval_file {
            Some(e) => {
                let e = folder.join(e);
                let m = load_matrix_with(&e, delimiter)?;
                if m.ncols() != matrix.ncols() {
                    return Err(bad(
                        path,
                        at("eval_file"),
                        format!(
                            "{} has {} columns, {} has {}",
                            e.display(),
                            m.ncols(),
                            file.display(),
                            matrix.ncols()
                        ),
                    ));
                }
                Some((e, m))
            }
            None => None,
        };
        DataChoice::file(
            &file,
            &matrix,
            eval,
            self.eval_fraction,
            self.val_fraction,
            delimiter,
        )
        .map_err(|m| bad(path, at("file"), m))
    }
}
