//! `vqlab gradients`: the gradient-quality study (GRADIENTS.md).
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::studies::gradients::{render, GradientsOptions};

/// Arguments of `vqlab gradients`.
#[derive(Args)]
pub struct GradientsCmd {
    /// Seeds per model on the generator (0 … N−1; digits and MNIST take at
    /// most 3 of them); at least 2.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// The smoke version (short runs, 20,000 generator rows, 50 batches, 2
    /// seeds unless --seeds is given; with --data-dir tests/data the real
    /// sets' test slice): seconds, for tests; its verdicts are not
    /// conclusions.
    #[arg(long)]
    pub quick: bool,
    /// Output folder (GRADIENTS.md, gradients.json, the SVG charts)
    /// [default: results; with --quick, results-quick].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Where digits and MNIST are (what ./data-setup.sh installs; the tests
    /// use the slice in tests/data). Default: $VQLAB_DATA, else ./data.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// FUTURE.md's numbers, for G5 (the arms' final gains) [default:
    /// future.json in the output folder]; G5 is not run without them.
    #[arg(long, value_name = "PATH")]
    pub future: Option<PathBuf>,
    #[command(flatten)]
    pub run: super::args::StoreOpts,
}

/// Runs `vqlab gradients`.
pub fn execute(cmd: GradientsCmd) -> Result<()> {
    let out = super::output::out_dir(cmd.out.as_deref(), cmd.quick);
    let seeds = if cmd.quick && cmd.seeds == 5 {
        2
    } else {
        cmd.seeds
    };
    let options = GradientsOptions {
        quick: cmd.quick,
        seeds,
        jobs: cmd.run.jobs,
        fresh: cmd.run.fresh,
        store: crate::study::shard::store_dir(cmd.run.store.as_deref(), out.join(".runs")),
        future: cmd
            .future
            .clone()
            .unwrap_or_else(|| out.join("future.json")),
        data_dir: super::args::data_dir(cmd.data_dir.as_deref()),
    };
    options.validate()?;
    let Some(summary) = super::output::drive(&options, cmd.run.plan, cmd.run.shard)? else {
        return Ok(());
    };
    render::write_all(&summary, &out)?;
    let verdicts: Vec<String> = summary
        .claims
        .iter()
        .map(|c| format!("{} {}", c.id, c.label))
        .collect();
    println!(
        "gradients: {} units ({} computed, {} reused) in {:.1} s; {}",
        summary.units,
        summary.computed,
        summary.reused,
        summary.wall_seconds,
        verdicts.join(", ")
    );
    println!("wrote {}", out.join("GRADIENTS.md").display());
    Ok(())
}
