//! `vqlab future`: the report's future work as studies F1–F6.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use crate::studies::future::studies::StudyId;
use crate::studies::future::FutureOptions;

/// Arguments of `vqlab future`.
#[derive(Args)]
pub struct FutureCmd {
    /// Only these studies (comma-separated): F1 real data, F2 MLP encoders,
    /// F3 optimizers, F4 scale, F5 NSVQ / Gumbel, F6 noise. Default: all.
    #[arg(long, value_enum, value_delimiter = ',', ignore_case = true)]
    pub only: Vec<StudyId>,
    /// Seeds per arm (0 … N−1); at least 2.
    #[arg(long, default_value_t = 5)]
    pub seeds: u64,
    /// The smoke version (few steps, small sizes, a 2-point learning-rate
    /// grid, 2 seeds unless --seeds is given): under 2 minutes, for tests;
    /// its verdicts are not conclusions.
    #[arg(long)]
    pub quick: bool,
    /// Where the real data sets are (what ./data-setup.sh installs; the
    /// tests use the slice in tests/data). Default: $VQLAB_DATA, else ./data.
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output folder (FUTURE.md, future.json, future_curves.csv, SVG plots)
    /// [default: results; with --quick, results-quick, so the smoke version
    /// never overwrites the committed results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub run: super::args::StoreOpts,
}

/// Runs `vqlab future`.
pub fn execute(cmd: FutureCmd) -> Result<()> {
    let out = super::output::out_dir(cmd.out.as_deref(), cmd.quick);
    let seeds = if cmd.quick && cmd.seeds == 5 {
        2
    } else {
        cmd.seeds
    };
    let data_dir = super::args::data_dir(cmd.data_dir.as_deref());
    let options = FutureOptions {
        studies: cmd.only.clone(),
        seeds,
        quick: cmd.quick,
        out_dir: out.clone(),
        jobs: cmd.run.jobs,
        fresh: cmd.run.fresh,
        data_dir,
        store: crate::study::shard::store_dir(cmd.run.store.as_deref(), out.join(".runs")),
        user: None,
    };
    options.validate()?;
    let Some(summary) = super::output::drive(&options, cmd.run.plan, cmd.run.shard)? else {
        return Ok(());
    };
    crate::studies::future::write_outputs(&summary, &out)?;
    let verdicts: Vec<String> = summary
        .hypotheses
        .iter()
        .map(|h| format!("{} {}", h.claim.id, h.claim.label))
        .collect();
    println!(
        "future: {} units ({} computed, {} reused) in {:.1} s; {}",
        summary.units,
        summary.computed,
        summary.reused,
        summary.wall_seconds,
        verdicts.join(", ")
    );
    println!("wrote {}", out.join("FUTURE.md").display());
    Ok(())
}
