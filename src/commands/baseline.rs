//! `vqlab baseline`: PCA + Lloyd on the synthetic data or a data file.
use clap::Args;

use super::args::DataOpts;
use super::data_args::DataArgs;
use super::output::{print_json_one_or_many, progress_bar};
use crate::baseline::report::{run_on, BaselineReport};
use crate::error::{invalid, Result};

/// Loads the data once and runs the baseline for every K in `ks`, calling
/// `progress` after each.
pub fn run(
    data_args: &DataArgs,
    m: usize,
    ks: &[usize],
    kmeans_iters: usize,
    mut progress: impl FnMut(usize),
) -> Result<Vec<BaselineReport>> {
    if ks.is_empty() {
        return Err(invalid("k", "(none)", "at least one codebook size"));
    }
    let data = data_args.load()?;
    let mut out = Vec::with_capacity(ks.len());
    for (i, &k) in ks.iter().enumerate() {
        out.push(run_on(&data, m, k, kmeans_iters, data_args.seed)?);
        progress(i + 1);
    }
    Ok(out)
}

/// Arguments of `vqlab baseline`.
#[derive(Args)]
pub struct BaselineCmd {
    /// Codebook size K; a comma-separated list runs each (e.g. 8,16,32,64).
    /// The default is `train`'s, the report's experiment 1.
    #[arg(long, value_delimiter = ',', default_value = "16")]
    pub k: Vec<usize>,
    /// Code dimension m (encoder width).
    #[arg(long, allow_negative_numbers = true, default_value_t = 4)]
    pub m: usize,
    /// Lloyd iterations after k-means++ seeding.
    #[arg(long, default_value_t = 20)]
    pub kmeans_iters: usize,
    #[command(flatten)]
    pub data: DataOpts,
    /// Print JSON (config + metrics) instead of a table. One K: an object;
    /// several: an array of objects.
    #[arg(long)]
    pub json: bool,
}

/// Runs `vqlab baseline`.
pub fn execute(cmd: BaselineCmd) -> anyhow::Result<()> {
    let bar = progress_bar(cmd.k.len() as u64, "baseline");
    let reports = run(
        &cmd.data.to_args(20_000, 4_000)?,
        cmd.m,
        &cmd.k,
        cmd.kmeans_iters,
        |i| bar.set_position(i as u64),
    )?;
    bar.finish_and_clear();
    if cmd.json {
        print_json_one_or_many(&reports)
    } else {
        print_table(&reports);
        Ok(())
    }
}

fn print_table(reports: &[BaselineReport]) {
    use crate::train::significant as sig;
    if let Some(first) = reports.first() {
        let c = &first.config;
        println!(
            "PCA + Lloyd baseline: D={} m={} N_train={} N_eval={} seed={} kmeans_iters={} centred={} scaled by {} ({}); metrics in the data's units",
            c.dim, c.m, c.n_train, c.n_eval, c.seed, c.kmeans_iters, c.centered, sig(c.scale), c.scaling.name()
        );
    }
    println!(
        "{:>5} {:>11} {:>11} {:>11} {:>11} {:>9} {:>8} {:>10} {:>6}",
        "K", "recon_mse", "recon/D", "insub", "residual", "entropy", "util", "perplexity", "dead"
    );
    for r in reports {
        let m = &r.metrics;
        println!(
            "{:>5} {:>11} {:>11} {:>11} {:>11} {:>9} {:>7.1}% {:>10.2} {:>5.1}%",
            r.config.k,
            sig(m.recon_mse),
            sig(m.recon_mse / r.config.dim as f64),
            sig(m.insub_distortion),
            m.residual.map_or("-".to_string(), sig),
            sig(m.usage_entropy),
            100.0 * m.utilization + 0.0,
            m.perplexity,
            100.0 * m.dead_code_fraction + 0.0
        );
    }
}
