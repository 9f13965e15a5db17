//! `vqlab train`: train one or more methods (model × estimator × backend)
//! from the same start on the same batches.
use std::path::PathBuf;

use anyhow::Result;
use clap::Args;

use super::args::{DataOpts, HyperOpts};
use super::output::{print_json_one_or_many, progress_bar};
use super::train_out::{print_table, write_curves, DivergedRun, Record};
use crate::error::{invalid, VqError};
use crate::infra::provenance::Provenance;
use crate::model::{Backend, Estimator, MethodKind, MethodSpec, ModelSpec};
use crate::train::rates::{choose_rates, RateOrigin, RateSearch};
use crate::train::saved::TrainedBy;
use crate::train::{readable, Divergence};

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
    /// How the learning rates are chosen. fixed: --lr-w/--lr-e or their
    /// defaults (the report's on the generator, from the spectrum on a data
    /// file, Adam's 1e-3). auto: choose each method's rates on validation
    /// rows carved from the training rows (--val-fraction; the evaluation
    /// rows are never read while choosing): × 0.25, 1 and 4 of the fixed
    /// rates, up to two more steps of 4 past a winning edge, the lowest
    /// validation recon kept; every rate tried is printed. The same search
    /// as `vqlab future`. [default: auto on a data file or set when neither
    /// --lr-w nor --lr-e is given, else fixed]
    #[arg(long, value_enum)]
    pub lr: Option<LrChoice>,
    /// With --lr auto: the share of the training rows held out to choose
    /// the rates (they are then not trained on).
    #[arg(long, default_value_t = 0.125, allow_negative_numbers = true)]
    pub val_fraction: f64,
    /// Write every method's curve (each --log-every steps: batch loss parts,
    /// eval metrics, restarts; data units) to FILE as CSV, and a plot of eval
    /// recon along training beside it (FILE with .svg).
    #[arg(long, value_name = "FILE")]
    pub curves: Option<PathBuf>,
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

/// How `--lr` chooses the learning rates.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LrChoice {
    /// Train at × 0.25, 1, 4 of the rates (given or default), extended up
    /// to twice past a winning edge, and keep the lowest validation recon.
    Auto,
    /// Train once at the rates given or their defaults.
    Fixed,
}

impl LrChoice {
    /// The choice `--lr` makes when it is not given: the search on a data
    /// file or set whose rates are not given (one rule of thumb cannot fit
    /// every data set and estimator), the rates as they are otherwise (the
    /// generator keeps the report's protocol).
    pub fn resolve(given: Option<LrChoice>, from_file: bool, rates_given: bool) -> LrChoice {
        given.unwrap_or(if from_file && !rates_given {
            LrChoice::Auto
        } else {
            LrChoice::Fixed
        })
    }
}

