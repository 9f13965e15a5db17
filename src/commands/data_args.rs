//! How a command gets its data: the synthetic generator or a file.
use serde::Serialize;
use std::path::PathBuf;

use crate::data::{Dataset, SyntheticSpec};
use crate::error::Result;

/// Where to take the data from, with the sizes of the two splits.
#[derive(Debug, Clone, Serialize)]
pub struct DataArgs {
    /// Training-set size (for a file: `None` = all rows not used for eval).
    pub n_train: Option<usize>,
    /// Evaluation-set size.
    pub n_eval: usize,
    /// Seed of the data (subspace and samples, or the row shuffle of a file).
    pub seed: u64,
    /// A data file (`.npy` or `.csv`) instead of the synthetic generator.
    pub path: Option<PathBuf>,
    /// Centre file data by the training mean.
    pub center: bool,
    /// Generator parameters (synthetic data only).
    pub spec: SyntheticSpec,
    /// A dimension the user asked for explicitly: a data file must have it.
    pub expected_dim: Option<usize>,
}

impl DataArgs {
    /// Draws or loads the data.
    pub fn load(&self) -> Result<Dataset> {
        match &self.path {
            Some(path) => {
                let data =
                    Dataset::from_file(path, self.n_train, self.n_eval, self.seed, self.center)?;
                match self.expected_dim {
                    Some(d) if d != data.dim() => Err(crate::error::VqError::Data {
                        path: path.clone(),
                        message: format!(
                            "{} columns per row, but the requested dimension (--dim) is {d}",
                            data.dim()
                        ),
                    }),
                    _ => Ok(data),
                }
            }
            None => Dataset::synthetic(
                &self.spec,
                self.n_train.unwrap_or(20_000),
                self.n_eval,
                self.seed,
            ),
        }
    }
}
