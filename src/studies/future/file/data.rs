//! The `[data]` of a study file: which rows (a file, your own split, a
//! built-in set, the generator) and how they are split, read and
//! identified by content before anything runs.
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{bad, line_of};
use crate::data::{load_matrix_with, RealSet, SyntheticSpec};
use crate::error::Result;
use crate::studies::future::studies::sigma_for_noise_share;
use crate::studies::future::unit::DataChoice;

fn eval_fraction() -> f64 {
    0.2
}

fn val_fraction() -> f64 {
    0.125
}

/// The generator's rows (trained on, validation, evaluation):
/// `[n, n, n]`, or `{ full = [...], quick = [...] }`.
pub type GeneratorRows = super::PerScale<(usize, usize, usize)>;

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
    /// A built-in set: `digits`, `mnist` or `photos` (what ./data-setup.sh
    /// installs; the photos are evaluated on their held-out photograph's
    /// crops, `eval_fraction` does not apply).
    #[serde(default)]
    pub set: Option<RealSet>,
    /// The report's calibrated generator: rows trained on, validation rows,
    /// evaluation rows (new data per seed); `[n, n, n]` or
    /// `{ full = [n, n, n], quick = [n, n, n] }`.
    #[serde(default)]
    pub generator: Option<GeneratorRows>,
    /// With `generator`: the dimension D [default: the calibrated 64]; the
    /// planted signal is unchanged.
    #[serde(default)]
    pub dim: Option<usize>,
    /// With `generator`: the share of the energy E‖x‖² the isotropic noise
    /// carries, in (0, 1) (σ follows) [default: the calibrated σ].
    #[serde(default)]
    pub noise_share: Option<f64>,
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

impl DataSpec {
    /// The calibrated generator at the file's `dim` and `noise_share`.
    fn generator_spec(&self, path: &Path, text: &str) -> Result<SyntheticSpec> {
        let mut spec = SyntheticSpec::report_default();
        if let Some(dim) = self.dim {
            if dim < spec.rank() {
                return Err(bad(
                    path,
                    line_of(text, "dim ="),
                    format!("dim = {dim}: at least the generator's rank {}", spec.rank()),
                ));
            }
            spec.dim = dim;
        }
        if let Some(share) = self.noise_share {
            if !(share > 0.0 && share < 1.0) {
                return Err(bad(
                    path,
                    line_of(text, "noise_share"),
                    format!("noise_share = {share}: a number in (0, 1)"),
                ));
            }
            spec.noise_sigma = sigma_for_noise_share(&spec, share);
        }
        Ok(spec)
    }

    /// The data choice, its file read and identified by content.
    pub(super) fn choice(
        &self,
        path: &Path,
        text: &str,
        folder: &Path,
        data_dir: &Path,
        quick: bool,
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
        if self.generator.is_none() {
            for (field, given) in [
                ("dim", self.dim.is_some()),
                ("noise_share", self.noise_share.is_some()),
            ] {
                if given {
                    return Err(bad(
                        path,
                        at(&format!("{field} =")),
                        format!("{field} goes with generator (a file or set has its own)"),
                    ));
                }
            }
        }
        if let Some(rows) = self.generator {
            let (n_fit, n_val, n_eval) = rows.pick(quick);
            if n_fit == 0 || n_val == 0 || n_eval == 0 {
                return Err(bad(
                    path,
                    at("generator"),
                    "generator = [trained on, validation, evaluation]: each at least 1",
                ));
            }
            return Ok(DataChoice::Synthetic {
                spec: self.generator_spec(path, text)?,
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
                set.held_out(data_dir)?,
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
