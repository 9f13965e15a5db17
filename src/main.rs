//! `vqlab`: the command-line front of the vqlab library. The subcommands'
//! arguments and work live in `vqlab::commands`; this file only dispatches.
//! Errors become a message and exit status 2 (130 after an interruption, 3
//! when some of `train`'s methods diverged and the others were written).
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};

use vqlab::commands::{
    baseline, bench, calibrate, check, data, future, gradcheck, gradients, gradquality, reproduce,
    saved, study, train,
};
use vqlab::infra::alloc::CountingAllocator;

/// Counts Rust heap allocations, for `bench`'s memory figures.
#[global_allocator]
static ALLOC: CountingAllocator = CountingAllocator::new();

/// A laboratory for VQ-VAE gradient estimators.
///
/// Reproduces a research report on a linear Stiefel VQ model (the PCA +
/// Lloyd baseline, autograd (libtorch) and hand-derived (ndarray) gradients,
/// a step-by-step comparison of the two), and goes beyond it: every run is a
/// model (tied, untied, mlp) × estimator (ste, residual-projection,
/// rotation-trick, nsvq, gumbel, gumbel-hard) × codebook update (gradient,
/// EMA, dead-code restarts) × optimizer (SGD, Adam; constant or cosine) ×
/// backend (manual, autograd). Numerical kernels are pinned, so results are
/// bit-identical on every x86-64 CPU with AVX2. See the README,
/// docs/MODEL.md and docs/ARCHITECTURE.md.
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
    Baseline(baseline::BaselineCmd),
    /// Train a model (tied, untied, mlp, conv) with one or more estimators (ste,
    /// residual-projection, rotation-trick, nsvq, gumbel, gumbel-hard) on
    /// either backend, or the report's method names. Riemannian SGD or Adam
    /// on Stiefel parameters (polar retraction). Defaults are the report's
    /// experiment 1 (tied, K=16, 200 steps, batch 512, N=10,000/2,000);
    /// on a data file each method's learning rates are chosen on validation
    /// rows around a rule from the data's spectrum (`--lr`). Exit status 3: some methods
    /// diverged (the others are written); 130: interrupted (what there was
    /// is written).
    Train(train::TrainCmd),
    /// The gradient harness for one model: autograd vs hand-derived gradients
    /// of every estimator in lockstep, free-running, the estimators compared,
    /// finite differences of each estimator's surrogate, and a long run of
    /// the Stiefel invariant. Defaults: experiment 1, tied model.
    Gradcheck(gradcheck::GradcheckCmd),
    /// Every estimator's update against the true gradient ∇J of the
    /// expected reconstruction error, at points of one training run: cosine,
    /// relative bias and variance, and how far one step lowers J against a
    /// step along −∇J, per parameter group (docs/TRUE-GRADIENT.md). ∇J by
    /// central differences with standard errors on 200,000 fresh generator
    /// rows (a data file: its training rows). `--help` explains each column.
    Gradquality(gradquality::GradqualityCmd),
    /// The gradient-quality study: per data set (the generator, digits,
    /// MNIST), model (tied, untied, mlp) and seed, a run of STE measured by
    /// `gradquality` at its start, middle and end, and the starts of
    /// FUTURE.md's arms; verdicts, on the generator, on hypotheses from the
    /// literature under the shared rules: G1 the rotation trick's encoder
    /// update is closer to ∇J than STE's, G2 STE's bias sits in the rows far
    /// from their code, G3 NSVQ is less biased than STE, G4 Gumbel-Softmax
    /// trades bias for variance as τ falls, G5 the start cosine predicts
    /// FUTURE.md's final gains. Writes GRADIENTS.md, gradients.json and
    /// charts; units kept in the run store like future's.
    Gradients(gradients::GradientsCmd),
    /// Fit the synthetic generator (geometric spectrum s_i = a ρ^(i−1), noise
    /// σ) so that the PCA + Lloyd baseline reproduces the report's
    /// experiment-3 baseline cells (recon_mse and insub_distortion at K = 8,
    /// 16, 32, 64), and write the preset that every command uses by default.
    Calibrate(calibrate::CalibrateCmd),
    /// Reproduce the report: experiments 1–4 over many seeds, every reported
    /// number beside ours, a verdict on each claim, plots. Writes results/
    /// (REPORT.md, exp1..4.json, summary.json, curves CSV, SVG plots). Finished
    /// runs are kept in results/.runs as they finish: rerunning after an
    /// interruption redoes only what is missing.
    Reproduce(reproduce::ReproduceCmd),
    /// The report's future work as studies: F1 real data (MNIST, digits), F2
    /// MLP encoders, F3 Adam and cosine schedules, F4 scale (D = 512,
    /// K = 512; MNIST at K up to 512), F5 NSVQ and Gumbel-Softmax with
    /// gradient and EMA codebooks, F6 noise; F1, F2 and F5 also train the
    /// conv model on MNIST and the photo crops. Learning rates chosen on a
    /// validation split, ≥ 5 seeds, a verdict per hypothesis. Writes
    /// results/FUTURE.md, future.json, future_curves.csv, SVG plots and a
    /// PNG per image condition (originals and reconstructions); units
    /// kept in the run store like reproduce's. Needs ./data-setup.sh (or
    /// --data-dir).
    Future(future::FutureCmd),
    /// Run a study written as a file (TOML or JSON): your data (a file, your
    /// own split, a built-in set or the generator), K, m, batch, steps,
    /// seeds, arms (model × estimator × optimizer × schedule × codebook
    /// update; rates "auto" or fixed) and hypotheses ("candidate beats
    /// reference"). Learning rates chosen on validation rows, PCA + Lloyd
    /// baselines tuned as the arms are, intervals over seeds and a verdict
    /// per hypothesis under the shared rules. Writes STUDY.md, study.json,
    /// study_curves.csv, a plot and a PNG per image condition. A bad file:
    /// exit 2 naming the line,
    /// nothing written. See examples/my-data.toml.
    Study(study::StudyCmd),
    /// Time and memory per training step of every method, as ratios to
    /// autograd-ste, against a roofline estimate; settles the report's cost
    /// claim (C11). Writes results/bench.json and results/BENCH.md.
    Bench(bench::BenchCmd),
    /// Evaluate parameters saved by `train --save-params` on a data file:
    /// the metrics, in the data's own units.
    Evaluate(saved::EvaluateCmd),
    /// Encode a data file with parameters saved by `train --save-params`:
    /// writes every row's code and its quantized reconstruction as .npy.
    Encode(saved::EncodeCmd),
    /// Data helpers: `data export` writes the prepared train/eval rows of
    /// the generator, a file or a set (.npy, for other tools); `data
    /// patches` writes a generated pixel-scale data set.
    #[command(subcommand)]
    Data(data::DataCmd),
    /// Is my VQ layer right? Identify what a quantizer layer's backward pass
    /// computes from a probe directory (python/vqlab_probe.py writes one for
    /// any PyTorch layer; docs/PROBE.md the format): every output path (no
    /// gradient, STE, residual projection, rotation trick; NSVQ and Gumbel
    /// given their draws) × codebook form (plain, cosine) × loss wiring
    /// (separate weights, one combined term, codebook outside autograd),
    /// weights fitted by least squares. Exit status 0: a match; 1: none
    /// (the closest and where it departs are printed); 2: a bad probe.
    Check(check::CheckCmd),
    /// One method's timed steps in this process (used by `bench`).
    #[command(hide = true)]
    BenchWorker(bench::BenchWorkerCmd),
}

