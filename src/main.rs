//! `vqlab`: the command-line front of the vqlab library. Parses arguments,
//! calls the library, prints; errors become a message and exit status 2.
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};

use vqlab::alloc::CountingAllocator;
use vqlab::commands::baseline::BaselineReport;
use vqlab::commands::data_args::DataArgs;
use vqlab::data::SyntheticSpec;
use vqlab::gradcheck::{GradcheckOptions, GradcheckReport};
use vqlab::model::MethodKind;
use vqlab::train::{Init, SvdChoice, TrainConfig, TrainResult};

/// Counts Rust heap allocations, for `bench`'s memory figures.
#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

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
    /// Train the linear Stiefel VQ model with one or more gradient methods
    /// (Riemannian SGD on W with polar retraction, SGD on E). Defaults are
    /// the report's experiment 1 (K=16, 200 steps, batch 512, N=10,000/2,000).
    Train(TrainCmd),
    /// The gradient harness: autograd vs hand-derived gradients in lockstep
    /// and free-running, the estimators compared, finite differences, and a
    /// long run of the Stiefel invariant. Defaults: experiment 1.
    Gradcheck(GradcheckCmd),
    /// Fit the synthetic generator (geometric spectrum s_i = a ρ^(i−1), noise
    /// σ) so that the PCA + Lloyd baseline reproduces the report's
    /// experiment-3 baseline cells (recon_mse and insub_distortion at K = 8,
    /// 16, 32, 64), and write the preset that every command uses by default.
    Calibrate(CalibrateCmd),
    /// Reproduce the report: experiments 1–4 over many seeds, every reported
    /// number beside ours, a verdict on each claim, plots. Writes results/
    /// (REPORT.md, exp1..4.json, summary.json, curves CSV, SVG plots). Finished
    /// runs are kept in results/.runs as they finish: rerunning after an
    /// interruption redoes only what is missing.
    Reproduce(ReproduceCmd),
    /// Time and memory per training step of every method, as ratios to
    /// autograd-ste, against a roofline estimate; settles the report's cost
    /// claim (C11). Writes results/bench.json and results/BENCH.md.
    Bench(BenchCmd),
    /// One method's timed steps in this process (used by `bench`).
    #[command(hide = true)]
    BenchWorker(BenchWorkerCmd),
}

#[derive(Args)]
struct BenchCmd {
    /// Configurations: exp2 (D=64, m=4, K=32, B=1024), large (D=512, m=32,
    /// K=512, B=4096).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "exp2,large")]
    configs: Vec<vqlab::bench::BenchConfig>,
    /// Methods (comma-separated, or "all").
    #[arg(long, value_delimiter = ',', default_value = "all")]
    method: Vec<String>,
    /// Thread settings to run (0 = the libraries' defaults).
    #[arg(long = "thread-settings", value_delimiter = ',', default_value = "1,0")]
    thread_settings: Vec<usize>,
    /// Warm-up steps (not timed).
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Timed steps per method (the large configuration uses a fifth).
    #[arg(long, default_value_t = 300)]
    steps: usize,
    /// Device of the autograd methods: cpu, or cuda where libtorch sees a GPU.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Output folder for bench.json and BENCH.md.
    #[arg(long, value_name = "DIR", default_value = "results")]
    out: PathBuf,
}

