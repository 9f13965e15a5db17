//! The data of a unit: which set (synthetic, real, noisy), and its train,
//! validation and evaluation rows for one seed.
#[allow(unused_imports)]
use super::*;

/// Where a unit's data come from. Real data are identified by a digest of
/// their content, never by their path, so machines with the data in other
/// folders share a store, and the test slice never passes for the full set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataChoice {
    /// The synthetic generator: each seed draws its own subspace and samples;
    /// the last `n_val` training rows are the validation split.
    Synthetic {
        /// Generator parameters.
        spec: SyntheticSpec,
        /// Rows trained on.
        n_fit: usize,
        /// Validation rows (learning-rate choice only).
        n_val: usize,
        /// Evaluation rows (every reported number).
        n_eval: usize,
    },
    /// A real data set, split anew for every seed: evaluation rows, then
    /// validation rows, then the rows trained on; centred and
    /// divided by the root mean square of the rows trained on.
    Real {
        /// Which set.
        set: RealSet,
        /// Its rows.
        rows: usize,
        /// [`content_digest`] of the whole matrix.
        content: u64,
        /// Validation rows.
        n_val: usize,
        /// Evaluation rows.
        n_eval: usize,
    },
    /// A researcher's data file (`vqlab study`), identified like a real set
    /// by its content; split anew per seed, or with its own evaluation rows.
    File {
        /// The file's name in tables.
        name: String,
        /// Its rows.
        rows: usize,
        /// Its columns D.
        dim: usize,
        /// [`content_digest`] of the matrix.
        content: u64,
        /// Own evaluation rows: their count and digest (None: split off
        /// `n_eval` rows per seed).
        eval: Option<(usize, u64)>,
        /// Validation rows.
        n_val: usize,
        /// Evaluation rows.
        n_eval: usize,
        /// λ₁ of the whole file's second moment after centring and
        /// unit-variance scaling: the base SGD rate, as `train`'s default.
        top_eigenvalue: f64,
        /// Where the file (and the evaluation file) are read (not part of
        /// the identity).
        #[serde(skip)]
        paths: FilePaths,
    },
}

/// The paths of a [`DataChoice::File`]: read, never compared.
#[derive(Debug, Clone, Default)]
pub struct FilePaths {
    /// The data file.
    pub file: PathBuf,
    /// Its own evaluation rows, if any.
    pub eval: Option<PathBuf>,
    /// Its CSV delimiter, if given.
    pub delimiter: Option<u8>,
}

impl PartialEq for FilePaths {
    fn eq(&self, _: &FilePaths) -> bool {
        true
    }
}

impl DataChoice {
    /// The data set's name in tables.
    pub fn name(&self) -> String {
        match self {
            DataChoice::Synthetic { spec, .. } => {
                format!("synthetic D={} σ={:.3}", spec.dim, spec.noise_sigma)
            }
            DataChoice::Real { set, .. } => set.name().to_string(),
            DataChoice::File { name, .. } => name.clone(),
        }
    }

    /// The dimension D.
    pub fn dim(&self) -> usize {
        match self {
            DataChoice::Synthetic { spec, .. } => spec.dim,
            DataChoice::Real { set, .. } => set.dim(),
            DataChoice::File { dim, .. } => *dim,
        }
    }

    /// The image shape of every row (the built-in sets'; None for the
    /// generator and files), what the conv model takes from its data.
    pub fn image(&self) -> Option<crate::data::ImageShape> {
        match self {
            DataChoice::Real { set, .. } => Some(set.image()),
            _ => None,
        }
    }

    /// Rows trained on.
    pub fn n_fit(&self) -> usize {
        match self {
            DataChoice::Synthetic { n_fit, .. } => *n_fit,
            DataChoice::Real {
                rows,
                n_val,
                n_eval,
                ..
            } => rows - n_val - n_eval,
            DataChoice::File {
                rows,
                n_val,
                n_eval,
                eval,
                ..
            } => rows - n_val - if eval.is_some() { 0 } else { *n_eval },
        }
    }

