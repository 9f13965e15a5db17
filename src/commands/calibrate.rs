//! `vqlab calibrate`: fit the synthetic generator to the report's baseline rows.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::output::progress_bar;

/// Arguments of `vqlab calibrate`.
#[derive(Args)]
pub struct CalibrateCmd {
    /// Seeds the objective averages over (0 … N−1), run in parallel; the
    /// default matches `reproduce`'s seeds.
    #[arg(long, allow_negative_numbers = true, default_value_t = 10)]
    pub seeds: u64,
    /// Decays ρ per grid pass (a coarse pass over (0.3, 1], then a fine pass
    /// around the best).
    #[arg(long, default_value_t = 15)]
    pub grid: usize,
    /// Spectrum families to try (the best fit wins).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "geometric,power-law"
    )]
    pub family: Vec<crate::calibrate::SpectrumFamily>,
    /// Where to write the preset (JSON). The built-in default is compiled
    /// from presets/report-calibrated.json: rebuild after rewriting it.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "presets/report-calibrated.json"
    )]
    pub out: PathBuf,
    /// Print the calibration as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Runs `vqlab calibrate`.
pub fn execute(cmd: CalibrateCmd) -> Result<()> {
    use crate::calibrate::{calibrate, CalibrationTarget};
    if cmd.seeds == 0 {
        anyhow::bail!("invalid seeds = 0: at least 1");
    }
    let seeds: Vec<u64> = (0..cmd.seeds).collect();
    let bar = progress_bar(
        ((cmd.family.len() + 1) * cmd.grid) as u64,
        "calibrate (decays tried)",
    );
    let started = std::time::Instant::now();
    let mut fit = calibrate(
        &CalibrationTarget::report(),
        &cmd.family,
        &seeds,
        cmd.grid,
        |n| bar.set_position(n as u64),
    )?;
    bar.finish_and_clear();
    let families: Vec<String> = cmd.family.iter().map(|f| format!("{f:?}")).collect();
    fit.command = format!(
        "vqlab calibrate --seeds {} --grid {} --family {}",
        cmd.seeds,
        cmd.grid,
        families
            .join(",")
            .to_lowercase()
            .replace("powerlaw", "power-law")
    );
    let text = serde_json::to_string_pretty(&fit)?;
    if let Some(dir) = cmd.out.parent().filter(|d| !d.as_os_str().is_empty()) {
        crate::io::create_dir(dir)?;
    }
    crate::io::write_atomic(&cmd.out, format!("{text}\n").as_bytes())?;
    if cmd.json {
        println!("{text}");
        return Ok(());
    }
    let p = &fit.params;
    println!(
        "fitted ({:?}): a = {:.5}, ρ = s2/s1 = {:.5}, σ = {:.5}  →  spectrum {:?}",
        p.family,
        p.scale,
        p.decay,
        p.noise_sigma,
        fit.spec
            .spectrum
            .iter()
            .map(|v| (v * 1e4).round() / 1e4)
            .collect::<Vec<_>>()
    );
    println!(
        "{:>4} {:<17} {:>9} {:>9} {:>9}",
        "K", "metric", "report", "fitted", "rel"
    );
    for c in &fit.cells {
        println!(
            "{:>4} {:<17} {:>9.4} {:>9.4} {:>8.3}%",
            c.k,
            c.metric,
            c.target,
            c.fitted,
            100.0 * c.rel_residual
        );
    }
    println!(
        "max |rel residual| {:.3}%, objective {:.3e}, {} simulations over {} seeds, {:.0} s; written to {}",
        100.0 * fit.max_abs_rel_residual,
        fit.objective,
        fit.evaluations,
        seeds.len(),
        started.elapsed().as_secs_f64(),
        cmd.out.display()
    );
    Ok(())
}
