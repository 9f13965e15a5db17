//! A probe directory: what a quantizer layer computed on one batch, in the
//! format `python/vqlab_probe.py` writes (`docs/PROBE.md`).
//!
//! Every file is checked once, here: its presence, dtype (floats where
//! floats belong, integers for the assignments), shape against the others,
//! and finiteness. A bad file is a [`VqError::Data`] naming the file.
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use ndarray::{Array1, Array2, ArrayD, Ix2};
use ndarray_npy::{ReadNpyError, ReadNpyExt};
use serde::{Deserialize, Serialize};

use crate::error::{Result, VqError};

/// The probe format this build reads (`probe.json`'s `format`).
pub const PROBE_FORMAT: &str = "vqlab-probe/1";

/// What the probe knew about the layer (`probe.json`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeMeta {
    /// [`PROBE_FORMAT`].
    #[serde(default)]
    pub format: String,
    /// The library or code that holds the layer (e.g. "vector-quantize-pytorch").
    #[serde(default)]
    pub library: String,
    /// Its version.
    #[serde(default)]
    pub version: String,
    /// The layer's class or a short description.
    #[serde(default)]
    pub layer: String,
    /// The flags the layer was built with, as the probe saw them.
    #[serde(default)]
    pub flags: serde_json::Value,
    /// The dtype the layer computed in (e.g. "float32").
    #[serde(default)]
    pub dtype: String,
    /// Whether the codebook is a trainable tensor (requires_grad); `None`
    /// when the probe could not tell.
    #[serde(default)]
    pub codebook_trainable: Option<bool>,
    /// The Gumbel temperature τ, with `gumbel_noise.npy`.
    #[serde(default)]
    pub tau: Option<f64>,
    /// Anything else the probe recorded.
    #[serde(flatten)]
    pub extra: serde_json::Map<String, serde_json::Value>,
}

/// One probe, loaded and checked: B rows of width m, K codes.
#[derive(Debug, Clone)]
pub struct Probe {
    /// The directory it came from.
    pub dir: PathBuf,
    /// The layer's input rows z (B × m).
    pub z: Array2<f64>,
    /// The codebook as the layer stores it (K × m).
    pub codebook: Array2<f64>,
    /// The layer's output (B × m).
    pub output: Array2<f64>,
    /// The code index of each row.
    pub assignments: Vec<usize>,
    /// The auxiliary loss the layer returned (0 when none).
    pub aux_loss: f64,
    /// u, the gradient applied to the output (B × m).
    pub upstream: Array2<f64>,
    /// ∂L/∂z with L = Σ u ⊙ output + aux_loss (B × m).
    pub grad_z: Array2<f64>,
    /// ∂L/∂codebook (K × m); `None` when the codebook is not in autograd.
    pub grad_codebook: Option<Array2<f64>>,
    /// NSVQ's unit directions v̂ (B × m), when the layer drew them.
    pub nsvq_directions: Option<Array2<f64>>,
    /// Gumbel noise G (B × K), when the layer drew it (τ in `meta`).
    pub gumbel_noise: Option<Array2<f64>>,
    /// `probe.json`.
    pub meta: ProbeMeta,
}