#[derive(Args)]
struct BenchWorkerCmd {
    #[arg(long, value_enum)]
    config: vqlab::bench::BenchConfig,
    #[arg(long)]
    method: String,
    #[arg(long)]
    worker_threads: usize,
    #[arg(long)]
    warmup: usize,
    #[arg(long)]
    steps: usize,
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
struct ReproduceCmd {
    /// Seeds per configuration (0 … N−1).
    #[arg(long, allow_negative_numbers = true, default_value_t = 10)]
    seeds: u64,
    /// A reduced run (2 seeds unless --seeds is given, one fifth of the steps)
    /// that finishes in seconds: for smoke tests, not for conclusions.
    #[arg(long)]
    quick: bool,
    /// Only these experiments (comma-separated: exp1,exp2,exp3,exp4).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<vqlab::reproduce::runs::Experiment>,
    /// Output folder.
    #[arg(long, value_name = "DIR", default_value = "results")]
    out: PathBuf,
    /// Worker threads; each run is single-threaded, so results do not depend
    /// on this.
    #[arg(long, default_value_t = 2)]
    jobs: usize,
    /// Recompute every run even if a stored result matches.
    #[arg(long)]
    fresh: bool,
    /// Fix the initialisation instead of deciding it by measurement.
    #[arg(long, value_enum)]
    init: Option<Init>,
    /// Fix the batch size of experiments 2–4 instead of deciding it.
    #[arg(long)]
    batch: Option<usize>,
    /// A preset file written by `vqlab calibrate` (default: the compiled-in
    /// presets/report-calibrated.json).
    #[arg(long, value_name = "PATH")]
    preset: Option<PathBuf>,
}

#[derive(Args)]
struct CalibrateCmd {
    /// Seeds the objective averages over (0 … N−1), run in parallel; the
    /// default matches `reproduce`'s seeds.
    #[arg(long, allow_negative_numbers = true, default_value_t = 10)]
    seeds: u64,
    /// Decays ρ per grid pass (a coarse pass over (0.3, 1], then a fine pass
    /// around the best).
    #[arg(long, default_value_t = 15)]
    grid: usize,
    /// Spectrum families to try (the best fit wins).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "geometric,power-law"
    )]
    family: Vec<vqlab::calibrate::SpectrumFamily>,
    /// Where to write the preset (JSON). The built-in default is compiled
    /// from presets/report-calibrated.json: rebuild after rewriting it.
    #[arg(
        long,
        value_name = "PATH",
        default_value = "presets/report-calibrated.json"
    )]
    out: PathBuf,
    /// Print the calibration as JSON.
    #[arg(long)]
    json: bool,
}

/// Hyperparameters shared by `train` and `gradcheck` (SPEC's notation).
#[derive(Args, Clone)]
struct HyperOpts {
    /// Codebook size K.
    #[arg(long, allow_negative_numbers = true, default_value_t = 16)]
    k: usize,
    /// Code dimension m.
    #[arg(long, allow_negative_numbers = true, default_value_t = 4)]
    m: usize,
    /// Training steps.
    #[arg(long, allow_negative_numbers = true, default_value_t = 200)]
    steps: usize,
    /// Mini-batch size B (distinct rows each step, from the seed's own stream:
    /// identical across methods for the same seed).
    #[arg(long, allow_negative_numbers = true, default_value_t = 512)]
    batch: usize,
    /// Learning rate η_W of the Riemannian SGD on W.
    #[arg(long, default_value_t = 0.08, allow_negative_numbers = true)]
    lr_w: f64,
    /// Learning rate η_E of the SGD on the codebook.
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    lr_e: f64,
    /// α: weight of the codebook term ‖sg(z) − q‖².
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    alpha: f64,
    /// β: weight of the commitment term ‖z − sg(q)‖².
    #[arg(long, default_value_t = 0.25, allow_negative_numbers = true)]
    beta: f64,
    /// Where W and E start (the report does not say): pca = the baseline's W
    /// and E; random = random Stiefel W, E by k-means++ and Lloyd on WᵀX.
    #[arg(long, value_enum, default_value_t = Init::Pca)]
    init: Init,
    /// Lloyd iterations of the initial codebook.
    #[arg(long, default_value_t = 20)]
    kmeans_iters: usize,
    /// Evaluate on the whole eval set every this many steps (0: start and end).
    #[arg(long, default_value_t = 25)]
    log_every: usize,
    /// SVD of the polar retraction: per-method = libtorch for autograd
    /// methods, LAPACK for manual ones (as in the original); or one for all.
    #[arg(long, value_enum, default_value_t = SvdChoice::PerMethod)]
    svd: SvdChoice,
}

impl HyperOpts {
    fn to_config(&self, seed: u64) -> TrainConfig {
        TrainConfig {
            k: self.k,
            m: self.m,
            steps: self.steps,
            batch: self.batch,
            lr_w: self.lr_w,
            lr_e: self.lr_e,
            alpha: self.alpha,
            beta: self.beta,
            init: self.init,
            kmeans_iters: self.kmeans_iters,
            seed,
            log_every: self.log_every,
            svd: self.svd,
        }
    }
}

