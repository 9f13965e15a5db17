//! `vqlab`: the command-line front of the vqlab library. Parses arguments,
//! calls the library, prints; errors become a message and exit status 2.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use vqlab::commands::baseline::BaselineReport;
use vqlab::commands::data_args::DataArgs;
use vqlab::data::SyntheticSpec;

/// A laboratory for VQ-VAE gradient estimators on a linear Stiefel VQ model.
///
/// Reproduces the report in shared/seeds/ (see SPEC.md): the PCA + Lloyd
/// baseline, autograd (libtorch) and hand-derived (ndarray) gradients, and a
/// step-by-step comparison of the two.
#[derive(Parser)]
#[command(name = "vqlab", version, about, long_about)]
struct Cli {
    /// Threads for libtorch and OpenBLAS (0: the libraries' defaults).
    #[arg(long, global = true, default_value_t = 0)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// PCA + Lloyd baseline: W = top-m principal directions, E = k-means++
    /// seeding then Lloyd iterations on the codes Z = XW. Prints eval metrics.
    Baseline(BaselineCmd),
}

/// Where the data come from. Without --data, the synthetic generator of
/// SPEC.md (x = U diag(s) g + σ n, D = 64, rank 6).
#[derive(Args, Clone)]
struct DataOpts {
    /// Training samples (with --data: default all rows not used for eval).
    #[arg(long)]
    n_train: Option<usize>,
    /// Evaluation samples (independent draw; with --data: rows held out).
    #[arg(long, default_value_t = 4_000)]
    n_eval: usize,
    /// Seed of the data and of every random choice of the run.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Real data instead of the generator: a .npy (2-D float64/float32) or
    /// .csv file, one sample per row. Rows are shuffled with --seed, the eval
    /// rows split off, and both splits centred by the training mean.
    #[arg(long, value_name = "PATH")]
    data: Option<PathBuf>,
    /// Do not centre --data by the training mean.
    #[arg(long)]
    no_center: bool,
    /// Generator: standard deviations of the signal along the planted
    /// directions (comma-separated; their count is the rank).
    #[arg(long, value_delimiter = ',', value_name = "S1,S2,...")]
    spectrum: Option<Vec<f64>>,
    /// Generator: standard deviation of the isotropic noise.
    #[arg(long)]
    noise_sigma: Option<f64>,
    /// Generator: ambient dimension D.
    #[arg(long)]
    dim: Option<usize>,
}

impl DataOpts {
    fn to_args(&self) -> DataArgs {
        let mut spec = SyntheticSpec::report_default();
        if let Some(s) = &self.spectrum {
            spec.spectrum = s.clone();
        }
        if let Some(sigma) = self.noise_sigma {
            spec.noise_sigma = sigma;
        }
        if let Some(d) = self.dim {
            spec.dim = d;
        }
        DataArgs {
            n_train: self.n_train.or(if self.data.is_some() {
                None
            } else {
                Some(20_000)
            }),
            n_eval: self.n_eval,
            seed: self.seed,
            path: self.data.clone(),
            center: !self.no_center,
            spec,
        }
    }
}

#[derive(Args)]
struct BaselineCmd {
    /// Codebook size K; a comma-separated list runs each (e.g. 8,16,32,64).
    #[arg(long, value_delimiter = ',', default_value = "32")]
    k: Vec<usize>,
    /// Code dimension m (encoder width).
    #[arg(long, default_value_t = 4)]
    m: usize,
    /// Lloyd iterations after k-means++ seeding.
    #[arg(long, default_value_t = 20)]
    kmeans_iters: usize,
    #[command(flatten)]
    data: DataOpts,
    /// Print JSON (config + metrics) instead of a table. One K: an object;
    /// several: an array of objects.
    #[arg(long)]
    json: bool,
}

fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
}

fn baseline(cmd: BaselineCmd) -> Result<()> {
    let bar = progress_bar(cmd.k.len() as u64, "baseline");
    let reports = vqlab::commands::baseline::run(
        &cmd.data.to_args(),
        cmd.m,
        &cmd.k,
        cmd.kmeans_iters,
        |i| bar.set_position(i as u64),
    )?;
    bar.finish_and_clear();
    if cmd.json {
        let text = if reports.len() == 1 {
            serde_json::to_string_pretty(&reports[0])?
        } else {
            serde_json::to_string_pretty(&reports)?
        };
        println!("{text}");
    } else {
        print_baseline_table(&reports);
    }
    Ok(())
}

fn print_baseline_table(reports: &[BaselineReport]) {
    if let Some(first) = reports.first() {
        let c = &first.config;
        println!(
            "PCA + Lloyd baseline: D={} m={} N_train={} N_eval={} seed={} kmeans_iters={} centered={}",
            c.dim, c.m, c.n_train, c.n_eval, c.seed, c.kmeans_iters, c.centered
        );
    }
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>9} {:>8} {:>10} {:>6}",
        "K", "recon_mse", "insub", "residual", "entropy", "util", "perplexity", "dead"
    );
    for r in reports {
        let m = &r.metrics;
        println!(
            "{:>5} {:>10.4} {:>10.4} {:>10.4} {:>9.4} {:>7.1}% {:>10.2} {:>5.1}%",
            r.config.k,
            m.recon_mse,
            m.insub_distortion,
            m.residual,
            m.usage_entropy,
            100.0 * m.utilization,
            m.perplexity,
            100.0 * m.dead_code_fraction
        );
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    vqlab::threads::set_threads(cli.threads);
    let result = match cli.command {
        Command::Baseline(cmd) => baseline(cmd).context("baseline failed"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