fn bad(path: &Path, message: impl Into<String>) -> VqError {
    VqError::Data {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

fn open(path: &Path) -> Result<BufReader<File>> {
    File::open(path).map(BufReader::new).map_err(|error| {
        if error.kind() == std::io::ErrorKind::NotFound {
            bad(
                path,
                "missing: a probe directory needs this file (docs/PROBE.md)",
            )
        } else {
            VqError::Io {
                path: path.to_path_buf(),
                error,
            }
        }
    })
}

fn unreadable(path: &Path, e: ReadNpyError) -> VqError {
    bad(path, format!("not a readable .npy file: {e}"))
}

/// A float array (f8 or f4) of any shape; integer or other dtypes refused.
fn read_floats(path: &Path) -> Result<ArrayD<f64>> {
    match ArrayD::<f64>::read_npy(open(path)?) {
        Ok(a) => return Ok(a),
        Err(ReadNpyError::WrongDescriptor(_)) => {}
        Err(e) => return Err(unreadable(path, e)),
    }
    match ArrayD::<f32>::read_npy(open(path)?) {
        Ok(a) => Ok(a.mapv(f64::from)),
        Err(ReadNpyError::WrongDescriptor(d)) => Err(bad(
            path,
            format!("dtype {d}: a float array (float64 or float32) belongs here"),
        )),
        Err(e) => Err(unreadable(path, e)),
    }
}

/// A float matrix of shape `want` (None: any), every entry finite.
fn read_matrix(path: &Path, want: (Option<usize>, Option<usize>)) -> Result<Array2<f64>> {
    let a = read_floats(path)?;
    let shape = a.shape().to_vec();
    let m = a.into_dimensionality::<Ix2>().map_err(|_| {
        bad(
            path,
            format!("shape {shape:?}: a 2-D array (rows × width) belongs here"),
        )
    })?;
    let fits = |want: Option<usize>, got: usize| want.is_none_or(|w| w == got);
    if !fits(want.0, m.nrows()) || !fits(want.1, m.ncols()) {
        let show = |w: Option<usize>| w.map_or("any".to_string(), |v| v.to_string());
        return Err(bad(
            path,
            format!(
                "shape {}×{}: expected {}×{} (from z.npy and codebook.npy)",
                m.nrows(),
                m.ncols(),
                show(want.0),
                show(want.1)
            ),
        ));
    }
    check_finite(path, m.iter())?;
    Ok(m)
}

fn check_finite<'a>(path: &Path, values: impl Iterator<Item = &'a f64>) -> Result<()> {
    match values.enumerate().find(|(_, v)| !v.is_finite()) {
        Some((i, v)) => Err(bad(
            path,
            format!("entry {i} is {v}: every value must be finite"),
        )),
        None => Ok(()),
    }
}

/// An integer vector, or `None` when the file holds another dtype.
fn read_ints<T>(path: &Path) -> Result<Option<Vec<i128>>>
where
    T: ndarray_npy::ReadableElement + Copy + Into<i128>,
{
    match Array1::<T>::read_npy(open(path)?) {
        Ok(a) => Ok(Some(a.iter().map(|&v| v.into()).collect())),
        Err(ReadNpyError::WrongDescriptor(_)) => Ok(None),
        Err(ReadNpyError::WrongNdim(_, got)) => Err(bad(
            path,
            format!("{got} dimension(s): a vector of one code index per row belongs here"),
        )),
        Err(e) => Err(unreadable(path, e)),
    }
}

/// The assignments: an integer vector of length `rows`, each in 0..k.
fn read_assignments(path: &Path, rows: usize, k: usize) -> Result<Vec<usize>> {
    type Reader = fn(&Path) -> Result<Option<Vec<i128>>>;
    let readers: [Reader; 8] = [
        read_ints::<i64>,
        read_ints::<i32>,
        read_ints::<i16>,
        read_ints::<i8>,
        read_ints::<u64>,
        read_ints::<u32>,
        read_ints::<u16>,
        read_ints::<u8>,
    ];
    let mut values = None;
    for read in readers {
        if let Some(v) = read(path)? {
            values = Some(v);
            break;
        }
    }
    let Some(values) = values else {
        return Err(bad(
            path,
            "not an integer array: the assignments are code indices (int64)",
        ));
    };
    if values.len() != rows {
        return Err(bad(
            path,
            format!(
                "{} entries: expected one per row of z.npy ({rows})",
                values.len()
            ),
        ));
    }
    values
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            usize::try_from(v).ok().filter(|&v| v < k).ok_or_else(|| {
                bad(
                    path,
                    format!("entry {i} is {v}: code indices run from 0 to {}", k - 1),
                )
            })
        })
        .collect()
}

