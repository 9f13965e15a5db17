//! `vqlab data export`: the prepared train and eval rows (the generator's,
//! or a data file's or set's split, centred and scaled) as `.npy`, for
//! checking vqlab's numbers with other tools; `vqlab data patches`: a
//! generated pixel-scale data set.
use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::args::DataOpts;

/// The `data` subcommands.
#[derive(Subcommand)]
pub enum DataCmd {
    /// Write the train and eval rows a `train` run with the same data flags
    /// uses (the generator's draw, or the split of --data / --set after
    /// centring and scaling) as train.npy and eval.npy, the training mean as
    /// mean.npy (when centred), and their description as data.json (scale,
    /// split, source): the same rows, for PyTorch or NumPy. The eval rows in
    /// the data's own units (centring and scaling undone) go to
    /// eval_raw.npy: what `vqlab evaluate` and `vqlab encode` take.
    Export(Box<ExportCmd>),
    /// Write a generated pixel-scale data set: 8 × 8 patches, integers
    /// 0–255, most of the energy in the mean brightness (as natural-image
    /// patches), as CSV or .npy (by the extension).
    Patches(PatchesCmd),
}

/// Arguments of `vqlab data patches`.
#[derive(Args)]
pub struct PatchesCmd {
    /// Rows (patches).
    #[arg(long, default_value_t = 6000)]
    pub rows: usize,
    /// Side of a patch in pixels (D = side²).
    #[arg(long, default_value_t = 8)]
    pub side: usize,
    /// Seed.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file (.csv or .npy).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
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
        DataCmd::Patches(cmd) => {
            if cmd.rows == 0 || cmd.side == 0 {
                anyhow::bail!(
                    "invalid rows = {}, side = {}: both at least 1",
                    cmd.rows,
                    cmd.side
                );
            }
            let x = crate::data::patches::pixel_patches(cmd.rows, cmd.side, cmd.seed);
            match cmd.out.extension().and_then(|e| e.to_str()) {
                Some("npy") => crate::infra::io::write_npy(&cmd.out, &x)?,
                Some("csv") => {
                    let mut text = String::new();
                    for row in x.outer_iter() {
                        let cells: Vec<String> = row.iter().map(|v| format!("{v}")).collect();
                        text.push_str(&cells.join(","));
                        text.push('\n');
                    }
                    crate::infra::io::write_atomic(&cmd.out, text.as_bytes())?;
                }
                _ => anyhow::bail!("invalid out = {}: a .csv or .npy file", cmd.out.display()),
            }
            println!(
                "wrote {} ({} × {})",
                cmd.out.display(),
                x.nrows(),
                x.ncols()
            );
            Ok(())
        }
        DataCmd::Export(cmd) => {
            let args = cmd.data.to_args(20_000, 4_000)?;
            let data = args.load()?;
            crate::infra::io::create_dir(&cmd.out)?;
            crate::infra::io::write_npy(&cmd.out.join("train.npy"), &data.train)?;
            crate::infra::io::write_npy(&cmd.out.join("eval.npy"), &data.eval)?;
            let mut raw = &data.eval * data.scale;
            if let Some(mean) = &data.mean {
                crate::infra::io::write_npy(&cmd.out.join("mean.npy"), mean)?;
                raw += mean;
            }
            crate::infra::io::write_npy(&cmd.out.join("eval_raw.npy"), &raw)?;
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
