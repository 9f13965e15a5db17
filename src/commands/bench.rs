//! `vqlab bench`: per-step time and memory of every method, each in its own
//! process (`bench-worker`).
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Args;

use super::output::progress_bar;
use crate::infra::alloc::CountingAllocator;
use crate::model::MethodKind;

/// Arguments of `vqlab bench`.
#[derive(Args)]
pub struct BenchCmd {
    /// Configurations, separated by spaces or given again: exp2 (D=64, m=4,
    /// K=32, B=1024), large (D=512, m=32, K=512, B=4096), conv-mnist (the
    /// conv model on 1×28×28 images: 32 channels, depth 2, kernel 4, m=16,
    /// K=256, B=64; the methods' estimator and backend on that model), or
    /// any size of the tied model as d=D,m=M,k=K,b=B (optionally n=N
    /// training rows; `:` also separates).
    #[arg(long = "config", alias = "configs", num_args = 1.., default_values = ["exp2", "large", "conv-mnist"])]
    pub configs: Vec<crate::studies::bench::BenchConfig>,
    /// Methods (comma-separated, or "all").
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub method: Vec<String>,
    /// Thread settings to run (0 = the libraries' defaults).
    #[arg(long = "thread-settings", value_delimiter = ',', default_value = "1,0")]
    pub thread_settings: Vec<usize>,
    /// Warm-up steps (not timed).
    #[arg(long, default_value_t = 20)]
    pub warmup: usize,
    /// Timed steps per method (the large configuration uses a fifth).
    #[arg(long, default_value_t = 300)]
    pub steps: usize,
    /// Device of the autograd methods: cpu, or cuda where libtorch sees a GPU.
    #[arg(long, default_value = "cpu")]
    pub device: String,
    /// Output folder for bench.json and BENCH.md.
    #[arg(long, value_name = "DIR", default_value = "results")]
    pub out: PathBuf,
}

/// Arguments of the hidden `vqlab bench-worker`.
#[derive(Args)]
pub struct BenchWorkerCmd {
    #[arg(long)]
    pub config: crate::studies::bench::BenchConfig,
    #[arg(long)]
    pub method: String,
    #[arg(long)]
    pub worker_threads: usize,
    #[arg(long)]
    pub warmup: usize,
    #[arg(long)]
    pub steps: usize,
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// Runs one method's timed steps in this process and prints its report as
/// JSON (`alloc` is the binary's counting allocator).
pub fn execute_worker(cmd: BenchWorkerCmd, alloc: &CountingAllocator) -> Result<()> {
    let method: MethodKind = cmd.method.parse()?;
    let device = crate::model::parse_device(&cmd.device)?;
    let report = crate::studies::bench::run_worker(
        method,
        cmd.config,
        cmd.worker_threads,
        cmd.warmup,
        cmd.steps,
        device,
        Some(alloc),
    )?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// Runs `vqlab bench`.
pub fn execute(cmd: BenchCmd) -> Result<()> {
    use crate::studies::bench::{
        measure_machine, render_markdown, rows, BenchConfig, BenchResults, WorkerReport,
    };
    let methods = super::train::parse_shorthands(&cmd.method)?;
    crate::model::parse_device(&cmd.device)?;
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
                        &config.name(),
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
            r.report.config.order(),
            r.report.threads != 1,
            r.report.method.name(),
        )
    });
    crate::infra::io::create_dir(&cmd.out)?;
    let text = serde_json::to_string_pretty(&results)?;
    crate::infra::io::write_atomic(&cmd.out.join("bench.json"), format!("{text}\n").as_bytes())?;
    let md = render_markdown(&results);
    crate::infra::io::write_atomic(&cmd.out.join("BENCH.md"), md.as_bytes())?;
    println!("{md}");
    Ok(())
}
