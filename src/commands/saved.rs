//! `vqlab evaluate` and `vqlab encode`: saved parameters on new data.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;
use serde::Serialize;

use crate::data::load_matrix_with;
use crate::numerics::metrics::Metrics;
use crate::train::saved::{load, Manifest};

/// Arguments of `vqlab evaluate`.
#[derive(Args)]
pub struct EvaluateCmd {
    /// A folder written by `vqlab train --save-params`.
    #[arg(long, value_name = "DIR")]
    pub params: PathBuf,
    /// Data to evaluate on (.npy or .csv, one sample per row, in the units
    /// of the training data: centring and scaling are applied as in
    /// training). Every row is used: to score the held-out rows of a
    /// `train --data FILE` run, write them with `vqlab data export --data
    /// FILE` (same --seed) or train with --eval-data.
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// The CSV delimiter [default: detected].
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `vqlab encode`.
#[derive(Args)]
pub struct EncodeCmd {
    /// A folder written by `vqlab train --save-params`.
    #[arg(long, value_name = "DIR")]
    pub params: PathBuf,
    /// Data to encode (.npy or .csv, one sample per row).
    #[arg(long, value_name = "PATH")]
    pub data: PathBuf,
    /// The CSV delimiter [default: detected].
    #[arg(long)]
    pub delimiter: Option<char>,
    /// Where to write codes.npy (int64, one code index per row) and
    /// reconstruction.npy (the decoded nearest code of every row, in the
    /// data's units).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct Evaluation<'a> {
    params: &'a Manifest,
    data: String,
    rows: usize,
    metrics: Metrics,
    recon_mse_per_coordinate: f64,
}

fn delimiter(c: Option<char>) -> Result<Option<u8>> {
    match c {
        None => Ok(None),
        Some(c) if c.is_ascii() => Ok(Some(c as u8)),
        Some(c) => anyhow::bail!("invalid delimiter = {c:?}: one ASCII character"),
    }
}

/// Runs `vqlab evaluate`.
pub fn execute_evaluate(cmd: EvaluateCmd) -> Result<()> {
    let model = load(&cmd.params)?;
    let x = load_matrix_with(&cmd.data, delimiter(cmd.delimiter)?)?;
    let metrics = model.evaluate(x.view(), &cmd.data)?;
    let out = Evaluation {
        params: &model.manifest,
        data: cmd.data.display().to_string(),
        rows: x.nrows(),
        metrics,
        recon_mse_per_coordinate: metrics.recon_mse / model.manifest.dim as f64,
    };
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        use crate::train::significant as sig;
        println!(
            "{} on {} ({} rows): recon_mse {} (per coordinate {}), insub {}, entropy {}, utilization {:.1} %, dead codes {:.1} %",
            model.manifest.method,
            out.data,
            out.rows,
            sig(metrics.recon_mse),
            sig(out.recon_mse_per_coordinate),
            sig(metrics.insub_distortion),
            sig(metrics.usage_entropy),
            100.0 * metrics.utilization + 0.0,
            100.0 * metrics.dead_code_fraction + 0.0
        );
    }
    Ok(())
}

/// Runs `vqlab encode`.
pub fn execute_encode(cmd: EncodeCmd) -> Result<()> {
    let model = load(&cmd.params)?;
    let x = load_matrix_with(&cmd.data, delimiter(cmd.delimiter)?)?;
    let (codes, recon) = model.encode(x.view(), &cmd.data)?;
    crate::infra::io::create_dir(&cmd.out)?;
    let codes = ndarray::Array1::from_iter(codes.iter().map(|&c| c as i64));
    crate::infra::io::write_npy(&cmd.out.join("codes.npy"), &codes)?;
    crate::infra::io::write_npy(&cmd.out.join("reconstruction.npy"), &recon)?;
    println!(
        "wrote {} and {} ({} rows)",
        cmd.out.join("codes.npy").display(),
        cmd.out.join("reconstruction.npy").display(),
        x.nrows()
    );
    Ok(())
}
