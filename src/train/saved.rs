//! Trained parameters on disk, with everything needed to use them on new
//! data: every parameter as `<name>.npy`, the centring mean (`mean.npy`,
//! when the training data were centred) and a manifest (`params.json`: the
//! model, the method, the sizes, the scale).
//!
//! New data go through the same preparation as the training data (minus the
//! training mean, divided by the scale); metrics come back in the data's own
//! units, and reconstructions are mapped back to them.
use std::path::Path;

use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use crate::data::{load_matrix, DataInfo};
use crate::error::{Result, VqError};
use crate::infra::io::{create_dir, write_atomic, write_npy};
use crate::model::{ModelSpec, Params};
use crate::numerics::metrics::Metrics;

/// How a saved model was trained, beside its manifest.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TrainedBy {
    /// The vqlab version and code fingerprint.
    pub provenance: crate::infra::provenance::Provenance,
    /// Every setting of the run ([`crate::train::TrainConfig::full_json`]).
    pub config: serde_json::Value,
    /// Where the learning rates came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rates: Option<crate::train::rates::RateOrigin>,
    /// Set when the run was stopped early (Ctrl-C): the parameters are those
    /// after this many steps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted_at: Option<usize>,
}

/// The manifest of a saved model (`params.json`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    /// The model and its own hyperparameters.
    #[serde(with = "crate::model::own_fields")]
    pub model: ModelSpec,
    /// The method that trained it.
    pub method: String,
    /// Data dimension D.
    pub dim: usize,
    /// Code dimension m.
    pub m: usize,
    /// Codebook size K.
    pub k: usize,
    /// Whether `mean.npy` is subtracted from new data.
    pub centered: bool,
    /// New data are divided by this after centring.
    pub scale: f64,
    /// The parameter files, in the model's order (E last).
    pub files: Vec<String>,
    /// How it was trained (absent in folders written by earlier builds).
    #[serde(default, skip_serializing_if = "Option::is_none", flatten)]
    pub trained_by: Option<TrainedBy>,
}

/// Parameters with their data preparation, ready for new data.
#[derive(Debug, Clone)]
pub struct SavedModel {
    /// What `params.json` says.
    pub manifest: Manifest,
    /// The parameters.
    pub params: Params,
    /// The training mean (when centred).
    pub mean: Option<Array1<f64>>,
}

/// Writes `params` and the preparation of `data` into `dir`.
pub fn save(
    dir: &Path,
    params: &Params,
    data: &DataInfo,
    mean: Option<&Array1<f64>>,
    method: &str,
    trained_by: Option<TrainedBy>,
) -> Result<()> {
    create_dir(dir)?;
    let mut files = Vec::new();
    for (info, w) in params.layout().iter().zip(&params.weights) {
        let name = format!("{}.npy", info.name);
        write_npy(&dir.join(&name), w)?;
        files.push(name);
    }
    write_npy(&dir.join("E.npy"), &params.codebook)?;
    files.push("E.npy".into());
    if let Some(mean) = mean {
        write_npy(&dir.join("mean.npy"), mean)?;
    }
    let manifest = Manifest {
        model: params.model,
        method: method.to_string(),
        dim: params.dim(),
        m: params.code_dim(),
        k: params.codebook.nrows(),
        centered: mean.is_some(),
        scale: data.scale,
        files,
        trained_by,
    };
    let text = serde_json::to_string_pretty(&manifest).expect("a manifest serializes");
    write_atomic(&dir.join("params.json"), format!("{text}\n").as_bytes())
}

fn bad(dir: &Path, message: impl Into<String>) -> VqError {
    VqError::Data {
        path: dir.to_path_buf(),
        message: message.into(),
    }
}

