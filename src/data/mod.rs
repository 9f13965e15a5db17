//! Data: the synthetic low-rank generator (`docs/MODEL.md`), loaders for real data
//! (`.npy`, CSV), and the train/eval split.
//!
//! Centring: the model has no bias term (z = Wᵀx). Synthetic data have mean
//! zero and are used as drawn. Data read from a file are centred by the
//! training mean (applied to both splits) unless the caller asks otherwise;
//! [`Dataset::centered`] records which, and the JSON outputs carry it.
mod images;
mod load;
pub mod patches;
pub mod photos;
pub mod real;
mod synthetic;

pub use images::{grid_png, strips_png, ImageShape};
pub use load::{load_matrix, load_matrix_with};
pub use real::RealSet;
pub use synthetic::{Latent, SyntheticGenerator, SyntheticSpec, REPORT_PRESET};

use ndarray::{Array1, Array2, Axis};
use rand::seq::SliceRandom;
use serde::Serialize;
use std::path::Path;

use crate::error::{invalid, Result};
use crate::numerics::rng::{rng_for, Stream};

/// A training set and an evaluation set with the same dimension.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// N_train × D.
    pub train: Array2<f64>,
    /// N_eval × D.
    pub eval: Array2<f64>,
    /// Where the data came from, for the JSON outputs.
    pub source: DataSource,
    /// Whether the training mean was subtracted from both splits.
    pub centered: bool,
    /// The training mean that was subtracted (None when not centred).
    pub mean: Option<Array1<f64>>,
    /// Both splits were divided by this (1 when not scaled); metrics are
    /// reported in the data's own units by multiplying squared errors by
    /// its square.
    pub scale: f64,
    /// How `scale` was chosen.
    pub scaling: Scaling,
    /// The image shape of a row, for data that are pictures (the built-in
    /// image sets, or a file given `--image-shape`); `None` for flat data.
    pub image: Option<ImageShape>,
}

/// How file data are scaled before training.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum Scaling {
    /// As they are.
    #[default]
    None,
    /// Divided by the root mean square of the (centred) training entries, so
    /// that the average squared coordinate is 1: the default learning rates
    /// then work whatever the data's units.
    UnitVariance,
}

impl Scaling {
    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scaling::None => "none",
            Scaling::UnitVariance => "unit-variance",
        }
    }
}

/// How many rows go to evaluation: an exact count, or a fraction of the file.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EvalSplit {
    /// Exactly this many rows.
    Rows(usize),
    /// This fraction of the rows (rounded, at least one), in (0, 1).
    Fraction(f64),
}

/// Where a [`Dataset`] came from.
#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DataSource {
    /// The synthetic generator, with its parameters and seed.
    Synthetic {
        /// Generator parameters.
        spec: SyntheticSpec,
        /// The seed the subspace and the samples were drawn with.
        seed: u64,
    },
    /// A matrix read from a file, rows shuffled with `seed` before the split.
    File {
        /// The file.
        path: String,
        /// Rows in the file.
        rows: usize,
        /// The seed of the row shuffle.
        seed: u64,
        /// The evaluation file of a user's own split (None: rows held out
        /// of `path`).
        #[serde(skip_serializing_if = "Option::is_none")]
        eval_path: Option<String>,
    },
}

/// The data a run used, in its JSON: where from, the split, centring and
/// scaling.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct DataInfo {
    /// Where the data came from.
    pub source: DataSource,
    /// Training rows.
    pub n_train: usize,
    /// Evaluation rows.
    pub n_eval: usize,
    /// Dimension D.
    pub dim: usize,
    /// Whether the training mean was subtracted.
    pub centered: bool,
    /// How the data were scaled.
    pub scaling: Scaling,
    /// What both splits were divided by.
    pub scale: f64,
    /// The image shape of a row (image data only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageShape>,
    /// Image data only: the range (largest − smallest) of the training
    /// entries in the data's units, the peak of the PSNR.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_range: Option<f64>,
}

impl Dataset {
    /// The ambient dimension D.
    pub fn dim(&self) -> usize {
        self.train.ncols()
    }

    /// Draws a synthetic train and eval set: the planted subspace, the train
    /// samples and the eval samples each come from their own stream of `seed`,
    /// so the same seed gives bit-identical data whatever the sizes of the
    /// other split.
    pub fn synthetic(
        spec: &SyntheticSpec,
        n_train: usize,
        n_eval: usize,
        seed: u64,
    ) -> Result<Self> {
        spec.validate()?;
        check_sizes(n_train, n_eval)?;
        let generator = SyntheticGenerator::new(spec, &mut rng_for(seed, Stream::Subspace))?;
        let train = generator.sample(n_train, &mut rng_for(seed, Stream::TrainData));
        let eval = generator.sample(n_eval, &mut rng_for(seed, Stream::EvalData));
        Ok(Dataset {
            train,
            eval,
            source: DataSource::Synthetic {
                spec: spec.clone(),
                seed,
            },
            centered: false,
            mean: None,
            scale: 1.0,
            scaling: Scaling::None,
            image: None,
        })
    }

