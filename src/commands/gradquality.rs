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

/// The key to the table, printed by `--help`.
const COLUMNS: &str = "\
The table, per point of the run, estimator and parameter group (ḡ is the
estimator's mean update over --batches mini-batches of the run's batch size,
ĝ one batch's, ∇J the true gradient, both Riemannian on W; all relative to
‖∇J‖ on the group):

  cos       cos(ḡ, ∇J): 1 when the mean update points along the true
            gradient, 0 orthogonal, negative uphill (— where the update is
            zero). Noise pulls it below 1: an unbiased update scores about
            1/√(1 + noise²).
  bias      ‖E ĝ − ∇J‖/‖∇J‖ with the noise of ḡ taken out; 0 for an
            unbiased estimator. ∇J is taken on the rows the batches come
            from, so the part through the decoder is exact on them.
  noise     the noise in ḡ − ∇J: √(ν_ḡ² + ν_∇J²), ν_ḡ the standard error
            of ḡ and ν_∇J that of ∇J's boundary part (the part through the encoder
            and the codebook's cells). A bias, or a cos below 1, of this size
            is noise: more --batches, more rows (--n-eval) or a larger --h
            lower it.
  var       E‖ĝ − ḡ‖²/‖∇J‖², one batch's spread around the mean.
  cos rec, bias rec
            the same for the reconstruction part of the update alone
            (α = β = 0: no codebook or commitment term).
  descent   (row `all`, SGD only) J's drop after one step of η ḡ over its
            drop after a step of the same length along −∇J, ± its standard
            error; — when the step is zero or the drop along −∇J is not
            above twice its error. Not bounded by 1 (finite steps; η_W and
            η_E weigh the groups, the reference step does not); ḡ's own
            noise is not in its error.
  |∇J|      the true gradient's norm on the group (scaled units).

Each point's first line is J (the mean reconstruction error on the rows ∇J
is taken on) ± its standard error. The `gumbel` and `gumbel-hard` rows draw
at the τ of --gumbel-tau's schedule at that step (default 1); rows
`gumbel τ=…` (with --tau) are soft Gumbel-Softmax at that temperature
instead, on the same batches and draws. Below each point, STE's bias by the
rows' quantization error: the rows split into five bins of equal counts by
‖z − q‖ (code-space units: `‖z − q‖` the bin's range, `mean` its mean);
`bias` is ‖mean over the bin's rows of (∂z/∂θ)ᵀ(u − S)‖/‖∇J‖ on the
encoder's parameters, u what STE hands z and S the row's code-space slope
(the reconstruction part of STE's update minus ∇J, restricted to the bin's
rows, as a per-row mean: not a share of the whole bias;
docs/TRUE-GRADIENT.md), and `noise` the standard error of S's part.

The JSON (--json, --out) has every number above, the raw bias, ±ḡ, ±∇J,
∇J's error against the population's, and both drops with their errors.";

/// Arguments of `vqlab gradquality`.
#[derive(Args)]
#[command(after_long_help = COLUMNS)]
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
    /// Mini-batches each estimator's mean update is taken over (its noise
    /// falls as 1/√batches).
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true)]
    pub batches: usize,
    /// The step h of ∇J's central differences in code space (the units of
    /// z = enc(x)): bias O(h²), standard error O(1/√(N h)).
    #[arg(long, default_value_t = 0.01, allow_negative_numbers = true)]
    pub h: f64,
    /// Also measure Gumbel-Softmax (soft) at each of these temperatures
    /// τ (each finite and > 0), comma-separated, beside the run's own (how
    /// its bias and variance move as τ falls).
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub tau: Vec<f64>,
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
        .to_config_for(cmd.data.seed, &data, args.is_file())?;
    if config.model.kind == crate::model::ModelKind::Conv {
        return Err(crate::error::VqError::InvalidConfig {
            field: "model",
            value: "conv".into(),
            allowed: "tied, untied or mlp: the true gradient is not written for the conv model yet"
                .into(),
        }
        .into());
    }
    let config = config.check(data.train.nrows(), data.dim())?;
    let steps = config.steps;
    let run_estimator = Estimator::ALL
        .into_iter()
        .find(|e| e.name() == cmd.run_estimator)
        .ok_or_else(|| {
            crate::error::invalid(
                "run-estimator",
                &cmd.run_estimator,
                format!("one of {}", Estimator::ALL.map(Estimator::name).join(", ")),
            )
        })?;
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
        taus: cmd.tau.clone(),
    };
    let rows = if args.is_file() {
        data.train.view()
    } else {
        data.eval.view()
    };
    options.check(rows.nrows())?;
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
        "∇J on {} {} rows (h = {}), each estimator's mean over {} batches; `vqlab gradquality --help` explains the columns",
        r.rows,
        if file { "training" } else { "fresh generator" },
        r.step,
        r.batches
    );
    let cos = |c: Option<f64>| c.map_or("—".to_string(), |c| format!("{c:.3}"));
    for p in &r.points {
        println!(
            "\nstep {}: J = {:.6} ± {:.1e}",
            p.step, p.objective.value, p.objective.std_error
        );
        println!(
            "  {:<20} {:<16} {:>7} {:>7} {:>7} {:>9} {:>7} {:>8} {:>16} {:>9}",
            "estimator",
            "group",
            "cos",
            "bias",
            "noise",
            "var",
            "cos rec",
            "bias rec",
            "descent",
            "|∇J|"
        );
        let taus = p
            .gumbel_by_tau
            .iter()
            .map(|t| (format!("gumbel τ={}", t.tau), &t.quality));
        let rows = p
            .estimators
            .iter()
            .map(|e| (e.estimator.name().to_string(), e))
            .chain(taus);
        for (name, e) in rows {
            for (i, g) in e.groups.iter().enumerate() {
                let descent = match (&e.descent, g.group) {
                    (Some(d), Group::All) => d.ratio.map_or("—".to_string(), |r| {
                        format!("{:.3} ± {:.3}", r.value, r.std_error)
                    }),
                    (None, Group::All) => "(adam)".into(),
                    _ => String::new(),
                };
                println!(
                    "  {:<20} {:<16} {:>7} {:>7.3} {:>7.3} {:>9.3e} {:>7} {:>8.3} {:>16} {:>9.3e}",
                    if i == 0 { name.as_str() } else { "" },
                    g.group.name(),
                    cos(g.cosine),
                    g.relative_bias,
                    g.noise,
                    g.relative_variance,
                    cos(g.recon_cosine),
                    g.recon_relative_bias,
                    descent,
                    g.truth_norm
                );
            }
        }
        println!("  STE's reconstruction bias on the encoder by ‖z − q‖ (bins of equal counts):");
        println!(
            "    {:<20} {:>9} {:>9} {:>7}",
            "‖z − q‖", "mean", "bias", "noise"
        );
        for bin in &p.ste_bias_by_error {
            println!(
                "    {:<20} {:>9.4} {:>9.3} {:>7.3}",
                format!("{:.4} – {:.4}", bin.low, bin.high),
                bin.mean_error,
                bin.relative_bias,
                bin.noise
            );
        }
    }
}