#[derive(Args)]
struct TrainCmd {
    /// Method(s), comma-separated: manual-ste, manual-rotation (ndarray,
    /// hand-derived); autograd-ste, rotation (the report's estimator),
    /// rotation-trick (Fifty et al. 2024) (libtorch autograd); or "all".
    #[arg(long, value_delimiter = ',', default_value = "manual-ste")]
    method: Vec<String>,
    #[command(flatten)]
    hyper: HyperOpts,
    #[command(flatten)]
    data: DataOpts,
    /// Print JSON: config, curve (every --log-every steps: step, batch loss
    /// parts, eval metrics), final metrics. One method: an object; several:
    /// an array.
    #[arg(long)]
    json: bool,
    /// Write the final W and E as W.npy and E.npy into DIR (one subfolder per
    /// method when several are trained).
    #[arg(long, value_name = "DIR")]
    save_params: Option<PathBuf>,
    /// Device of the autograd methods: cpu, or cuda where libtorch sees a GPU
    /// (the manual methods always run on the CPU).
    #[arg(long, default_value = "cpu")]
    device: String,
}

#[derive(Args)]
struct GradcheckCmd {
    #[command(flatten)]
    hyper: HyperOpts,
    #[command(flatten)]
    data: DataOpts,
    /// Random states of the finite-difference check.
    #[arg(long, default_value_t = 3)]
    fd_states: usize,
    /// Steps of the long run that checks ‖WᵀW − I‖ (0: skip).
    #[arg(long, default_value_t = 100_000)]
    long_run_steps: usize,
    /// Write the first lockstep state (W, E, batch, assignments) and every
    /// method's gradients there as .npy, for checking with NumPy/PyTorch.
    #[arg(long, value_name = "DIR")]
    dump: Option<PathBuf>,
    /// Print the whole report as JSON (summary fields first).
    #[arg(long)]
    json: bool,
    /// Print the per-step lockstep table (human output only).
    #[arg(long)]
    per_step: bool,
}

/// Where the data come from. Without --data, the synthetic generator of
/// SPEC.md (x = U diag(s) g + σ n, D = 64, rank 6).
#[derive(Args, Clone)]
struct DataOpts {
    /// Training samples [default: the command's experiment size; with --data:
    /// all rows not held out for evaluation].
    #[arg(long, allow_negative_numbers = true)]
    n_train: Option<usize>,
    /// Evaluation samples: an independent draw, or with --data the rows held
    /// out [default: the command's experiment size].
    #[arg(long, allow_negative_numbers = true)]
    n_eval: Option<usize>,
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
    /// The data arguments, with `n_train`/`n_eval` defaulting to the given
    /// experiment sizes.
    fn to_args(&self, n_train: usize, n_eval: usize) -> DataArgs {
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
                Some(n_train)
            }),
            n_eval: self.n_eval.unwrap_or(n_eval),
            seed: self.seed,
            path: self.data.clone(),
            center: !self.no_center,
            spec,
            expected_dim: self.dim,
        }
    }
}

#[derive(Args)]
struct BaselineCmd {
    /// Codebook size K; a comma-separated list runs each (e.g. 8,16,32,64).
    #[arg(long, value_delimiter = ',', default_value = "32")]
    k: Vec<usize>,
    /// Code dimension m (encoder width).
    #[arg(long, allow_negative_numbers = true, default_value_t = 4)]
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
        &cmd.data.to_args(20_000, 4_000),
        cmd.m,
        &cmd.k,
        cmd.kmeans_iters,
        |i| bar.set_position(i as u64),
    )?;
    bar.finish_and_clear();
    if cmd.json {
        print_json_one_or_many(&reports)
    } else {
        print_baseline_table(&reports);
        Ok(())
    }
}