    /// Reads a data matrix (rows = samples) from `.npy` or CSV, shuffles its
    /// rows with `seed`, and splits off the evaluation rows (`split`) and
    /// `n_train` for training (`None`: all remaining rows). With `center`,
    /// subtracts the training mean from both splits.
    pub fn from_file(
        path: &Path,
        n_train: Option<usize>,
        split: EvalSplit,
        seed: u64,
        center: bool,
    ) -> Result<Self> {
        Self::from_matrix(load_matrix(path)?, path, n_train, split, seed, center)
    }

    /// [`Dataset::from_file`] on a matrix already read from `path`.
    pub fn from_matrix(
        matrix: Array2<f64>,
        path: &Path,
        n_train: Option<usize>,
        split: EvalSplit,
        seed: u64,
        center: bool,
    ) -> Result<Self> {
        let rows = matrix.nrows();
        let n_eval = match split {
            EvalSplit::Rows(n) => n,
            EvalSplit::Fraction(f) => {
                if !(f > 0.0 && f < 1.0) {
                    return Err(invalid("eval_fraction", f, "a number in (0, 1)"));
                }
                ((rows as f64 * f).round() as usize).max(1)
            }
        };
        if n_eval >= rows {
            return Err(invalid(
                "n_eval",
                n_eval,
                format!(
                    "fewer than the {rows} rows of {} (at least one row must be left to train on)",
                    path.display()
                ),
            ));
        }
        let n_train = n_train.unwrap_or(rows - n_eval);
        check_sizes(n_train, n_eval)?;
        if n_train + n_eval > rows {
            return Err(invalid(
                "n_train",
                n_train,
                format!(
                    "n_train + n_eval at most the {rows} rows of {} (n_eval = {n_eval})",
                    path.display()
                ),
            ));
        }
        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(&mut rng_for(seed, Stream::Split));
        let eval = matrix.select(Axis(0), &order[..n_eval]);
        let train = matrix.select(Axis(0), &order[n_eval..n_eval + n_train]);
        let source = DataSource::File {
            path: path.display().to_string(),
            rows,
            seed,
            eval_path: None,
        };
        Ok(Self::from_splits(train, eval, source, center))
    }

    /// Training and evaluation rows read from files, centred by the
    /// training mean when `center`, not scaled yet.
    fn from_splits(
        train: Array2<f64>,
        eval: Array2<f64>,
        source: DataSource,
        center: bool,
    ) -> Self {
        let mut data = Dataset {
            train,
            eval,
            source,
            centered: false,
            mean: None,
            scale: 1.0,
            scaling: Scaling::None,
            image: None,
        };
        if center {
            data.center_by_train_mean();
        }
        data
    }

    /// A user's own split: every row of `train_path` (or the first
    /// `n_train` after the shuffle) for training, every row of `eval_path`
    /// for evaluation; the widths must match.
    pub fn from_files(
        train_path: &Path,
        eval_path: &Path,
        n_train: Option<usize>,
        seed: u64,
        center: bool,
        delimiter: Option<u8>,
    ) -> Result<Self> {
        let train = load::load_matrix_with(train_path, delimiter)?;
        let eval = load::load_matrix_with(eval_path, delimiter)?;
        if eval.ncols() != train.ncols() {
            return Err(crate::VqError::Data {
                path: eval_path.to_path_buf(),
                message: format!(
                    "{} columns per row, but the training data ({}) have {}",
                    eval.ncols(),
                    train_path.display(),
                    train.ncols()
                ),
            });
        }
        let names = (
            train_path.display().to_string(),
            eval_path.display().to_string(),
        );
        Self::from_split_matrices(train, eval, names, n_train, seed, center)
    }

    /// Training rows and evaluation rows that come split (`names`: where
    /// each came from): the training rows shuffled with `seed` and the first
    /// `n_train` kept (all when `None`), the evaluation rows as they are;
    /// centred by the training mean when `center`, not scaled yet.
    pub fn from_split_matrices(
        mut train: Array2<f64>,
        eval: Array2<f64>,
        (train_name, eval_name): (String, String),
        n_train: Option<usize>,
        seed: u64,
        center: bool,
    ) -> Result<Self> {
        let rows = train.nrows();
        let mut order: Vec<usize> = (0..rows).collect();
        order.shuffle(&mut rng_for(seed, Stream::Split));
        let n_train = n_train.unwrap_or(rows);
        if n_train == 0 || n_train > rows {
            return Err(invalid(
                "n_train",
                n_train,
                format!("between 1 and the {rows} rows of {train_name}"),
            ));
        }
        train = train.select(Axis(0), &order[..n_train]);
        let source = DataSource::File {
            path: train_name,
            rows,
            seed,
            eval_path: Some(eval_name),
        };
        Ok(Self::from_splits(train, eval, source, center))
    }

