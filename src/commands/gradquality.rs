//! `vqlab gradquality`: every estimator's update against the true gradient
//! of the expected reconstruction error at points of one training run.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{DataOpts, HyperOpts};
use super::output::progress_bar;
use crate::model::Estimator;
use crate::studies::gradquality::measure::Group;
use crate::studies::gradquality::{run, GradQualityReport, MeasureOptions};

/// Arguments of `vqlab gradquality`.
///
/// The columns of the table (per point of the run, estimator and parameter
/// group; ḡ is the estimator's mean update over --batches mini-batches of
/// the run's batch size, ∇J the true gradient, both Riemannian on W):
///
/// * `cos`: cos(ḡ, ∇J), 1 when the mean update points along the true
///   gradient, 0 when it is orthogonal, negative when it climbs (— where
///   the update is zero);
/// * `bias`: ‖E ĝ − ∇J‖/‖∇J‖ with the noise of ḡ taken out, 0 for an
///   unbiased estimator (∇J on the rows the batches come from);
/// * `var`: E‖ĝ − ḡ‖²/‖∇J‖², one batch's spread around its mean;
/// * `±ḡ`: the standard error of ḡ over ‖∇J‖ (more --batches lowers it);
/// * `cos rec`, `bias rec`: the same for the reconstruction part of the
///   update alone (α = β = 0: no codebook or commitment term);
/// * `descent`: how much one SGD step of η ḡ lowers J, over the drop of a
///   step of the same length along −∇J (1: as good as the true gradient;
///   Adam: not measured), with its standard error;
/// * `|∇J|` and `±∇J`: the true gradient's norm and its standard error over
///   its norm, the floor under `bias` (more rows or a larger --h lower it);
///   above 0.5 the group's row says "∇J not resolved" instead of numbers.
#[derive(Args)]
pub struct GradqualityCmd {
    #[command(flatten)]
    pub hyper: HyperOpts,
    #[command(flatten)]
    pub data: DataOpts,
    /// The estimator the run trains with (its trajectory gives the points).
    #[arg(long, default_value = "ste")]
    pub run_estimator: String,
    /// Estimators measured at every point, comma-separated or "all".
    #[arg(long, value_delimiter = ',', default_value = "all")]
    pub estimator: Vec<String>,
    /// The points: steps of the run, comma-separated (0 = the start; at most
    /// --steps) [default: the start, the middle and the end].
    #[arg(long, value_delimiter = ',')]
    pub at: Option<Vec<usize>>,
    /// Mini-batches each estimator's mean update is taken over.
    #[arg(long, default_value_t = 1000)]
    pub batches: usize,
    /// The code-space step h of ∇J's central differences (the data's
    /// scaled units): bias O(h²), standard error O(1/√(N h)).
    #[arg(long, default_value_t = 0.01)]
    pub h: f64,
    /// Print the whole report as JSON instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Also write the JSON report to this file.
    #[arg(long, value_name = "PATH")]
    pub out: Option<PathBuf>,
}

/// Runs `vqlab gradquality`. For the generator, ∇J and the batches come
/// from the --n-eval fresh rows (default 200,000); for a data file or set,
/// from its training rows.
pub fn execute(cmd: GradqualityCmd) -> Result<()> {
    let args = cmd.data.to_args(10_000, 200_000)?;
    let data = args.load()?;
    let (config, _) = cmd
        .hyper
        .to_config_for(cmd.data.seed, data.train.view(), args.is_file())?;
    let run_estimator = super::train::parse_estimators(std::slice::from_ref(&cmd.run_estimator))?;
    let run_estimator: Estimator = match run_estimator.as_slice() {
        [one] => *one,
        _ => anyhow::bail!("--run-estimator: one estimator, not {}", cmd.run_estimator),
    };
    let config = config.check(data.train.nrows(), data.dim())?;
    let steps = config.steps;
    let options = MeasureOptions {
        config,
        run_estimator,
        estimators: super::train::parse_estimators(&cmd.estimator)?,
        at: cmd.at.clone().unwrap_or_else(|| {
            let mut at = vec![0, steps / 2, steps];
            at.dedup();
            at
        }),
        batches: cmd.batches,
        step: cmd.h,
    };
    options.check()?;
    let rows = if args.is_file() {
        data.train.view()
    } else {
        data.eval.view()
    };
    let bar = progress_bar(options.work_units(), "gradquality");
    let report = run(&data, rows, &options, |part| {
        bar.set_message(part.to_string());
        bar.inc(1)
    })?;
    bar.finish_and_clear();
    let json = serde_json::to_string_pretty(&report)?;
    if let Some(path) = &cmd.out {
        crate::infra::io::write_atomic(path, json.as_bytes())?;
    }
    if cmd.json {
        println!("{json}");
    } else {
        print_table(&report, args.is_file());
    }
    Ok(())
}

fn print_table(r: &GradQualityReport, file: bool) {
    let c = &r.config;
    println!(
        "gradquality: model={} K={} m={} batch={} lr_w={} lr_e={} α={} β={} optimizer={} seed={}; run trained with {}",
        c.model.kind.name(),
        c.k,
        c.m,
        c.batch,
        c.lr_w,
        c.lr_e,
        c.alpha,
        c.beta,
        format!("{:?}", c.optimizer.kind).to_lowercase(),
        c.seed,
        r.run_estimator.name()
    );
    println!(
        "∇J on {} {} rows (h = {}), each estimator's mean over {} batches; scaled units (--help explains the columns)",
        r.rows,
        if file { "training" } else { "fresh generator" },
        r.step,
        r.batches
    );
    for p in &r.points {
        println!(
            "\nstep {}: J = {:.6} ± {:.1e}",
            p.step, p.objective.value, p.objective.std_error
        );
        println!(
            "  {:<20} {:<16} {:>7} {:>7} {:>9} {:>7} {:>7} {:>8} {:>16} {:>9} {:>7}",
            "estimator",
            "group",
            "cos",
            "bias",
            "var",
            "±ḡ",
            "cos rec",
            "bias rec",
            "descent",
            "|∇J|",
            "±∇J"
        );
        for e in &p.estimators {
            for (i, g) in e.groups.iter().enumerate() {
                let descent = match (&e.descent_ratio, g.group) {
                    (Some(d), Group::All) => format!("{:.3} ± {:.3}", d.value, d.std_error),
                    (None, Group::All) => "(adam)".into(),
                    _ => String::new(),
                };
                let name = if i == 0 { e.estimator.name() } else { "" };
                if !g.resolved {
                    println!(
                        "  {:<20} {:<16} {:<57} {:>16} {:>9.3e} {:>7.3}",
                        name,
                        g.group.name(),
                        "∇J not resolved: more rows (--n-eval) or a larger --h",
                        descent,
                        g.truth_norm,
                        g.truth_relative_error
                    );
                    continue;
                }
                let cos = |c: Option<f64>| c.map_or("—".to_string(), |c| format!("{c:.3}"));
                println!(
                    "  {:<20} {:<16} {:>7} {:>7.3} {:>9.3e} {:>7.3} {:>7} {:>8.3} {:>16} {:>9.3e} {:>7.3}",
                    name,
                    g.group.name(),
                    cos(g.cosine),
                    g.relative_bias,
                    g.relative_variance,
                    g.mean_relative_error,
                    cos(g.recon_cosine),
                    g.recon_relative_bias,
                    descent,
                    g.truth_norm,
                    g.truth_relative_error
                );
            }
        }
    }
}
