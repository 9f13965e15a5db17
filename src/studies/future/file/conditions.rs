//! The `[[condition]]`s of a study file: a data set with its sizes, a list
//! of K expanded into one condition per K, names with `{k}`, `{noise}` and
//! `{sigma}` filled in, and the value a condition stands at on a plot's x
//! axis.
use std::path::Path;

use serde::Deserialize;

use super::data::DataSpec;
use super::{bad, line_of, PerScale, Size};
use crate::error::Result;
use crate::studies::future::studies::noise_share;
use crate::studies::future::unit::{DataChoice, Sizes};

/// One K, or a list of them (one condition per K).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Ks {
    /// One K.
    One(usize),
    /// One condition per K, in this order.
    Many(Vec<usize>),
}

impl Ks {
    fn values(&self) -> Vec<usize> {
        match self {
            Ks::One(k) => vec![*k],
            Ks::Many(ks) => ks.clone(),
        }
    }
}

/// K as written: `32`, `[16, 64]`, or their full and `--quick` forms.
pub type KSpec = PerScale<Ks>;

/// What a condition's point on the study's plot is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum XAxis {
    /// Its K.
    K,
    /// The generator's noise share of the energy.
    NoiseShare,
}

/// One condition: a data set and its sizes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConditionSpec {
    /// A short handle hypotheses may name it by instead of its full name
    /// (not with a list of K).
    #[serde(default)]
    pub id: Option<String>,
    /// Its name in tables and hypotheses (default: the data's name and K,
    /// `digits K=32`); `{k}` in it stands for K at the scale run, and with
    /// the generator `{noise}` for the noise share in % (one decimal) and
    /// `{sigma}` for σ (four decimals).
    #[serde(default)]
    pub name: Option<String>,
    /// The data.
    pub data: DataSpec,
    /// Codebook size K; a list makes one condition per K.
    pub k: KSpec,
    /// Code dimension m.
    pub m: Size,
    /// Mini-batch size B.
    pub batch: Size,
    /// Training steps.
    pub steps: Size,
    /// The study's plot puts this condition at its `k` or its
    /// `noise-share` [default: not on a plot].
    #[serde(default)]
    pub x: Option<XAxis>,
}

/// A condition, planned: what the study trains on.
#[derive(Debug, Clone)]
pub(super) struct Planned {
    /// Its handle, if the file gave one.
    pub id: Option<String>,
    /// Its name.
    pub name: String,
    /// The data.
    pub data: DataChoice,
    /// K, m, batch, steps.
    pub sizes: Sizes,
    /// Its point on the plot's x axis.
    pub x: Option<f64>,
}

impl ConditionSpec {
    /// Its conditions at full or `quick` scale (one per K), checked
    /// against the data.
    pub(super) fn plan(
        &self,
        path: &Path,
        text: &str,
        folder: &Path,
        data_dir: &Path,
        quick: bool,
    ) -> Result<Vec<Planned>> {
        let at = |needle: &str| line_of(text, needle);
        let ks = self.k.pick(quick).values();
        if ks.is_empty() {
            return Err(bad(path, at("k ="), "k = []: at least one K"));
        }
        if ks.len() > 1 && self.id.is_some() {
            return Err(bad(
                path,
                at("id ="),
                "a condition with a list of K has no id (name each by its K: \"… K={k}\")",
            ));
        }
        // What needs the generator is refused before any data is read.
        if self.data.generator.is_none() {
            if let Some(n) = self
                .name
                .as_deref()
                .filter(|n| n.contains("{noise}") || n.contains("{sigma}"))
            {
                return Err(bad(
                    path,
                    at(n),
                    "{noise} and {sigma} in a name stand for the generator's noise",
                ));
            }
            if self.x == Some(XAxis::NoiseShare) {
                return Err(bad(
                    path,
                    at("x ="),
                    "x = \"noise-share\" goes with the generator",
                ));
            }
        }
        let data = self.data.choice(path, text, folder, data_dir, quick)?;
        let mut planned = Vec::new();
        for k in ks {
            let sizes = Sizes {
                k,
                m: self.m.at("m", quick),
                batch: self.batch.at("batch", quick),
                steps: self.steps.at("steps", quick),
            };
            for (field, v) in [
                ("k", sizes.k),
                ("m", sizes.m),
                ("batch", sizes.batch),
                ("steps", sizes.steps),
            ] {
                if v == 0 {
                    return Err(bad(
                        path,
                        at(&format!("{field} =")),
                        format!("{field} = 0: at least 1"),
                    ));
                }
            }
            let n_fit = data.n_fit();
            for (field, v) in [("k", sizes.k), ("batch", sizes.batch)] {
                if v > n_fit {
                    return Err(bad(
                        path,
                        at(&format!("{field} =")),
                        format!(
                            "{field} = {v}: at most the {n_fit} rows trained on ({})",
                            data.name()
                        ),
                    ));
                }
            }
            let generator = match &data {
                DataChoice::Synthetic { spec, .. } => Some(spec),
                _ => None,
            };
            let name = match &self.name {
                None => format!("{} K={}", data.name(), sizes.k),
                Some(n) => {
                    let name = n.replace("{k}", &sizes.k.to_string());
                    match generator {
                        Some(spec) => name
                            .replace("{noise}", &format!("{:.1}", 100.0 * noise_share(spec)))
                            .replace("{sigma}", &format!("{:.4}", spec.noise_sigma)),
                        None => name,
                    }
                }
            };
            let x = match (self.x, generator) {
                (None, _) => None,
                (Some(XAxis::K), _) => Some(sizes.k as f64),
                (Some(XAxis::NoiseShare), Some(spec)) => Some(noise_share(spec)),
                (Some(XAxis::NoiseShare), None) => unreachable!("refused above"),
            };
            planned.push(Planned {
                id: self.id.clone(),
                name,
                data: data.clone(),
                sizes,
                x,
            });
        }
        Ok(planned)
    }
}
