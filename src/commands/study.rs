//! `vqlab study FILE`: a study written as a file (TOML or JSON) — your data,
//! sizes, seeds, arms and hypotheses — run with the run store, shards,
//! learning rates chosen on validation rows, tuned baselines and the shared
//! verdict rules; writes STUDY.md, study.json, study_curves.csv and a plot.
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Result;
use clap::Args;

use crate::studies::future::file::StudyFile;
use crate::studies::future::FutureOptions;

/// Arguments of `vqlab study`.
#[derive(Args)]
pub struct StudyCmd {
    /// The study file (.toml or .json; see examples/my-data.toml and the
    /// README). Data paths in it are relative to its folder.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// The smoke version: 2 seeds, at most 40 steps, a 2-point learning-rate
    /// grid; seconds, for checking a file before the real run. Its verdicts
    /// are not conclusions.
    #[arg(long)]
    pub quick: bool,
    /// Seeds, overriding the file's (at least 2).
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Where a `set = "digits"`, `"mnist"` or `"photos"` is read from
    /// [default: $VQLAB_DATA, else ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output folder [default: FILE's name without extension, then
    /// `-results` (`-quick` with --quick), beside FILE].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub run: super::args::StoreOpts,
}

/// Runs `vqlab study`.
pub fn execute(cmd: StudyCmd) -> Result<()> {
    // Everything is checked before anything runs or is written.
    let (file, text) = StudyFile::read(&cmd.file)?;
    let data_dir = super::args::data_dir(cmd.data_dir.as_deref());
    let study = file.into_study(&cmd.file, &text, &data_dir, cmd.quick)?;
    let seeds = match (cmd.seeds, cmd.quick) {
        (Some(s), _) => s,
        (None, true) => 2,
        (None, false) => study.seeds,
    };
    let out = cmd.out.clone().unwrap_or_else(|| {
        let stem = cmd
            .file
            .file_stem()
            .map_or("study".into(), |s| s.to_string_lossy().into_owned());
        let folder = cmd.file.parent().unwrap_or(std::path::Path::new("."));
        folder.join(format!(
            "{stem}-{}",
            if cmd.quick { "quick" } else { "results" }
        ))
    });
    let options = FutureOptions {
        studies: Vec::new(),
        seeds,
        quick: cmd.quick,
        out_dir: out.clone(),
        jobs: cmd.run.jobs,
        fresh: cmd.run.fresh,
        data_dir,
        store: crate::study::shard::store_dir(cmd.run.store.as_deref(), out.join(".runs")),
        user: Some(Arc::new(study)),
    };
    options.validate()?;
    let Some(summary) = super::output::drive(&options, cmd.run.plan, cmd.run.shard)? else {
        return Ok(());
    };
    crate::studies::future::write_outputs(&summary, &out)?;
    for h in &summary.hypotheses {
        println!("{} {}: {}", h.claim.id, h.claim.label, h.claim.text);
    }
    println!(
        "study: {} units ({} computed, {} reused) in {:.1} s; wrote {}",
        summary.units,
        summary.computed,
        summary.reused,
        summary.wall_seconds,
        out.join("STUDY.md").display()
    );
    Ok(())
}