impl Probe {
    /// Loads and checks the probe in `dir` (see `docs/PROBE.md`).
    pub fn load(dir: &Path) -> Result<Probe> {
        if !dir.exists() {
            return Err(bad(dir, "does not exist"));
        }
        if !dir.is_dir() {
            return Err(bad(
                dir,
                "not a directory: a probe is a directory of .npy files and probe.json",
            ));
        }
        let file = |name: &str| dir.join(name);
        let meta_path = file("probe.json");
        let text = std::fs::read_to_string(&meta_path).map_err(|error| {
            if error.kind() == std::io::ErrorKind::NotFound {
                bad(
                    &meta_path,
                    "missing: a probe directory needs this file (docs/PROBE.md)",
                )
            } else {
                VqError::Io {
                    path: meta_path.clone(),
                    error,
                }
            }
        })?;
        let meta: ProbeMeta = serde_json::from_str(&text)
            .map_err(|e| bad(&meta_path, format!("not valid probe JSON: {e}")))?;
        if meta.format != PROBE_FORMAT {
            return Err(bad(
                &meta_path,
                format!(
                    "format {:?}: this vqlab reads {PROBE_FORMAT:?}",
                    meta.format
                ),
            ));
        }
        let z = read_matrix(&file("z.npy"), (None, None))?;
        let (b, m) = z.dim();
        if b == 0 || m == 0 {
            return Err(bad(&file("z.npy"), "empty: at least one row of width ≥ 1"));
        }
        let codebook = read_matrix(&file("codebook.npy"), (None, Some(m)))?;
        let k = codebook.nrows();
        if k == 0 {
            return Err(bad(&file("codebook.npy"), "no codes"));
        }
        let rows = (Some(b), Some(m));
        let output = read_matrix(&file("output.npy"), rows)?;
        let upstream = read_matrix(&file("upstream.npy"), rows)?;
        let grad_z = read_matrix(&file("grad_z.npy"), rows)?;
        let assignments = read_assignments(&file("assignments.npy"), b, k)?;
        let aux_path = file("aux_loss.npy");
        let aux = read_floats(&aux_path)?;
        if aux.len() != 1 {
            return Err(bad(
                &aux_path,
                format!(
                    "{} entries: one number (the aux loss) belongs here",
                    aux.len()
                ),
            ));
        }
        check_finite(&aux_path, aux.iter())?;
        let optional = |name: &str, want| -> Result<Option<Array2<f64>>> {
            let path = file(name);
            path.exists().then(|| read_matrix(&path, want)).transpose()
        };
        let grad_codebook = optional("grad_codebook.npy", (Some(k), Some(m)))?;
        if grad_codebook.is_none() && meta.codebook_trainable == Some(true) {
            return Err(bad(
                &file("grad_codebook.npy"),
                "missing, while probe.json says the codebook is trainable (a trainable codebook that gets no gradient is written as zeros)",
            ));
        }
        let nsvq_directions = optional("nsvq_directions.npy", rows)?;
        let gumbel_noise = optional("gumbel_noise.npy", (Some(b), Some(k)))?;
        if gumbel_noise.is_some() && !meta.tau.is_some_and(|t| t.is_finite() && t > 0.0) {
            return Err(bad(
                &meta_path,
                "gumbel_noise.npy needs \"tau\": the temperature, a number > 0",
            ));
        }
        Ok(Probe {
            dir: dir.to_path_buf(),
            z,
            codebook,
            output,
            assignments,
            aux_loss: aux.iter().next().copied().unwrap_or(0.0),
            upstream,
            grad_z,
            grad_codebook,
            nsvq_directions,
            gumbel_noise,
            meta,
        })
    }

    /// (B, m, K).
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.z.nrows(), self.z.ncols(), self.codebook.nrows())
    }
}

impl Probe {
    /// Writes the probe into `dir` (created if needed) in the format
    /// [`Probe::load`] reads: float64 arrays, int64 assignments, probe.json.
    pub fn write(&self, dir: &Path) -> Result<()> {
        use crate::infra::io::write_npy;
        std::fs::create_dir_all(dir).map_err(|error| VqError::Io {
            path: dir.to_path_buf(),
            error,
        })?;
        let file = |name: &str| dir.join(name);
        write_npy(&file("z.npy"), &self.z)?;
        write_npy(&file("codebook.npy"), &self.codebook)?;
        write_npy(&file("output.npy"), &self.output)?;
        let a: Array1<i64> = self.assignments.iter().map(|&v| v as i64).collect();
        write_npy(&file("assignments.npy"), &a)?;
        write_npy(&file("aux_loss.npy"), &ndarray::arr0(self.aux_loss))?;
        write_npy(&file("upstream.npy"), &self.upstream)?;
        write_npy(&file("grad_z.npy"), &self.grad_z)?;
        for (name, m) in [
            ("grad_codebook.npy", &self.grad_codebook),
            ("nsvq_directions.npy", &self.nsvq_directions),
            ("gumbel_noise.npy", &self.gumbel_noise),
        ] {
            if let Some(m) = m {
                write_npy(&file(name), m)?;
            }
        }
        let mut meta = self.meta.clone();
        meta.format = PROBE_FORMAT.to_string();
        let text = serde_json::to_string_pretty(&meta).expect("probe metadata serialises");
        crate::infra::io::write_atomic(&file("probe.json"), text.as_bytes())
    }
}