    /// A researcher's file (`matrix`, read from `path`) with
    /// `eval_fraction` of its rows for evaluation (or its own evaluation
    /// rows `eval`) and `val_fraction` of the rest for validation.
    pub fn file(
        path: &std::path::Path,
        matrix: &Array2<f64>,
        eval: Option<(PathBuf, Array2<f64>)>,
        eval_fraction: f64,
        val_fraction: f64,
        delimiter: Option<u8>,
    ) -> std::result::Result<DataChoice, String> {
        let rows = matrix.nrows();
        let n_eval = match &eval {
            Some((_, e)) => e.nrows(),
            None => ((rows as f64 * eval_fraction).round() as usize).max(1),
        };
        let left = if eval.is_some() {
            rows
        } else {
            rows.saturating_sub(n_eval)
        };
        let n_val = ((left as f64 * val_fraction).round() as usize).max(1);
        if n_val >= left {
            return Err(format!(
                "{} has {rows} rows: too few to hold out {n_eval} for evaluation and {n_val} for validation and train on the rest",
                path.display()
            ));
        }
        let mut x = matrix.clone();
        let mean = x.mean_axis(Axis(0)).expect("rows");
        x -= &mean;
        let rms = (x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64).sqrt();
        if rms > 0.0 {
            x /= rms;
        }
        let top_eigenvalue = crate::baseline::pca::Pca::fit(x.view(), 1)
            .map_err(|e| e.to_string())?
            .eigenvalues[0];
        Ok(DataChoice::File {
            name: path
                .file_name()
                .map_or("data".into(), |n| n.to_string_lossy().into_owned()),
            rows,
            dim: matrix.ncols(),
            content: content_digest(matrix),
            eval: eval.as_ref().map(|(_, e)| (e.nrows(), content_digest(e))),
            n_val,
            n_eval,
            top_eigenvalue,
            paths: FilePaths {
                file: path.to_path_buf(),
                eval: eval.map(|(p, _)| p),
                delimiter,
            },
        })
    }

    /// A real set with `eval_fraction` of its rows for evaluation and
    /// `val_fraction` of the rest for validation; a set whose last `held`
    /// rows are its own evaluation rows (crops of held-out photographs)
    /// evaluates on those and validates on `val_fraction` of the others.
    pub fn real(
        set: RealSet,
        matrix: &Array2<f64>,
        held: Option<usize>,
        eval_fraction: f64,
        val_fraction: f64,
    ) -> DataChoice {
        let rows = matrix.nrows();
        let n_eval =
            held.unwrap_or_else(|| ((rows as f64 * eval_fraction).round() as usize).max(1));
        let n_val = (((rows - n_eval) as f64 * val_fraction).round() as usize).max(1);
        DataChoice::Real {
            set,
            rows,
            content: content_digest(matrix),
            n_val,
            n_eval,
        }
    }
}

/// The data of one unit: training rows and evaluation rows as a
/// [`Dataset`], and the validation rows (scaled like them).
pub struct UnitData {
    /// Train = the rows trained on, eval = the evaluation rows.
    pub data: Dataset,
    /// The validation rows.
    pub val: Array2<f64>,
}