fn main() -> ExitCode {
    // Before any numerical work: the same kernels on every CPU (src/infra/kernels.rs).
    if let Err(e) = vqlab::infra::kernels::pin_or_reexec() {
        eprintln!("error: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    vqlab::infra::threads::set_threads(cli.threads);
    let result = match cli.command {
        Command::Baseline(cmd) => baseline::execute(cmd).context("baseline failed"),
        Command::Train(cmd) => train::execute(cmd).context("train failed"),
        Command::Gradcheck(cmd) => gradcheck::execute(cmd).context("gradcheck failed"),
        Command::Gradquality(cmd) => gradquality::execute(cmd).context("gradquality failed"),
        Command::Gradients(cmd) => gradients::execute(cmd).context("gradients failed"),
        Command::Calibrate(cmd) => calibrate::execute(cmd).context("calibrate failed"),
        Command::Reproduce(cmd) => reproduce::execute(cmd).context("reproduce failed"),
        Command::Future(cmd) => future::execute(cmd).context("future failed"),
        Command::Study(cmd) => study::execute(cmd).context("study failed"),
        Command::Bench(cmd) => bench::execute(cmd).context("bench failed"),
        Command::Evaluate(cmd) => saved::execute_evaluate(cmd).context("evaluate failed"),
        Command::Encode(cmd) => saved::execute_encode(cmd).context("encode failed"),
        Command::Data(cmd) => data::execute(cmd).context("data failed"),
        Command::Check(cmd) => check::execute(cmd).context("check failed"),
        Command::BenchWorker(cmd) => {
            bench::execute_worker(cmd, &ALLOC).context("bench worker failed")
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            let code = e
                .chain()
                .find_map(|c| match c.downcast_ref::<vqlab::VqError>() {
                    Some(vqlab::VqError::Interrupted { .. })
                    | Some(vqlab::VqError::TrainInterrupted { .. }) => Some(130),
                    Some(vqlab::VqError::SomeDiverged { .. }) => Some(3),
                    Some(vqlab::VqError::NoMatch { .. }) => Some(1),
                    _ => None,
                })
                .unwrap_or(2);
            ExitCode::from(code)
        }
    }
}