/// Reads a model written by [`save`] (`vqlab train --save-params`).
pub fn load(dir: &Path) -> Result<SavedModel> {
    let manifest_path = dir.join("params.json");
    if !manifest_path.exists() {
        // A multi-method `train --save-params` folder: one subfolder each.
        let mut inner: Vec<String> = std::fs::read_dir(dir)
            .into_iter()
            .flatten()
            .flatten()
            .filter(|e| e.path().join("params.json").exists())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        inner.sort();
        if !inner.is_empty() {
            return Err(bad(
                dir,
                format!(
                    "no params.json here; it holds one saved model per method: give one of {}",
                    inner
                        .iter()
                        .map(|n| dir.join(n).display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
    }
    let text = std::fs::read_to_string(&manifest_path).map_err(|error| VqError::Io {
        path: manifest_path.clone(),
        error,
    })?;
    let manifest: Manifest = serde_json::from_str(&text).map_err(|e| {
        bad(
            &manifest_path,
            format!("not a params.json written by `vqlab train --save-params`: {e}"),
        )
    })?;
    let read = |name: &str| load_matrix(&dir.join(name));
    let layout = manifest.model.layout(manifest.dim, manifest.m);
    if manifest.files.len() != layout.len() + 1 {
        return Err(bad(
            &manifest_path,
            format!(
                "{} parameter files listed, the {} model has {}",
                manifest.files.len(),
                manifest.model.kind.name(),
                layout.len() + 1
            ),
        ));
    }
    let weights = layout
        .iter()
        .map(|info| read(&format!("{}.npy", info.name)))
        .collect::<Result<Vec<_>>>()?;
    let params = Params {
        model: manifest.model,
        weights,
        codebook: read("E.npy")?,
    };
    params.check_shapes().map_err(|e| bad(dir, e.to_string()))?;
    if params.codebook.dim() != (manifest.k, manifest.m) {
        return Err(bad(
            dir,
            format!(
                "E.npy is {}x{}, params.json says {}x{}",
                params.codebook.nrows(),
                params.codebook.ncols(),
                manifest.k,
                manifest.m
            ),
        ));
    }
    let mean = if manifest.centered {
        use ndarray_npy::ReadNpyExt;
        let path = dir.join("mean.npy");
        let file = std::fs::File::open(&path).map_err(|error| VqError::Io {
            path: path.clone(),
            error,
        })?;
        let m = Array1::<f64>::read_npy(std::io::BufReader::new(file))
            .map_err(|e| bad(&path, format!("not a 1-D float64 .npy: {e}")))?;
        if m.len() != manifest.dim {
            return Err(bad(
                dir,
                format!(
                    "mean.npy has {} values, the data dimension is {}",
                    m.len(),
                    manifest.dim
                ),
            ));
        }
        Some(m)
    } else {
        None
    };
    if !(manifest.scale > 0.0 && manifest.scale.is_finite()) {
        return Err(bad(
            &manifest_path,
            format!("scale = {} is not a positive number", manifest.scale),
        ));
    }
    Ok(SavedModel {
        manifest,
        params,
        mean,
    })
}

impl SavedModel {
    /// New data prepared as the training data were: minus the training mean,
    /// divided by the scale. The width must be the model's D.
    pub fn prepare(&self, x: ArrayView2<f64>, path: &Path) -> Result<Array2<f64>> {
        if x.ncols() != self.manifest.dim {
            return Err(bad(
                path,
                format!(
                    "{} columns per row, the model was trained on {}",
                    x.ncols(),
                    self.manifest.dim
                ),
            ));
        }
        let mut prepared = x.to_owned();
        if let Some(mean) = &self.mean {
            prepared -= mean;
        }
        if self.manifest.scale != 1.0 {
            prepared /= self.manifest.scale;
        }
        Ok(prepared)
    }

    /// The metrics of the model on `x` (raw data), in the data's units.
    pub fn evaluate(&self, x: ArrayView2<f64>, path: &Path) -> Result<Metrics> {
        let prepared = self.prepare(x, path)?;
        Ok(self
            .params
            .evaluate(prepared.view())
            .in_units(self.manifest.scale))
    }

    /// The code of every row of `x` (raw data) and its quantized
    /// reconstruction, in the data's units.
    pub fn encode(&self, x: ArrayView2<f64>, path: &Path) -> Result<(Vec<usize>, Array2<f64>)> {
        let prepared = self.prepare(x, path)?;
        let (codes, recon) = self.params.reconstruct(prepared.view());
        let mut recon = recon * self.manifest.scale;
        if let Some(mean) = &self.mean {
            recon += mean;
        }
        Ok((codes, recon))
    }
}
