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
use vqlab::gradcheck::{GradcheckOptions, GradcheckReport};
use vqlab::model::MethodKind;
use vqlab::train::{Init, SvdChoice, TrainConfig, TrainResult};

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
}

/// Hyperparameters shared by `train` and `gradcheck` (SPEC's notation).
#[derive(Args, Clone)]
struct HyperOpts {
    /// Codebook size K.
    #[arg(long, default_value_t = 16)]
    k: usize,
    /// Code dimension m.
    #[arg(long, default_value_t = 4)]
    m: usize,
    /// Training steps.
    #[arg(long, default_value_t = 200)]
    steps: usize,
    /// Mini-batch size B (distinct rows each step, from the seed's own stream:
    /// identical across methods for the same seed).
    #[arg(long, default_value_t = 512)]
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
    #[arg(long)]
    n_train: Option<usize>,
    /// Evaluation samples: an independent draw, or with --data the rows held
    /// out [default: the command's experiment size].
    #[arg(long)]
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
    let config = cmd.hyper.to_config(cmd.data.seed);
    let data = cmd.data.to_args(10_000, 2_000).load()?;
    config.validate(data.train.nrows(), data.dim())?;
    let start = vqlab::train::initial_params(data.train.view(), &config)?;
    let mut results: Vec<TrainResult> = Vec::new();
    for kind in &methods {
        let bar = progress_bar(config.steps as u64, kind.name());
        let mut method = kind.build(config.weights());
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    vqlab::threads::set_threads(cli.threads);
    let result = match cli.command {
        Command::Baseline(cmd) => baseline(cmd).context("baseline failed"),
        Command::Train(cmd) => train(cmd).context("train failed"),
        Command::Gradcheck(cmd) => gradcheck(cmd).context("gradcheck failed"),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