/// Runs `vqlab train`.
pub fn execute(cmd: TrainCmd) -> Result<()> {
    let methods = selected_methods(
        cmd.method.as_deref(),
        cmd.estimator.as_deref(),
        cmd.backend.as_deref(),
        cmd.hyper.to_config(cmd.data.seed)?.model,
    )?;
    let device = crate::model::parse_device(&cmd.device)?;
    let args = cmd.data.to_args(10_000, 2_000)?;
    let mut data = args.load()?;
    let rates_given = cmd.hyper.lr_w.is_some() || cmd.hyper.lr_e.is_some();
    let val = match LrChoice::resolve(cmd.lr, args.is_file(), rates_given) {
        LrChoice::Auto => Some(carve_validation(&mut data, cmd.val_fraction)?),
        LrChoice::Fixed => None,
    };
    let (config, origin) = cmd
        .hyper
        .to_config_for(cmd.data.seed, &data, args.is_file())?;
    // The conv model's image shape comes from the data.
    let methods: Vec<MethodSpec> = methods
        .into_iter()
        .map(|mut spec| {
            spec.model.image = config.model.image;
            spec
        })
        .collect();
    let config = config
        .check(data.train.nrows(), data.dim())
        .map_err(|e| match (e, &val) {
            (
                VqError::InvalidConfig {
                    field,
                    value,
                    allowed,
                },
                Some(val),
            ) if field == "k" || field == "batch" => VqError::InvalidConfig {
                field,
                value,
                allowed: format!(
                    "{allowed}: {} of the training rows are held out to choose the learning rates (--lr fixed keeps them)",
                    val.nrows()
                ),
            },
            (e, _) => e,
        })?;
    let start = crate::train::initial_params(data.train.view(), &config)?;
    let stop = super::output::stop_on_ctrl_c_in_train();
    let search = RateSearch::standard();
    let mut records: Vec<Record> = Vec::new();
    let mut interrupted: Option<(usize, Option<PathBuf>)> = None;
    for spec in &methods {
        let runs = if val.is_some() { search.max_runs() } else { 1 };
        let bar = progress_bar((runs * config.steps) as u64, &spec.name());
        let run_at = |rates: (f64, f64), offset: u64| {
            let mut c = config.config().clone();
            (c.lr_w, c.lr_e) = rates;
            let c = c.check(data.train.nrows(), data.dim())?;
            let mut method = spec.build_on(c.weights(), device);
            crate::train::train_until(
                method.as_mut(),
                &data,
                &c,
                Some(start.clone()),
                |s| bar.set_position(offset + s as u64),
                crate::train::Stops {
                    interrupt: Some(&stop),
                    keep_diverged: true,
                    stop_after: None,
                },
            )
        };
        let outcome = match &val {
            None => run_at((config.lr_w, config.lr_e), 0).map(|r| (r, origin.clone())),
            Some(val) => {
                let mut done = 0u64;
                let choice = choose_rates(
                    (config.lr_w, config.lr_e),
                    &search,
                    val.view(),
                    data.scale,
                    |rates| {
                        let r = run_at(rates, done * config.steps as u64)?;
                        done += 1;
                        if let Some(step) = r.interrupted_at {
                            return Err(VqError::TrainInterrupted {
                                step,
                                steps: config.steps,
                                saved: None,
                            });
                        }
                        Ok(r)
                    },
                );
                match choice {
                    Ok(choice) => {
                        let origin = RateOrigin::Validation {
                            base: Box::new(origin.clone()),
                            val_rows: val.nrows(),
                            grid: choice.points.clone(),
                            chosen: choice.chosen,
                        };
                        eprintln!("{}: {}", spec.name(), origin.describe());
                        for p in &choice.points {
                            eprintln!(
                                "  × {:<8} lr_w={:<10} lr_e={:<10} val recon_mse {}",
                                p.multiplier,
                                readable(p.lr_w),
                                readable(p.lr_e),
                                p.val_recon.map_or("diverged".to_string(), readable)
                            );
                        }
                        match choice.chosen {
                            Some(0) => eprintln!(
                                "warning: {}: the smallest rate tried won (the search extends at most {} times): a better one may lie below; try a smaller --lr-w/--lr-e",
                                spec.name(),
                                search.extend
                            ),
                            Some(i) if i + 1 == choice.points.len() => eprintln!(
                                "warning: {}: the largest rate tried won (the search extends at most {} times): a better one may lie above; try a larger --lr-w/--lr-e",
                                spec.name(),
                                search.extend
                            ),
                            _ => {}
                        }
                        match choice.best {
                            Some(best) => Ok((best, origin)),
                            None => Err(VqError::Diverged {
                                method: spec.name().to_string(),
                                step: 0,
                                quantity: "every rate of the search".into(),
                            }),
                        }
                    }
                    Err(VqError::TrainInterrupted { step, .. }) => {
                        bar.finish_and_clear();
                        interrupted = Some((step, None));
                        break;
                    }
                    Err(e) => Err(e),
                }
            }
        };
        bar.finish_and_clear();
        let mut result = match outcome {
            Ok((result, origin)) => {
                let mut result = Box::new(result);
                result.rates = Some(origin);
                result
            }
            // --lr auto: every rate of the search diverged.
            Err(VqError::Diverged {
                method, quantity, ..
            }) => {
                eprintln!("warning: {method} diverged at {quantity}");
                records.push(Record::Diverged(Box::new(DivergedRun {
                    method: *spec,
                    config: config.config().clone(),
                    diverged: Divergence {
                        step: 0,
                        what: format!("diverged at {quantity}"),
                    },
                    provenance: Provenance::current(),
                })));
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        result.provenance = Some(Provenance::current());
        if let Some(d) = &result.diverged {
            eprintln!(
                "warning: {} diverged at step {}: {}; stopped there",
                spec.name(),
                d.step,
                d.what
            );
            // The diverged line says it; the recon warnings would only repeat it.
            result
                .warnings
                .retain(|w| !w.starts_with("eval recon_mse rose"));
        }
        for warning in &result.warnings {
            eprintln!("warning: {}: {warning}", spec.name());
        }
        let save_to = match (&cmd.save_params, result.interrupted_at) {
            (Some(dir), _) => Some(dir.clone()),
            (None, Some(_)) => Some(PathBuf::from("train-interrupted")),
            (None, None) => None,
        };
        if let (Some(dir), Some(params), None) = (&save_to, &result.params, &result.diverged) {
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
                Some(TrainedBy {
                    provenance: Provenance::current(),
                    config: result.config.full_json(),
                    rates: result.rates.clone(),
                    interrupted_at: result.interrupted_at,
                }),
            )?;
            if let Some(step) = result.interrupted_at {
                interrupted = Some((step, Some(dir)));
            }
        } else if result.diverged.is_some() && cmd.save_params.is_some() {
            eprintln!(
                "warning: {}: parameters not saved (the run diverged)",
                spec.name()
            );
        }
        let stopped = result.interrupted_at.is_some();
        records.push(Record::Finished(result));
        if stopped {
            break;
        }
    }
    if cmd.json {
        print_json_one_or_many(&records)?;
    } else {
        let rates = records
            .iter()
            .find_map(|r| match r {
                Record::Finished(r) => r.rates.as_ref().map(|o| o.describe()),
                Record::Diverged(_) => None,
            })
            .unwrap_or_else(|| origin.describe());
        let gumbel = methods
            .iter()
            .any(|m| matches!(m.estimator, Estimator::Gumbel | Estimator::GumbelHard));
        print_table(&records, config.config(), &rates, (gumbel, val.is_some()));
    }
    if let Some(path) = &cmd.curves {
        let svg = write_curves(&records, path)?;
        eprintln!("wrote {} and {}", path.display(), svg.display());
    }
    if let Some((step, saved)) = interrupted {
        return Err(VqError::TrainInterrupted {
            step,
            steps: config.steps,
            saved,
        }
        .into());
    }
    let diverged = records.iter().filter(|r| r.diverged()).count();
    if diverged > 0 {
        return Err(VqError::SomeDiverged {
            diverged,
            total: methods.len(),
        }
        .into());
    }
    Ok(())
}

/// Moves the last `fraction` of the training rows (at least one, leaving
/// at least one) into a validation split and returns it. The rows are
/// already in random order (files are shuffled with the seed; the
/// generator draws them independently); the evaluation rows are untouched.
pub fn carve_validation(
    data: &mut crate::data::Dataset,
    fraction: f64,
) -> crate::Result<ndarray::Array2<f64>> {
    if !(fraction > 0.0 && fraction < 1.0) {
        return Err(crate::error::invalid(
            "val_fraction",
            fraction,
            "a number in (0, 1)",
        ));
    }
    let n = data.train.nrows();
    let n_val = ((n as f64 * fraction).round() as usize).max(1);
    if n_val >= n {
        return Err(crate::error::invalid(
            "val_fraction",
            fraction,
            format!("a share that leaves rows to train on ({n} training rows)"),
        ));
    }
    let val = data.train.slice(ndarray::s![n - n_val.., ..]).to_owned();
    data.train = data.train.slice(ndarray::s![..n - n_val, ..]).to_owned();
    Ok(val)
}

#[cfg(test)]
mod tests {
    use super::LrChoice;

    #[test]
    fn the_search_is_the_default_only_on_data_whose_rates_are_not_given() {
        use LrChoice::{Auto, Fixed};
        // (given, from a file, rates given) → choice
        let cases = [
            (None, true, false, Auto),
            (None, true, true, Fixed),
            (None, false, false, Fixed),
            (None, false, true, Fixed),
            (Some(Fixed), true, false, Fixed),
            (Some(Auto), false, false, Auto),
            (Some(Auto), true, true, Auto),
        ];
        for (given, file, rates, want) in cases {
            assert!(
                LrChoice::resolve(given, file, rates) == want,
                "{:?}",
                (file, rates)
            );
        }
    }
}