    /// Scales both splits as `scaling` asks (after centring). Returns a
    /// warning when the data cannot be scaled (every training entry equal):
    /// they are then kept as they are, never divided by zero.
    pub fn apply_scaling(&mut self, scaling: Scaling) -> Option<String> {
        self.scaling = scaling;
        if scaling == Scaling::None {
            return None;
        }
        let n = self.train.len() as f64;
        let rms = (self.train.iter().map(|v| v * v).sum::<f64>() / n).sqrt();
        if !(rms > 0.0 && rms.is_finite()) {
            self.scaling = Scaling::None;
            return Some(
                "unit-variance scaling skipped: every training entry is the same after centring (nothing to divide by); the data are kept as they are".into(),
            );
        }
        self.train /= rms;
        self.eval /= rms;
        self.scale = rms;
        None
    }

    /// What the JSON outputs say about these data.
    pub fn describe(&self) -> DataInfo {
        DataInfo {
            source: self.source.clone(),
            n_train: self.train.nrows(),
            n_eval: self.eval.nrows(),
            dim: self.dim(),
            centered: self.centered,
            scaling: self.scaling,
            scale: self.scale,
            image: self.image,
            pixel_range: self.image.map(|_| self.pixel_range()),
        }
    }

    /// The range (largest − smallest) of the training entries in the data's
    /// own units (the scaling and the centring undone).
    pub fn pixel_range(&self) -> f64 {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for row in self.train.outer_iter() {
            for (j, &v) in row.iter().enumerate() {
                let raw = v * self.scale + self.mean.as_ref().map_or(0.0, |m| m[j]);
                (lo, hi) = (lo.min(raw), hi.max(raw));
            }
        }
        hi - lo
    }

    /// Subtracts the training mean from both splits.
    pub fn center_by_train_mean(&mut self) {
        let mean: Array1<f64> = self.train.mean_axis(Axis(0)).expect("train is not empty");
        self.train -= &mean;
        self.eval -= &mean;
        self.centered = true;
        self.mean = Some(mean);
    }
}

fn check_sizes(n_train: usize, n_eval: usize) -> Result<()> {
    if n_train == 0 {
        return Err(invalid("n_train", n_train, "at least 1"));
    }
    if n_eval == 0 {
        return Err(invalid("n_eval", n_eval, "at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_gives_identical_data_and_other_seed_does_not() {
        let spec = SyntheticSpec::report_default();
        let a = Dataset::synthetic(&spec, 300, 100, 7).unwrap();
        let b = Dataset::synthetic(&spec, 300, 100, 7).unwrap();
        let c = Dataset::synthetic(&spec, 300, 100, 8).unwrap();
        assert_eq!(a.train, b.train);
        assert_eq!(a.eval, b.eval);
        assert_ne!(a.train, c.train);
        // Train and eval are independent draws, not copies.
        assert_ne!(a.train.row(0), a.eval.row(0));
        // The train set does not depend on the eval size.
        let d = Dataset::synthetic(&spec, 300, 50, 7).unwrap();
        assert_eq!(a.train, d.train);
    }

    #[test]
    fn zero_sizes_are_refused() {
        let spec = SyntheticSpec::report_default();
        let err = Dataset::synthetic(&spec, 0, 10, 0).unwrap_err().to_string();
        assert!(err.contains("n_train"), "{err}");
        let err = Dataset::synthetic(&spec, 10, 0, 0).unwrap_err().to_string();
        assert!(err.contains("n_eval"), "{err}");
    }

    #[test]
    fn file_split_is_disjoint_and_centred() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.csv");
        let mut text = String::new();
        for i in 0..20 {
            text.push_str(&format!("{},{}\n", i, 100 + i));
        }
        std::fs::write(&path, text).unwrap();
        let data = Dataset::from_file(&path, None, EvalSplit::Rows(5), 3, true).unwrap();
        assert_eq!(data.train.nrows(), 15);
        assert_eq!(data.eval.nrows(), 5);
        let mean = data.train.mean_axis(Axis(0)).unwrap();
        assert!(mean.iter().all(|v| v.abs() < 1e-12));
        // Every original row lands in exactly one split: first coordinates
        // (shifted by the same mean) are all distinct.
        let mut firsts: Vec<f64> = data
            .train
            .column(0)
            .iter()
            .chain(data.eval.column(0).iter())
            .copied()
            .collect();
        firsts.sort_by(f64::total_cmp);
        firsts.dedup();
        assert_eq!(firsts.len(), 20);
        assert!(Dataset::from_file(&path, Some(16), EvalSplit::Rows(5), 3, true).is_err());
    }
}
