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
    /// Output folder (FUTURE.md, future.json, future_curves.csv, SVG plots).
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,
    /// Worker threads; each run is single-threaded, so results do not depend
    /// on this.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Recompute every unit even if a stored result matches.
    #[arg(long)]
    pub fresh: bool,
    /// Compute only shard I of N of the units (1 ≤ I ≤ N) into the run
    /// store and render nothing; a run without --shard (same flags, same
    /// store) renders. Units are split by estimated cost.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::study::shard::Shard>,
    /// The run store (default: OUT/.runs, or $VQLAB_STORE), shared with
    /// `reproduce`; may be a shared filesystem.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Print the units (key, shard, estimated cost, configuration) as JSON
    /// lines and exit without computing.
    #[arg(long)]
    pub plan: bool,
}

/// Runs `vqlab future`.
pub fn execute(cmd: FutureCmd) -> Result<()> {
    let seeds = if cmd.quick && cmd.seeds == 5 {
        2
    } else {
        cmd.seeds
    };
    let data_dir = cmd
        .data_dir
        .clone()
        .or_else(|| std::env::var_os("VQLAB_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"));
    let options = FutureOptions {
        studies: cmd.only.clone(),
        seeds,
        quick: cmd.quick,
        out_dir: cmd.out.clone(),
        jobs: cmd.jobs,
        fresh: cmd.fresh,
        data_dir,
        store: crate::study::shard::store_dir(cmd.store.as_deref(), cmd.out.join(".runs")),
    };
    options.validate()?;
    let Some(summary) = super::output::drive(&options, cmd.plan, cmd.shard)? else {
        return Ok(());
    };
    crate::studies::future::write_outputs(&summary, &cmd.out)?;
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
    println!("wrote {}", cmd.out.join("FUTURE.md").display());
    Ok(())
}
