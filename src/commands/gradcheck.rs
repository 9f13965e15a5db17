//! `vqlab gradcheck`: the gradient harness for one model, every estimator,
//! both backends.
use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{DataOpts, HyperOpts};
use super::output::progress_bar;
use crate::studies::gradcheck::{GradcheckOptions, GradcheckReport};

/// Arguments of `vqlab gradcheck`.
#[derive(Args)]
pub struct GradcheckCmd {
    #[command(flatten)]
    pub hyper: HyperOpts,
    #[command(flatten)]
    pub data: DataOpts,
    /// Estimators to check, comma-separated or "all" (STE is always checked:
    /// it drives the lockstep trajectory and is the reference of the
    /// comparison) [default: all].
    #[arg(long, value_delimiter = ',')]
    pub estimator: Option<Vec<String>>,
    /// Random states of the finite-difference check.
    #[arg(long, default_value_t = 3)]
    pub fd_states: usize,
    /// Steps of the long run that checks ‖WᵀW − I‖ (0: skip; the mlp and
    /// conv models have no Stiefel parameter and always skip it).
    #[arg(long, default_value_t = 100_000)]
    pub long_run_steps: usize,
    /// Write the first lockstep state (every parameter, the batch, the
    /// assignments) and every method's gradient of every parameter there as
    /// .npy (names in the README), for checking with NumPy/PyTorch; and per
    /// estimator a probe of its quantizer layer, `probe-<estimator>/`
    /// (docs/PROBE.md: z, codebook, output, upstream gradient, gradients and
    /// the random draws NSVQ and Gumbel used), for `vqlab check` or an
    /// outside implementation.
    #[arg(long, value_name = "DIR")]
    pub dump: Option<PathBuf>,
    /// Print the whole report as JSON (summary fields first).
    #[arg(long)]
    pub json: bool,
    /// Print the per-step lockstep table (human output only).
    #[arg(long)]
    pub per_step: bool,
}

/// Runs `vqlab gradcheck`.
pub fn execute(cmd: GradcheckCmd) -> Result<()> {
    let args = cmd.data.to_args(10_000, 2_000)?;
    let data = args.load()?;
    let (config, _) = cmd
        .hyper
        .to_config_for(cmd.data.seed, &data, args.is_file())?;
    let options = GradcheckOptions {
        config,
        fd_states: cmd.fd_states,
        long_run_steps: cmd.long_run_steps,
        estimators: super::train::parse_estimators(
            cmd.estimator.as_deref().unwrap_or(&["all".to_string()]),
        )?,
    };
    let bar = progress_bar(options.work_units(), "gradcheck");
    let report = crate::studies::gradcheck::run(&data, &options, cmd.dump.as_deref(), |part| {
        bar.set_message(part.to_string());
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    if cmd.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report, cmd.per_step);
    }
    Ok(())
}

fn by_param(map: &BTreeMap<String, f64>) -> String {
    map.iter()
        .map(|(k, v)| format!("{k} {v:.1e}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_report(r: &GradcheckReport, per_step: bool) {
    let c = &r.options.config;
    println!(
        "gradcheck: model={} K={} m={} steps={} batch={} init={} seed={} (f64)",
        c.model.describe(),
        c.k,
        c.m,
        c.steps,
        c.batch,
        c.init.name(),
        c.seed
    );
    println!(
        "\nlockstep, autograd vs manual (same parameters and batch every step; relative errors are ‖Δ‖max/‖ref‖max per parameter):"
    );
    for p in &r.lockstep {
        println!(
            "  {:<20} max rel err {:.2e} ({})  max |Δloss| {:.2e}  steps with assignment differences {}",
            p.estimator.name(),
            p.max_rel_err_grad,
            by_param(&p.max_rel_err_by_param),
            p.max_abs_err_loss,
            p.steps_with_assignment_differences
        );
        if per_step {
            println!(
                "    {:>5} {:>10} {:>10} {:>6}",
                "step", "|Δloss|", "rel ∂L/∂θ", "flips"
            );
            for s in &p.steps {
                println!(
                    "    {:>5} {:>10.2e} {:>10.2e} {:>6}",
                    s.step, s.loss_abs_err, s.rel_err_grad, s.assignments_differ
                );
            }
        }
    }
    if let Some(d) = r.max_stiefel_defect {
        println!("  max ‖WᵀW − I‖ along the trajectory: {d:.2e}");
    }
    let f = &r.free_running;
    if r.max_stiefel_defect.is_some() {
        println!(
            "\nfree-running ({} with {:?} SVD vs {} with {:?} SVD, own trajectories, same batches):",
            f.reference, f.reference_svd, f.candidate, f.candidate_svd
        );
    } else {
        println!(
            "\nfree-running ({} vs {}, own trajectories, same batches; no Stiefel parameter, no SVD):",
            f.reference, f.candidate
        );
    }
    println!(
        "  final recon_mse {:.10} vs {:.10} in the data's units (rel {:.2e}); insub rel {:.2e}; entropy rel {:.2e}",
        f.final_reference.recon_mse,
        f.final_candidate.recon_mse,
        f.rel_diff_recon_mse,
        f.rel_diff_insub_distortion,
        f.rel_diff_usage_entropy
    );
    println!(
        "  first assignment flip: {}; final parameter gap (max) {:.2e}",
        f.first_assignment_flip
            .map_or("none".to_string(), |s| format!("step {s}")),
        f.param_gap.last().copied().unwrap_or(0.0)
    );
    println!("\nestimators vs STE at the same states (relative difference of the gradient):");
    for e in &r.estimators {
        println!(
            "  {:<20} ∂L/∂θ max {:.2e} mean {:.2e} ({})",
            e.estimator.name(),
            e.max_rel_diff_grad,
            e.mean_rel_diff_grad,
            by_param(&e.max_rel_diff_by_param)
        );
    }
    let fd = &r.finite_differences;
    println!(
        "\nfinite differences of each estimator's surrogate ({} random states, h = {:e}, up to {} coordinates per parameter, rows with Voronoi margin ≥ {:.1e} kept):",
        fd.states, fd.step_size, fd.coordinates_per_param, fd.min_margin
    );
    if fd.skipped_at_kinks > 0 {
        println!(
            "  ({} of {} coordinate checks left out: their step switched a ReLU unit on or off)",
            fd.skipped_at_kinks, fd.coordinates_checked
        );
    }
    for c in &fd.checks {
        println!(
            "  {:<36} max rel err {:.2e} ({})",
            c.method.name(),
            c.max_rel_err_grad,
            by_param(&c.max_rel_err_by_param)
        );
    }
    if let Some(l) = &r.long_run {
        println!(
            "\nStiefel invariant: {} steps of {} with {:?} SVD: max ‖WᵀW − I‖ {:.2e}, final {:.2e}",
            l.steps, l.method, l.svd, l.max_stiefel_defect, l.final_stiefel_defect
        );
    }
}
