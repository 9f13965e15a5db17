//! `vqlab data export`: the synthetic generator's train and eval data as
//! `.npy`, for checking vqlab's numbers with other tools.
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::args::DataOpts;

/// The `data` subcommands.
#[derive(Subcommand)]
pub enum DataCmd {
    /// Write the synthetic train and eval data of a seed as train.npy and
    /// eval.npy (and the generator's parameters as data.json).
    Export(ExportCmd),
}

/// Arguments of `vqlab data export`.
#[derive(Args)]
pub struct ExportCmd {
    #[command(flatten)]
    pub data: DataOpts,
    /// Output folder.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs a `data` subcommand.
pub fn execute(cmd: DataCmd) -> Result<()> {
    match cmd {
        DataCmd::Export(cmd) => {
            if cmd.data.data.is_some() {
                anyhow::bail!("invalid data = {}: `data export` writes the synthetic generator's data; leave --data out", cmd.data.data.as_ref().map(|p| p.display().to_string()).unwrap_or_default());
            }
            let args = cmd.data.to_args(20_000, 4_000)?;
            let data = args.load()?;
            crate::infra::io::create_dir(&cmd.out)?;
            crate::infra::io::write_npy(&cmd.out.join("train.npy"), &data.train)?;
            crate::infra::io::write_npy(&cmd.out.join("eval.npy"), &data.eval)?;
            let info = serde_json::to_string_pretty(&data.describe())?;
            crate::infra::io::write_atomic(
                &cmd.out.join("data.json"),
                format!("{info}\n").as_bytes(),
            )?;
            println!(
                "wrote {} ({} × {}) and {} ({} × {})",
                cmd.out.join("train.npy").display(),
                data.train.nrows(),
                data.dim(),
                cmd.out.join("eval.npy").display(),
                data.eval.nrows(),
                data.dim()
            );
            Ok(())
        }
    }
}
