//! How a command gets its data: the synthetic generator or a file (with its
//! split, centring and scaling).
use serde::Serialize;
use std::path::PathBuf;

use crate::data::{load_matrix_with, Dataset, EvalSplit, Scaling, SyntheticSpec};
use crate::error::Result;

/// Where to take the data from, with the sizes of the two splits.
#[derive(Debug, Clone, Serialize)]
pub struct DataArgs {
    /// Training-set size (for a file: `None` = all rows not used for eval).
    pub n_train: Option<usize>,
    /// Evaluation-set size: synthetic, the draw; a file, the exact rows held
    /// out (`None`: `eval_fraction` of them).
    pub n_eval: Option<usize>,
    /// The synthetic evaluation size when `n_eval` is not given.
    pub default_n_eval: usize,
    /// The share of a file's rows held out when `n_eval` is not given.
    pub eval_fraction: f64,
    /// A user's own evaluation file (the data file is then all training).
    pub eval_data: Option<PathBuf>,
    /// The CSV delimiter (`None`: detected).
    pub delimiter: Option<u8>,
    /// Seed of the data (subspace and samples, or the row shuffle of a file).
    pub seed: u64,
    /// A data file (`.npy` or `.csv`) instead of the synthetic generator.
    pub path: Option<PathBuf>,
    /// A built-in set and the folder it is read from (instead of `path`).
    pub set: Option<(crate::data::RealSet, PathBuf)>,
    /// Centre file data by the training mean.
    pub center: bool,
    /// How to scale the data (`None`: unit variance for files, none for the
    /// synthetic generator).
    pub scaling: Option<Scaling>,
    /// Generator parameters (synthetic data only).
    pub spec: SyntheticSpec,
    /// A dimension the user asked for explicitly: a data file must have it.
    pub expected_dim: Option<usize>,
    /// The command will run PCA on the data (counted in the memory
    /// estimate made before the data are drawn).
    pub pca: bool,
    /// The image shape of a data file's rows (`--image-shape`); the
    /// built-in sets know theirs.
    pub image_shape: Option<crate::data::ImageShape>,
}

impl DataArgs {
    /// The scaling these data get.
    pub fn scaling(&self) -> Scaling {
        self.scaling.unwrap_or(if self.is_file() {
            Scaling::UnitVariance
        } else {
            Scaling::None
        })
    }

    /// Whether the data come from a file or a built-in set (not the
    /// generator).
    pub fn is_file(&self) -> bool {
        self.path.is_some() || self.set.is_some()
    }

    /// Draws or loads the data, split, centred and scaled. Warnings (data
    /// that could not be scaled) go to `warn`. Synthetic requests larger
    /// than the machine's memory are refused before anything is allocated.
    pub fn load_with(&self, mut warn: impl FnMut(String)) -> Result<Dataset> {
        let mut data = match (&self.path, &self.set) {
            (None, Some((set, dir))) if set.held_out(dir)?.is_some() => {
                // A set with its own evaluation rows (crops of held-out
                // photographs): --n-eval and --eval-fraction do not apply.
                let matrix = set.load(dir)?;
                let held = set.held_out(dir)?.unwrap_or(0);
                if let Some(n) = self.n_eval.filter(|&n| n != held) {
                    return Err(crate::error::invalid(
                        "n_eval",
                        n,
                        format!(
                            "left out: the {} set's evaluation rows are its {held} crops of held-out photographs",
                            set.name()
                        ),
                    ));
                }
                let split = matrix.nrows() - held;
                let name = |part: &str| {
                    format!("{} {part} ({})", set.name(), dir.join(set.name()).display())
                };
                Dataset::from_split_matrices(
                    matrix.slice(ndarray::s![..split, ..]).to_owned(),
                    matrix.slice(ndarray::s![split.., ..]).to_owned(),
                    (name("train"), name("eval")),
                    self.n_train,
                    self.seed,
                    self.center,
                )?
            }
            (None, Some((set, dir))) => {
                let split = match self.n_eval {
                    Some(n) => EvalSplit::Rows(n),
                    None => EvalSplit::Fraction(self.eval_fraction),
                };
                let matrix = set.load(dir)?.as_ref().clone();
                let name = format!("{} ({})", set.name(), dir.join(set.name()).display());
                Dataset::from_matrix(
                    matrix,
                    std::path::Path::new(&name),
                    self.n_train,
                    split,
                    self.seed,
                    self.center,
                )?
            }
            (Some(path), _) => {
                let mut data = match &self.eval_data {
                    Some(eval) => Dataset::from_files(
                        path,
                        eval,
                        self.n_train,
                        self.seed,
                        self.center,
                        self.delimiter,
                    )?,
                    None => {
                        let split = match self.n_eval {
                            Some(n) => EvalSplit::Rows(n),
                            None => EvalSplit::Fraction(self.eval_fraction),
                        };
                        let matrix = load_matrix_with(path, self.delimiter)?;
                        Dataset::from_matrix(
                            matrix,
                            path,
                            self.n_train,
                            split,
                            self.seed,
                            self.center,
                        )?
                    }
                };
                if let Some(d) = self.expected_dim.filter(|&d| d != data.dim()) {
                    return Err(crate::error::VqError::Data {
                        path: path.clone(),
                        message: format!(
                            "{} columns per row, but the requested dimension (--dim) is {d}",
                            data.dim()
                        ),
                    });
                }
                data.source = data.source.clone();
                data
            }
            (None, None) => {
                let n_train = self.n_train.unwrap_or(20_000);
                let n_eval = self.n_eval.unwrap_or(self.default_n_eval);
                let dim = self.spec.dim;
                let data_bytes = (n_train as u64 + n_eval as u64)
                    .saturating_mul(dim as u64)
                    .saturating_mul(8);
                let pca = if self.pca {
                    crate::baseline::pca::pca_bytes(dim)
                } else {
                    0
                };
                crate::infra::alloc::check_memory(
                    data_bytes.saturating_add(pca),
                    &format!(
                        "{n_train} + {n_eval} samples of dimension {dim}{}",
                        if self.pca { " and their PCA" } else { "" }
                    ),
                )?;
                Dataset::synthetic(&self.spec, n_train, n_eval, self.seed)?
            }
        };
        if let Some(w) = data.apply_scaling(self.scaling()) {
            warn(w);
        }
        data.image = match (&self.set, self.image_shape) {
            (Some((set, _)), None) => Some(set.image()),
            (Some((set, _)), Some(shape)) if shape != set.image() => {
                return Err(crate::error::VqError::InvalidConfig {
                    field: "image_shape",
                    value: shape.to_string(),
                    allowed: format!(
                        "the {} set's own shape, {} (or leave --image-shape out)",
                        set.name(),
                        set.image()
                    ),
                })
            }
            (_, Some(shape)) if shape.len() != data.dim() => {
                return Err(crate::error::VqError::InvalidConfig {
                    field: "image_shape",
                    value: shape.to_string(),
                    allowed: format!(
                        "a shape of {} values (channels × height × width), the data's dimension",
                        data.dim()
                    ),
                })
            }
            (_, shape) => shape,
        };
        Ok(data)
    }

    /// [`DataArgs::load_with`], warnings to stderr.
    pub fn load(&self) -> Result<Dataset> {
        self.load_with(|w| eprintln!("warning: {w}"))
    }
}
