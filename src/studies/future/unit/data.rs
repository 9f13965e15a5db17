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
}

impl DataChoice {
    /// The data set's name in tables.
    pub fn name(&self) -> String {
        match self {
            DataChoice::Synthetic { spec, .. } => {
                format!("synthetic D={} σ={:.3}", spec.dim, spec.noise_sigma)
            }
            DataChoice::Real { set, .. } => set.name().to_string(),
        }
    }

    /// The dimension D.
    pub fn dim(&self) -> usize {
        match self {
            DataChoice::Synthetic { spec, .. } => spec.dim,
            DataChoice::Real { set, .. } => set.dim(),
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
        }
    }

    /// A real set with `eval_fraction` of its rows for evaluation and
    /// `val_fraction` of the rest for validation.
    pub fn real(
        set: RealSet,
        matrix: &Array2<f64>,
        eval_fraction: f64,
        val_fraction: f64,
    ) -> DataChoice {
        let rows = matrix.nrows();
        let n_eval = ((rows as f64 * eval_fraction).round() as usize).max(1);
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
            // A split per seed: the intervals over seeds include the
            // split's variation.
            let mut order: Vec<usize> = (0..*rows).collect();
            order.shuffle(&mut rng_for(seed, Stream::Split));
            let eval = matrix.select(Axis(0), &order[..*n_eval]);
            let mut val = matrix.select(Axis(0), &order[*n_eval..n_eval + n_val]);
            let train = matrix.select(Axis(0), &order[n_eval + n_val..]);
            let mut data = Dataset {
                train,
                eval,
                source: DataSource::File {
                    path: format!("{} ({})", set.name(), set.describe()),
                    rows: *rows,
                    seed: 0,
                    eval_path: None,
                },
                centered: false,
                mean: None,
                scale: 1.0,
                scaling: Scaling::None,
            };
            data.center_by_train_mean();
            data.apply_scaling(Scaling::UnitVariance);
            if let Some(mean) = &data.mean {
                val -= mean;
            }
            val /= data.scale;
            Ok(UnitData { data, val })
        }
    }
}
