//! `vqlab reproduce`: experiments 1–4 over many seeds, a verdict per claim.
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use crate::data::SyntheticSpec;
use crate::train::Init;

/// Arguments of `vqlab reproduce`.
#[derive(Args)]
pub struct ReproduceCmd {
    /// Seeds per configuration (0 … N−1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 10)]
    pub seeds: u64,
    /// A reduced run (2 seeds unless --seeds is given, one fifth of the steps)
    /// that finishes in seconds: for smoke tests, not for conclusions.
    #[arg(long)]
    pub quick: bool,
    /// Only these parts (comma-separated: exp1,exp2,exp3,exp4, and c2: the
    /// "Why C2" study).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub only: Vec<crate::studies::reproduce::runs::Experiment>,
    /// Output folder [default: results; with --quick, results-quick, so the
    /// smoke version never overwrites the committed results].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Worker threads; each run is single-threaded, so results do not depend
    /// on this.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Recompute every run even if a stored result matches.
    #[arg(long)]
    pub fresh: bool,
    /// Fix the initialisation instead of deciding it by measurement.
    #[arg(long, value_enum)]
    pub init: Option<Init>,
    /// Fix the batch size of experiments 2–4 instead of deciding it.
    #[arg(long)]
    pub batch: Option<usize>,
    /// A preset file written by `vqlab calibrate` (default: the compiled-in
    /// presets/report-calibrated.json).
    #[arg(long, value_name = "PATH")]
    pub preset: Option<PathBuf>,
    /// Compute only shard I of N of the units (1 ≤ I ≤ N), store them in the
    /// run store and render nothing; a later run without --shard renders
    /// from the store. Every shard must get the same other flags. Units are
    /// split by estimated cost. Without --batch, shards also compute
    /// experiments 3–4 at both candidate batch sizes (the choice needs all
    /// of experiment 2). Scheduler recipes: README, "Running on many
    /// machines".
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::study::shard::Shard>,
    /// The run store, one JSON file per unit (default: OUT/.runs, or
    /// $VQLAB_STORE). May be a shared filesystem that many shards write into
    /// at once.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Print the units (key, shard, estimated cost, configuration) as JSON
    /// lines and exit without computing; with --shard, only that shard's.
    #[arg(long)]
    pub plan: bool,
}

/// Runs `vqlab reproduce`.
pub fn execute(cmd: ReproduceCmd) -> Result<()> {
    use crate::studies::reproduce::ReproduceOptions;
    let out = super::output::out_dir(cmd.out.as_deref(), cmd.quick);
    let (data, data_source) = match &cmd.preset {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading preset {}", path.display()))?;
            let spec = SyntheticSpec::from_preset_json(&text).map_err(|e| {
                anyhow::anyhow!(
                    "{}: not a preset written by `vqlab calibrate`: {e}",
                    path.display()
                )
            })?;
            (spec, format!("the preset `{}`", path.display()))
        }
        None => (
            SyntheticSpec::report_default(),
            "the calibrated preset `presets/report-calibrated.json`".to_string(),
        ),
    };
    let options = ReproduceOptions {
        seeds: if cmd.quick && cmd.seeds == 10 {
            2
        } else {
            cmd.seeds
        },
        quick: cmd.quick,
        only: cmd.only.clone(),
        out_dir: out.clone(),
        jobs: cmd.jobs,
        fresh: cmd.fresh,
        init: cmd.init,
        batch: cmd.batch,
        data,
        data_source,
        store: crate::study::shard::store_dir(cmd.store.as_deref(), out.join(".runs")),
    };
    options.validate()?;
    let Some(summary) = super::output::drive(&options, cmd.plan, cmd.shard)? else {
        return Ok(());
    };
    let verdicts: Vec<String> = summary
        .claims
        .iter()
        .map(|c| format!("{} {}", c.id, c.verdict.label()))
        .collect();
    let outside = summary
        .cells
        .iter()
        .filter(|c| c.agrees == Some(false))
        .count();
    let checked = summary.cells.iter().filter(|c| c.agrees.is_some()).count();
    println!(
        "reproduce: {} runs ({} computed, {} reused) in {:.1} s; {} of {} checked cells outside the one-run prediction interval ({} not run); {}",
        summary.reused + summary.computed,
        summary.computed,
        summary.reused,
        summary.wall_seconds,
        outside,
        checked,
        summary.cells.len() - checked,
        verdicts.join(", ")
    );
    println!("wrote {}", out.join("REPORT.md").display());
    Ok(())
}