/// Prints one result as a JSON object, several as an array.
fn print_json_one_or_many<T: serde::Serialize>(items: &[T]) -> Result<()> {
    let text = match items {
        [one] => serde_json::to_string_pretty(one)?,
        many => serde_json::to_string_pretty(many)?,
    };
    println!("{text}");
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

fn parse_methods(names: &[String]) -> Result<Vec<MethodKind>> {
    if names.iter().any(|n| n == "all") {
        return Ok(MethodKind::ALL.to_vec());
    }
    let mut out = Vec::new();
    for name in names {
        let kind: MethodKind = name.parse()?;
        if !out.contains(&kind) {
            out.push(kind);
        }
    }
    Ok(out)
}

fn train(cmd: TrainCmd) -> Result<()> {
    let methods = parse_methods(&cmd.method)?;
    let device = vqlab::model::parse_device(&cmd.device)?;
    let data = cmd.data.to_args(10_000, 2_000).load()?;
    let config = cmd
        .hyper
        .to_config(cmd.data.seed)
        .check(data.train.nrows(), data.dim())?;
    let start = vqlab::train::initial_params(data.train.view(), &config)?;
    let mut results: Vec<TrainResult> = Vec::new();
    for kind in &methods {
        let bar = progress_bar(config.steps as u64, kind.name());
        let mut method = kind.build_on(config.weights(), device);
        let result =
            vqlab::train::train(method.as_mut(), &data, &config, Some(start.clone()), |s| {
                bar.set_position(s as u64)
            })?;
        bar.finish_and_clear();
        if let (Some(dir), Some(params)) = (&cmd.save_params, &result.params) {
            let dir = if methods.len() > 1 {
                dir.join(kind.name())
            } else {
                dir.clone()
            };
            vqlab::io::create_dir(&dir)?;
            vqlab::io::write_npy(&dir.join("W.npy"), &params.w)?;
            vqlab::io::write_npy(&dir.join("E.npy"), &params.codebook)?;
        }
        results.push(result);
    }
    if cmd.json {
        print_json_one_or_many(&results)
    } else {
        print_train_table(&results);
        Ok(())
    }
}

fn print_train_table(results: &[TrainResult]) {
    if let Some(first) = results.first() {
        let c = &first.config;
        println!(
            "train: K={} m={} steps={} batch={} lr_w={} lr_e={} alpha={} beta={} init={:?} seed={}",
            c.k, c.m, c.steps, c.batch, c.lr_w, c.lr_e, c.alpha, c.beta, c.init, c.seed
        );
        let i = &first.initial;
        println!(
            "initial: recon_mse={:.4} insub={:.4} entropy={:.4}",
            i.recon_mse, i.insub_distortion, i.usage_entropy
        );
    }
    println!(
        "{:<16} {:>10} {:>10} {:>9} {:>7} {:>6} {:>12} {:>11}",
        "method", "recon_mse", "insub", "entropy", "util", "dead", "ms/step", "|WᵀW−I|"
    );
    for r in results {
        let m = &r.final_metrics;
        println!(
            "{:<16} {:>10.4} {:>10.4} {:>9.4} {:>6.1}% {:>5.1}% {:>12.4} {:>11.1e}",
            r.method.name(),
            m.recon_mse,
            m.insub_distortion,
            m.usage_entropy,
            100.0 * m.utilization,
            100.0 * m.dead_code_fraction,
            1e3 * r.timing.seconds_per_step,
            r.max_stiefel_defect
        );
    }
}

fn gradcheck(cmd: GradcheckCmd) -> Result<()> {
    let options = GradcheckOptions {
        config: cmd.hyper.to_config(cmd.data.seed),
        fd_states: cmd.fd_states,
        long_run_steps: cmd.long_run_steps,
    };
    let data = cmd.data.to_args(10_000, 2_000).load()?;
    let bar = progress_bar(options.work_units(), "gradcheck");
    let report = vqlab::gradcheck::run(&data, &options, cmd.dump.as_deref(), |part| {
        bar.set_message(part.to_string());
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_gradcheck(&report, cmd.per_step);
    }
    Ok(())
}

fn print_gradcheck(r: &GradcheckReport, per_step: bool) {
    let c = &r.options.config;
    println!(
        "gradcheck: K={} m={} steps={} batch={} init={:?} seed={} (f64)",
        c.k, c.m, c.steps, c.batch, c.init, c.seed
    );
    println!("\nlockstep (same W, E, batch every step; relative errors are ‖Δ‖max/‖ref‖max):");
    for p in &r.lockstep {
        println!(
            "  {:<15} vs {:<13} max rel err ∂L/∂W {:.2e}  ∂L/∂E {:.2e}  max |Δloss| {:.2e}  steps with assignment differences {}",
            p.candidate.name(),
            p.reference.name(),
            p.max_rel_err_grad_w,
            p.max_rel_err_grad_e,
            p.max_abs_err_loss,
            p.steps_with_assignment_differences
        );
        if per_step {
            println!(
                "    {:>5} {:>10} {:>10} {:>10} {:>6}",
                "step", "|Δloss|", "rel ∂L/∂W", "rel ∂L/∂E", "flips"
            );
            for s in &p.steps {
                println!(
                    "    {:>5} {:>10.2e} {:>10.2e} {:>10.2e} {:>6}",
                    s.step,
                    s.loss_abs_err,
                    s.rel_err_grad_w,
                    s.rel_err_grad_e,
                    s.assignments_differ
                );
            }
        }
    }
    println!(
        "  max ‖WᵀW − I‖ along the trajectory: {:.2e}",
        r.max_stiefel_defect
    );
    let f = &r.free_running;
    println!(
        "\nfree-running ({} with {:?} SVD vs {} with {:?} SVD, own trajectories, same batches):",
        f.reference.name(),
        f.reference_svd,
        f.candidate.name(),
        f.candidate_svd
    );
    println!(
        "  final recon_mse {:.10} vs {:.10} (rel {:.2e}); insub rel {:.2e}; entropy rel {:.2e}",
        f.final_reference.recon_mse,
        f.final_candidate.recon_mse,
        f.rel_diff_recon_mse,
        f.rel_diff_insub_distortion,
        f.rel_diff_usage_entropy
    );
    println!(
        "  first assignment flip: {}; final ‖W_a − W_m‖max {:.2e}",
        f.first_assignment_flip
            .map_or("none".to_string(), |s| format!("step {s}")),
        f.w_gap.last().copied().unwrap_or(0.0)
    );
    println!(
        "\nestimators vs autograd-ste at the same states (relative difference of the gradient):"
    );
    for e in &r.estimators {
        println!(
            "  {:<15} ∂L/∂W max {:.2e} mean {:.2e}; ∂L/∂E max {:.2e}",
            e.method.name(),
            e.max_rel_diff_grad_w,
            e.mean_rel_diff_grad_w,
            e.max_rel_diff_grad_e
        );
    }
    let fd = &r.finite_differences;
    println!(
        "\nfinite differences ({} random states, h = {:e}, rows with Voronoi margin ≥ {:.1e} kept):",
        fd.states, fd.step_size, fd.min_margin
    );
    for c in &fd.checks {
        println!(
            "  {:<15} max rel err ∂L/∂W {:.2e}  ∂L/∂E {:.2e}",
            c.method.name(),
            c.max_rel_err_grad_w,
            c.max_rel_err_grad_e
        );
    }
    if let Some(l) = &r.long_run {
        println!(
            "\nStiefel invariant: {} steps of {} with {:?} SVD: max ‖WᵀW − I‖ {:.2e}, final {:.2e}",
            l.steps,
            l.method.name(),
            l.svd,
            l.max_stiefel_defect,
            l.final_stiefel_defect
        );
    }
}

fn calibrate(cmd: CalibrateCmd) -> Result<()> {
    use vqlab::calibrate::{calibrate, CalibrationTarget};
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
        vqlab::io::create_dir(dir)?;
    }
    vqlab::io::write_atomic(&cmd.out, format!("{text}\n").as_bytes())?;
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

fn reproduce(cmd: ReproduceCmd) -> Result<()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use vqlab::reproduce::{reproduce, ReproduceOptions};
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
        out_dir: cmd.out.clone(),
        jobs: cmd.jobs,
        fresh: cmd.fresh,
        init: cmd.init,
        batch: cmd.batch,
        data,
        data_source,
    };
    options.validate()?;
    // Every run is single-threaded: parallelism comes from --jobs, and the
    // results do not depend on it.
    vqlab::threads::set_threads(1);
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        let _ = ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                std::process::exit(130);
            }
            eprintln!("\nstopping after the runs in progress (Ctrl-C again to quit at once)…");
        });
    }
    let bar = progress_bar(1, "reproduce");
    let summary = reproduce(&options, &stop, |done, total, what| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(what.to_string());
    });
    bar.finish_and_clear();
    let summary = summary?;
    let verdicts: Vec<String> = summary
        .claims
        .iter()
        .map(|c| format!("{} {}", c.id, c.verdict.label()))
        .collect();
    let outside = summary
        .cells
        .iter()
        .filter(|c| c.within == Some(false))
        .count();
    println!(
        "reproduce: {} runs ({} computed, {} reused) in {:.1} s; {} of {} cells outside tolerance; {}",
        summary.reused + summary.computed,
        summary.computed,
        summary.reused,
        summary.wall_seconds,
        outside,
        summary.cells.len(),
        verdicts.join(", ")
    );
    println!("wrote {}", cmd.out.join("REPORT.md").display());
    Ok(())
}

