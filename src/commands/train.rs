//! `vqlab train`: train one or more methods (model × estimator × backend)
//! from the same start on the same batches.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{DataOpts, HyperOpts};
use super::output::{print_json_one_or_many, progress_bar};
use crate::error::invalid;
use crate::model::{Backend, Estimator, MethodKind, MethodSpec, ModelSpec};
use crate::train::TrainResult;

/// Arguments of `vqlab train`.
#[derive(Args)]
pub struct TrainCmd {
    /// The report's method names, comma-separated (tied model): manual-ste,
    /// manual-rotation (ndarray, hand-derived); autograd-ste, rotation (the
    /// report's estimator), rotation-trick (Fifty et al. 2024) (libtorch
    /// autograd); or "all". Not with --model/--estimator/--backend
    /// [default: manual-ste].
    #[arg(long, value_delimiter = ',', conflicts_with_all = ["estimator", "backend", "model"])]
    pub method: Option<Vec<String>>,
    /// Estimators, comma-separated or "all": ste, residual-projection (the
    /// report's "rotation"), rotation-trick, nsvq, gumbel (soft),
    /// gumbel-hard (straight-through) [default: ste].
    #[arg(long, value_delimiter = ',')]
    pub estimator: Option<Vec<String>>,
    /// Backends, comma-separated or "all": manual (hand-derived, ndarray),
    /// autograd (libtorch) [default: manual]. Every model × estimator has
    /// both.
    #[arg(long, value_delimiter = ',')]
    pub backend: Option<Vec<String>>,
    #[command(flatten)]
    pub hyper: HyperOpts,
    #[command(flatten)]
    pub data: DataOpts,
    /// Print JSON: config, curve (every --log-every steps: step, batch loss
    /// parts, eval metrics), final metrics. One method: an object; several:
    /// an array.
    #[arg(long)]
    pub json: bool,
    /// Write every final parameter as `<name>.npy` into DIR (tied: W, E;
    /// untied: W, V, E; mlp: A1, a1, A2, a2, B1, b1, B2, b2, E; biases as
    /// 1 × n), the centring mean (mean.npy) and params.json (model, method,
    /// sizes, scale), for `vqlab encode` and `vqlab evaluate`; one subfolder
    /// per method when several are trained.
    #[arg(long, value_name = "DIR")]
    pub save_params: Option<PathBuf>,
    /// Device of the autograd methods: cpu, or cuda where libtorch sees a GPU
    /// (the manual methods always run on the CPU).
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// The report's shorthands named in `names` ("all" for every one), in
/// order, without repeats.
pub fn parse_shorthands(names: &[String]) -> crate::Result<Vec<MethodKind>> {
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

/// Values of one axis by name ("all" for every one), in order, without
/// repeats.
fn parse_axis<T: Copy + PartialEq>(
    field: &'static str,
    names: &[String],
    all: &[T],
    name_of: impl Fn(T) -> &'static str,
) -> crate::Result<Vec<T>> {
    if names.iter().any(|n| n == "all") {
        return Ok(all.to_vec());
    }
    let mut out = Vec::new();
    for name in names {
        let value = all
            .iter()
            .copied()
            .find(|v| name_of(*v) == name)
            .ok_or_else(|| {
                let names: Vec<_> = all.iter().map(|v| name_of(*v)).collect();
                invalid(field, name, format!("one of {}, or all", names.join(", ")))
            })?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// The estimators named in `names` ("all" for every one).
pub fn parse_estimators(names: &[String]) -> crate::Result<Vec<Estimator>> {
    parse_axis("estimator", names, &Estimator::ALL, Estimator::name)
}

/// The methods a `train` invocation asks for: the shorthands of `--method`,
/// or the product of `--estimator` × `--backend` on `model`.
pub fn selected_methods(
    method: Option<&[String]>,
    estimator: Option<&[String]>,
    backend: Option<&[String]>,
    model: ModelSpec,
) -> crate::Result<Vec<MethodSpec>> {
    if let Some(names) = method {
        return Ok(parse_shorthands(names)?
            .into_iter()
            .map(MethodKind::spec)
            .collect());
    }
    let estimators = parse_estimators(estimator.unwrap_or(&["ste".to_string()]))?;
    let backends = parse_axis(
        "backend",
        backend.unwrap_or(&["manual".to_string()]),
        &Backend::ALL,
        Backend::name,
    )?;
    Ok(estimators
        .iter()
        .flat_map(|&e| backends.iter().map(move |&b| MethodSpec::new(model, e, b)))
        .collect())
}

/// Runs `vqlab train`.
pub fn execute(cmd: TrainCmd) -> Result<()> {
    let config = cmd.hyper.to_config(cmd.data.seed)?;
    let methods = selected_methods(
        cmd.method.as_deref(),
        cmd.estimator.as_deref(),
        cmd.backend.as_deref(),
        config.model,
    )?;
    let device = crate::model::parse_device(&cmd.device)?;
    let data = cmd.data.to_args(10_000, 2_000)?.load()?;
    let config = config.check(data.train.nrows(), data.dim())?;
    let start = crate::train::initial_params(data.train.view(), &config)?;
    let mut results: Vec<TrainResult> = Vec::new();
    for spec in &methods {
        let bar = progress_bar(config.steps as u64, &spec.name());
        let mut method = spec.build_on(config.weights(), device);
        let result =
            crate::train::train(method.as_mut(), &data, &config, Some(start.clone()), |s| {
                bar.set_position(s as u64)
            })?;
        bar.finish_and_clear();
        for warning in &result.warnings {
            eprintln!("warning: {}: {warning}", spec.name());
        }
        if let (Some(dir), Some(params)) = (&cmd.save_params, &result.params) {
            let dir = if methods.len() > 1 {
                dir.join(spec.name().replace('/', "-"))
            } else {
                dir.clone()
            };
            crate::train::saved::save(
                &dir,
                params,
                &data.describe(),
                data.mean.as_ref(),
                &spec.name(),
            )?;
        }
        results.push(result);
    }
    if cmd.json {
        print_json_one_or_many(&results)
    } else {
        print_table(&results);
        Ok(())
    }
}

fn print_table(results: &[TrainResult]) {
    use crate::train::significant as sig;
    let Some(first) = results.first() else {
        return;
    };
    let c = &first.config;
    let model = c.model.describe();
    println!(
        "train: model={} K={} m={} steps={} batch={} lr_w={} lr_e={} alpha={} beta={} init={} seed={}",
        model, c.k, c.m, c.steps, c.batch, c.lr_w, c.lr_e, c.alpha, c.beta, c.init.name(), c.seed
    );
    let dim = first.data.as_ref().map_or(1, |d| d.dim) as f64;
    if let Some(d) = &first.data {
        println!(
            "data: {} train / {} eval rows, D={}, centred={}, scaled by {} ({}); metrics in the data's units",
            d.n_train, d.n_eval, d.dim, d.centered, sig(d.scale), d.scaling.name()
        );
    }
    let i = &first.initial;
    println!(
        "initial: recon_mse={} (per coordinate {}) insub={} entropy={}",
        sig(i.recon_mse),
        sig(i.recon_mse / dim),
        sig(i.insub_distortion),
        sig(i.usage_entropy)
    );
    println!(
        "{:<36} {:>11} {:>11} {:>11} {:>9} {:>7} {:>6} {:>10} {:>9}",
        "method", "recon_mse", "recon/D", "insub", "entropy", "util", "dead", "ms/step", "|WᵀW−I|"
    );
    for r in results {
        let m = &r.final_metrics;
        println!(
            "{:<36} {:>11} {:>11} {:>11} {:>9} {:>6.1}% {:>5.1}% {:>10.4} {:>9}",
            r.method.name(),
            sig(m.recon_mse),
            sig(m.recon_mse / dim),
            sig(m.insub_distortion),
            sig(m.usage_entropy),
            100.0 * m.utilization + 0.0,
            100.0 * m.dead_code_fraction + 0.0,
            1e3 * r.timing.seconds_per_step,
            r.max_stiefel_defect
                .map_or("-".to_string(), |d| format!("{d:.1e}"))
        );
    }
}