/// Builds the data of `choice` for `seed`, reading real sets from `dir`.
pub fn build_data(choice: &DataChoice, seed: u64, dir: &std::path::Path) -> Result<UnitData> {
    match choice {
        DataChoice::Synthetic {
            spec,
            n_fit,
            n_val,
            n_eval,
        } => {
            let mut data = Dataset::synthetic(spec, n_fit + n_val, *n_eval, seed)?;
            let val = data.train.slice(s![*n_fit.., ..]).to_owned();
            data.train = data.train.slice(s![..*n_fit, ..]).to_owned();
            Ok(UnitData { data, val })
        }
        DataChoice::Real {
            set,
            rows,
            content,
            n_val,
            n_eval,
        } => {
            let matrix = set.load(dir)?;
            if matrix.nrows() != *rows || content_digest(&matrix) != *content {
                return Err(VqError::Data {
                    path: dir.to_path_buf(),
                    message: format!(
                        "the {} data there are not the ones this run was planned with ({} rows; planned {rows})",
                        set.name(),
                        matrix.nrows()
                    ),
                });
            }
            let source = format!("{} ({})", set.name(), set.describe());
            // A set with its own evaluation rows (crops of held-out
            // photographs) keeps them: no crop of an evaluation photograph
            // is trained on or validated with.
            if let Some(held) = set.held_out(dir)? {
                let split = matrix.nrows() - held;
                let train = matrix.slice(ndarray::s![..split, ..]).to_owned();
                let eval = matrix.slice(ndarray::s![split.., ..]).to_owned();
                if held != *n_eval {
                    return Err(VqError::Data {
                        path: dir.to_path_buf(),
                        message: format!(
                            "the {} data there hold {held} evaluation rows; planned {n_eval}",
                            set.name()
                        ),
                    });
                }
                let mut unit = split_and_scale(&train, Some(eval), *n_val, 0, seed, source);
                unit.data.image = Some(set.image());
                return Ok(unit);
            }
            let mut unit = split_and_scale(&matrix, None, *n_val, *n_eval, seed, source);
            unit.data.image = Some(set.image());
            Ok(unit)
        }
        DataChoice::File {
            rows,
            content,
            eval,
            n_val,
            n_eval,
            paths,
            ..
        } => {
            let read = |path: &std::path::Path, rows: usize, content: u64| -> Result<Array2<f64>> {
                let matrix = crate::data::load_matrix_with(path, paths.delimiter)?;
                if matrix.nrows() != rows || content_digest(&matrix) != content {
                    return Err(VqError::Data {
                        path: path.to_path_buf(),
                        message: "the file changed since this study was planned; run it again"
                            .into(),
                    });
                }
                Ok(matrix)
            };
            let matrix = read(&paths.file, *rows, *content)?;
            let own_eval = match (eval, &paths.eval) {
                (Some((n, digest)), Some(path)) => Some(read(path, *n, *digest)?),
                _ => None,
            };
            let source = paths.file.display().to_string();
            Ok(split_and_scale(
                &matrix, own_eval, *n_val, *n_eval, seed, source,
            ))
        }
    }
}

/// A split of `matrix` for `seed` (the intervals over seeds include the
/// split's variation): evaluation rows (or `own_eval`), then validation
/// rows, then the rows trained on; all centred by the training mean and
/// divided by the training entries' root mean square.
fn split_and_scale(
    matrix: &Array2<f64>,
    own_eval: Option<Array2<f64>>,
    n_val: usize,
    n_eval: usize,
    seed: u64,
    source: String,
) -> UnitData {
    let rows = matrix.nrows();
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut rng_for(seed, Stream::Split));
    let held = if own_eval.is_some() { 0 } else { n_eval };
    let eval = own_eval.unwrap_or_else(|| matrix.select(Axis(0), &order[..n_eval]));
    let mut val = matrix.select(Axis(0), &order[held..held + n_val]);
    let train = matrix.select(Axis(0), &order[held + n_val..]);
    let mut data = Dataset {
        train,
        eval,
        source: DataSource::File {
            path: source,
            rows,
            seed: 0,
            eval_path: None,
        },
        centered: false,
        mean: None,
        scale: 1.0,
        scaling: Scaling::None,
        image: None,
    };
    data.center_by_train_mean();
    data.apply_scaling(Scaling::UnitVariance);
    if let Some(mean) = &data.mean {
        val -= mean;
    }
    val /= data.scale;
    UnitData { data, val }
}