fn bench_worker(cmd: BenchWorkerCmd) -> Result<()> {
    let method: MethodKind = cmd.method.parse()?;
    let device = vqlab::model::parse_device(&cmd.device)?;
    let report = vqlab::bench::run_worker(
        method,
        cmd.config,
        cmd.worker_threads,
        cmd.warmup,
        cmd.steps,
        device,
        Some(&ALLOC),
    )?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

fn bench(cmd: BenchCmd) -> Result<()> {
    use vqlab::bench::{
        measure_machine, render_markdown, rows, BenchConfig, BenchResults, WorkerReport,
    };
    let methods = parse_methods(&cmd.method)?;
    vqlab::model::parse_device(&cmd.device)?;
    if cmd.steps == 0 {
        anyhow::bail!("invalid steps = 0: at least 1");
    }
    if cmd.thread_settings.is_empty() {
        anyhow::bail!("invalid thread-settings: at least one value");
    }
    let started = std::time::Instant::now();
    let machine: Vec<_> = cmd
        .thread_settings
        .iter()
        .map(|&t| measure_machine(t))
        .collect();
    let exe = std::env::current_exe().context("locating the vqlab binary")?;
    let total = (cmd.configs.len() * cmd.thread_settings.len() * methods.len()) as u64;
    let bar = progress_bar(total, "bench");
    let mut reports: Vec<WorkerReport> = Vec::new();
    for &config in &cmd.configs {
        let steps = if config == BenchConfig::Large {
            (cmd.steps / 5).max(1)
        } else {
            cmd.steps
        };
        let warmup = if config == BenchConfig::Large {
            (cmd.warmup / 4).max(1)
        } else {
            cmd.warmup
        };
        for &threads in &cmd.thread_settings {
            for &method in &methods {
                bar.set_message(format!(
                    "{} threads={} {}",
                    config.name(),
                    threads,
                    method.name()
                ));
                let out = std::process::Command::new(&exe)
                    .args([
                        "bench-worker",
                        "--config",
                        config.name(),
                        "--method",
                        method.name(),
                    ])
                    .args([
                        "--worker-threads",
                        &threads.to_string(),
                        "--warmup",
                        &warmup.to_string(),
                    ])
                    .args(["--steps", &steps.to_string(), "--device", &cmd.device])
                    .output()
                    .context("starting a bench worker")?;
                if !out.status.success() {
                    anyhow::bail!(
                        "bench worker for {} failed: {}",
                        method.name(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
                reports.push(
                    serde_json::from_slice(&out.stdout)
                        .context("reading a bench worker's report")?,
                );
                bar.inc(1);
            }
        }
    }
    bar.finish_and_clear();
    let mut results = BenchResults {
        rows: rows(&reports, &machine),
        machine,
        warmup: cmd.warmup,
        steps: cmd.steps,
        wall_seconds: started.elapsed().as_secs_f64(),
    };
    results.rows.sort_by_key(|r| {
        (
            r.report.config as u8,
            r.report.threads != 1,
            r.report.method.name(),
        )
    });
    vqlab::io::create_dir(&cmd.out)?;
    let text = serde_json::to_string_pretty(&results)?;
    vqlab::io::write_atomic(&cmd.out.join("bench.json"), format!("{text}\n").as_bytes())?;
    let md = render_markdown(&results);
    vqlab::io::write_atomic(&cmd.out.join("BENCH.md"), md.as_bytes())?;
    println!("{md}");
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    vqlab::threads::set_threads(cli.threads);
    let result = match cli.command {
        Command::Baseline(cmd) => baseline(cmd).context("baseline failed"),
        Command::Train(cmd) => train(cmd).context("train failed"),
        Command::Gradcheck(cmd) => gradcheck(cmd).context("gradcheck failed"),
        Command::Calibrate(cmd) => calibrate(cmd).context("calibrate failed"),
        Command::Reproduce(cmd) => reproduce(cmd).context("reproduce failed"),
        Command::Bench(cmd) => bench(cmd).context("bench failed"),
        Command::BenchWorker(cmd) => bench_worker(cmd).context("bench worker failed"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let interrupted = e.chain().any(|c| {
                matches!(
                    c.downcast_ref::<vqlab::VqError>(),
                    Some(vqlab::VqError::Interrupted { .. })
                )
            });
            ExitCode::from(if interrupted { 130 } else { 2 })
        }
    }
}
