//! Command-line options shared by several commands: the data source and the
//! training hyperparameters (with the model axis).
use clap::Args;
use std::path::PathBuf;

use super::data_args::DataArgs;
use crate::data::{Scaling, SyntheticSpec};
use crate::model::codebook::{CodebookSpec, CodebookUpdate};
use crate::model::estimator::GumbelSpec;
use crate::model::{Activation, ModelKind, ModelSpec};
use crate::optim::{OptimizerKind, OptimizerSpec, ScheduleKind, ScheduleSpec};
use crate::train::rates::{default_rates, RateOrigin};
use crate::train::{report, Init, SvdChoice, TrainConfig};
use crate::VqError;

/// How a study runs its units: workers, the run store, shards (`future`,
/// `study`).
#[derive(Args, Clone)]
pub struct StoreOpts {
    /// Worker threads; each run is single-threaded, so results do not depend
    /// on this.
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Recompute every unit even if a stored result matches.
    #[arg(long)]
    pub fresh: bool,
    /// Compute only shard I of N of the units (1 ≤ I ≤ N) into the run
    /// store and render nothing; a run without --shard (same flags, same
    /// store) renders. Units are split by estimated cost.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<crate::study::shard::Shard>,
    /// The run store (default: OUT/.runs, or $VQLAB_STORE), shared with
    /// the other studies; may be a shared filesystem.
    #[arg(long, value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Print the units (key, shard, estimated cost, configuration) as JSON
    /// lines and exit without computing.
    #[arg(long)]
    pub plan: bool,
}

/// Hyperparameters shared by `train` and `gradcheck` (the notation of `docs/MODEL.md`).
#[derive(Args, Clone)]
pub struct HyperOpts {
    /// Codebook size K.
    #[arg(long, allow_negative_numbers = true, default_value_t = report::K)]
    pub k: usize,
    /// Code dimension m.
    #[arg(long, allow_negative_numbers = true, default_value_t = report::M)]
    pub m: usize,
    /// Training steps.
    #[arg(long, allow_negative_numbers = true, default_value_t = report::STEPS)]
    pub steps: usize,
    /// Mini-batch size B (distinct rows each step, from the seed's own stream:
    /// identical across methods for the same seed).
    #[arg(long, allow_negative_numbers = true, default_value_t = report::BATCH)]
    pub batch: usize,
    /// Learning rate η_W of every network parameter (Riemannian on W)
    /// [default: SGD on the generator the report's 0.08; SGD on a data file
    /// or set 0.08 · 4.80 / λ₁, λ₁ the largest eigenvalue of the training
    /// rows' second moment (the report's η_W λ₁; docs/MODEL.md); Adam 1e-3].
    #[arg(long, allow_negative_numbers = true)]
    pub lr_w: Option<f64>,
    /// Learning rate η_E of the codebook [default: SGD 0.2, the report's;
    /// Adam 1e-3]. Not with --codebook ema, whose codebook follows moving
    /// averages.
    #[arg(long, allow_negative_numbers = true)]
    pub lr_e: Option<f64>,
    /// α: weight of the codebook term ‖sg(z) − q‖².
    #[arg(long, default_value_t = report::ALPHA, allow_negative_numbers = true)]
    pub alpha: f64,
    /// β: weight of the commitment term ‖z − sg(q)‖².
    #[arg(long, default_value_t = report::BETA, allow_negative_numbers = true)]
    pub beta: f64,
    /// Where the parameters start (the report does not say): pca = the
    /// baseline's W and E (untied: V = W); random = random Stiefel W (untied:
    /// V = W), for mlp and conv PyTorch's default (nn.Linear, Conv2d,
    /// ConvTranspose2d); E by k-means++ and Lloyd on the initial codes
    /// [default: pca for tied and untied, random for mlp and conv].
    #[arg(long, value_enum)]
    pub init: Option<Init>,
    /// The model: tied (z = Wᵀx, x̂ = Wq, the report's), untied (x̂ = Vq with
    /// V free), mlp (one hidden layer each way), conv (a convolutional
    /// VQ-VAE on images: stride-2 convolutions to a grid of latent vectors,
    /// each quantized, and transposed convolutions back; needs image data:
    /// --set mnist, digits or photos, or --image-shape for other data).
    #[arg(long, value_enum)]
    pub model: Option<ModelKind>,
    /// Hidden width h of the mlp model [default: 64].
    #[arg(long, allow_negative_numbers = true)]
    pub hidden: Option<usize>,
    /// Channels of the conv model's hidden layers [default: 32].
    #[arg(long, allow_negative_numbers = true)]
    pub channels: Option<usize>,
    /// Stride-2 layers each way of the conv model, 1–4; the image's height
    /// and width must divide by 2^depth (the latent grid is the image /
    /// 2^depth: 28×28 → 7×7 at depth 2) [default: 2].
    #[arg(long, allow_negative_numbers = true)]
    pub depth: Option<usize>,
    /// Kernel side of the conv model's stride-2 layers, even (padding
    /// (k − 2)/2) [default: 4].
    #[arg(long, allow_negative_numbers = true)]
    pub kernel: Option<usize>,
    /// Nonlinearity of the mlp and conv models [default: relu].
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    /// Lloyd iterations of the initial codebook.
    #[arg(long, default_value_t = report::KMEANS_ITERS)]
    pub kmeans_iters: usize,
    /// Evaluate on the whole eval set every this many steps (0: start and end).
    #[arg(long, default_value_t = report::LOG_EVERY)]
    pub log_every: usize,
    /// SVD of the polar retraction: per-method = libtorch for autograd
    /// methods, LAPACK for manual ones (as in the original); or one for all.
    #[arg(long, value_enum, default_value_t = SvdChoice::PerMethod)]
    pub svd: SvdChoice,
    /// Optimizer: sgd (Riemannian SGD on Stiefel parameters, SGD elsewhere;
    /// the report's) or adam (Riemannian Adam on Stiefel parameters, Adam
    /// elsewhere and on E).
    #[arg(long, value_enum, default_value_t = OptimizerKind::Sgd)]
    pub optimizer: OptimizerKind,
    /// β₁ of Adam, in [0, 1).
    #[arg(long, default_value_t = 0.9, allow_negative_numbers = true)]
    pub adam_beta1: f64,
    /// β₂ of Adam, in [0, 1).
    #[arg(long, default_value_t = 0.999, allow_negative_numbers = true)]
    pub adam_beta2: f64,
    /// ε of Adam, > 0.
    #[arg(long, default_value_t = 1e-8, allow_negative_numbers = true)]
    pub adam_eps: f64,
    /// Learning-rate schedule of every rate: constant, or cosine from the
    /// start rate to --lr-final-w / --lr-final-e over the run's steps.
    #[arg(long, value_enum, default_value_t = ScheduleKind::Constant)]
    pub schedule: ScheduleKind,
    /// Final η_W of the cosine schedule (0 ≤ final ≤ --lr-w).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub lr_final_w: f64,
    /// Final η_E of the cosine schedule (0 ≤ final ≤ --lr-e).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub lr_final_e: f64,
    /// Codebook update: grad (the optimizer along ∂L/∂E, the report's) or ema
    /// (exponential moving averages of the assigned codes; E then gets no
    /// gradient step).
    #[arg(long, value_enum, default_value_t = CodebookUpdate::Grad)]
    pub codebook: CodebookUpdate,
    /// γ of the EMA codebook and of the dead-code usage average, in [0, 1).
    #[arg(long, default_value_t = 0.99, allow_negative_numbers = true)]
    pub ema_gamma: f64,
    /// ε of the EMA codebook's Laplace smoothing, > 0.
    #[arg(long, default_value_t = 1e-5, allow_negative_numbers = true)]
    pub ema_eps: f64,
    /// Restart a code whose usage average (rows per batch) falls below this,
    /// at the code of a random batch row [default: off].
    #[arg(long, allow_negative_numbers = true)]
    pub dead_code_threshold: Option<f64>,
    /// τ₀ of the Gumbel estimators (> 0); τ_t = max(τ_min, τ₀ e^(−r t)).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub gumbel_tau: f64,
    /// τ_min of the Gumbel estimators (0 < τ_min ≤ τ₀).
    #[arg(long, default_value_t = 0.1, allow_negative_numbers = true)]
    pub gumbel_tau_min: f64,
    /// Annealing rate r of the Gumbel temperature per step (0: constant τ₀).
    #[arg(long, default_value_t = 0.0, allow_negative_numbers = true)]
    pub gumbel_tau_rate: f64,
}

impl HyperOpts {
    /// The model these options ask for (its image shape comes from the
    /// data later); a flag of another model is refused: `--hidden` and
    /// `--activation` for the linear models, `--channels`, `--depth` and
    /// `--kernel` for all but conv, `--hidden` for conv.
    pub fn model_spec(&self) -> crate::Result<ModelSpec> {
        let kind = self.model.unwrap_or_default();
        let conv = kind == ModelKind::Conv;
        if !kind.model().has_hidden_layer() {
            if let Some(a) = self.activation {
                return Err(invalid_flag("activation", a.name(), kind));
            }
        }
        if let Some(h) = self.hidden.filter(|_| kind != ModelKind::Mlp) {
            return Err(invalid_flag("hidden", h, kind));
        }
        for (field, value) in [
            ("channels", self.channels),
            ("depth", self.depth),
            ("kernel", self.kernel),
        ] {
            if let Some(v) = value.filter(|_| !conv) {
                return Err(invalid_flag(field, v, kind));
            }
        }
        let mut spec = ModelSpec::of(kind);
        spec.hidden = self.hidden.or(self.channels).unwrap_or(spec.hidden);
        spec.activation = self.activation.unwrap_or(spec.activation);
        spec.layers.depth = self.depth.unwrap_or(spec.layers.depth);
        spec.layers.kernel = self.kernel.unwrap_or(spec.layers.kernel);
        Ok(spec)
    }

    /// The learning rates for training rows `train` (`from_file`: a data
    /// file or set, not the generator): those given, the rest from
    /// [`default_rates`], and where they came from.
    pub fn rates(
        &self,
        train: ndarray::ArrayView2<f64>,
        from_file: bool,
    ) -> crate::Result<((f64, f64), RateOrigin)> {
        if let (Some(w), Some(e)) = (self.lr_w, self.lr_e) {
            return Ok(((w, e), RateOrigin::Given));
        }
        let ((w, e), origin) = default_rates(self.optimizer, train, from_file)?;
        let rates = (self.lr_w.unwrap_or(w), self.lr_e.unwrap_or(e));
        Ok(match (self.lr_w, self.lr_e) {
            (None, None) => (rates, origin),
            (given_w, _) => (
                rates,
                RateOrigin::PartlyGiven {
                    given: if given_w.is_some() { "lr_w" } else { "lr_e" }.into(),
                    rest: Box::new(origin),
                },
            ),
        })
    }

    /// [`HyperOpts::to_config`] with the learning rates of
    /// [`HyperOpts::rates`] on `train`.
    pub fn to_config_for(
        &self,
        seed: u64,
        data: &crate::data::Dataset,
        from_file: bool,
    ) -> crate::Result<(TrainConfig, RateOrigin)> {
        let train = data.train.view();
        let mut config = self.to_config(seed)?;
        if config.model.kind == ModelKind::Conv {
            config.model.image = data.image;
        }
        let ((mut w, mut e), mut origin) = self.rates(train, from_file)?;
        // The conv model's shared weights sum their gradient over every
        // position they slide over, and its codebook term over every latent
        // vector of an image: the SGD rule's η_W divided by the first
        // layer's positions, η_E by the latent vectors (at the rule's own
        // rates the loss diverges).
        if let (Some((positions, latent)), OptimizerKind::Sgd) = (
            crate::train::rates::shared_weight_divisors(&config.model),
            self.optimizer,
        ) {
            if self.lr_w.is_none() {
                w /= positions as f64;
            }
            if self.lr_e.is_none() {
                e /= latent as f64;
            }
            if self.lr_w.is_none() || self.lr_e.is_none() {
                origin = RateOrigin::SharedWeights {
                    positions,
                    latent,
                    base: Box::new(origin),
                };
            }
        }
        (config.lr_w, config.lr_e) = (w, e);
        Ok((config, origin))
    }

    /// The training configuration of these options for `seed` (checked
    /// later, against the data), with the given learning rates or the
    /// report's (see [`HyperOpts::to_config_for`] for the data's defaults).
    pub fn to_config(&self, seed: u64) -> crate::Result<TrainConfig> {
        let model = self.model_spec()?;
        if self.codebook == CodebookUpdate::Ema {
            if let Some(lr_e) = self.lr_e {
                return Err(VqError::InvalidConfig {
                    field: "lr_e",
                    value: lr_e.to_string(),
                    allowed: "not used with --codebook ema: the codebook follows moving averages of the codes (see --ema-gamma)".into(),
                });
            }
        }
        let default_init = Init::default_for(&model);
        Ok(TrainConfig {
            model,
            k: self.k,
            m: self.m,
            steps: self.steps,
            batch: self.batch,
            lr_w: self.lr_w.unwrap_or(report::LR_W),
            lr_e: self.lr_e.unwrap_or(report::LR_E),
            alpha: self.alpha,
            beta: self.beta,
            init: self.init.unwrap_or(default_init),
            kmeans_iters: self.kmeans_iters,
            seed,
            log_every: self.log_every,
            svd: self.svd,
            optimizer: OptimizerSpec {
                kind: self.optimizer,
                beta1: self.adam_beta1,
                beta2: self.adam_beta2,
                eps: self.adam_eps,
            },
            schedule: ScheduleSpec {
                kind: self.schedule,
                lr_final_w: self.lr_final_w,
                lr_final_e: self.lr_final_e,
            },
            codebook: CodebookSpec {
                update: self.codebook,
                gamma: self.ema_gamma,
                eps: self.ema_eps,
                dead_code_threshold: self.dead_code_threshold,
            },
            gumbel: GumbelSpec {
                tau: self.gumbel_tau,
                tau_min: self.gumbel_tau_min,
                tau_rate: self.gumbel_tau_rate,
            },
        })
    }
}

fn invalid_flag(field: &'static str, value: impl std::fmt::Display, model: ModelKind) -> VqError {
    let whose = match field {
        "hidden" => "only --model mlp has a hidden width (the conv model's is --channels)",
        "activation" => "only --model mlp and --model conv have hidden layers",
        _ => "only --model conv has convolutions",
    };
    VqError::InvalidConfig {
        field,
        value: value.to_string(),
        allowed: format!("not used by the {} model: {whose}", model.name()),
    }
}

/// Where the data come from. Without --data, the synthetic generator
/// (x = U diag(s) g + σ n, D = 64, rank 6; see docs/MODEL.md).
#[derive(Args, Clone)]
pub struct DataOpts {
    /// Training samples [default: the command's experiment size; with --data:
    /// all rows not held out for evaluation].
    #[arg(long, allow_negative_numbers = true)]
    pub n_train: Option<usize>,
    /// Evaluation samples: an independent draw, or with --data exactly this
    /// many rows held out [default: the command's experiment size; with
    /// --data: --eval-fraction of the rows].
    #[arg(long, allow_negative_numbers = true)]
    pub n_eval: Option<usize>,
    /// With --data: the share of the rows held out for evaluation, in (0, 1)
    /// (--n-eval, when given, is exact instead).
    #[arg(long, default_value_t = 0.2, allow_negative_numbers = true)]
    pub eval_fraction: f64,
    /// With --data: a file of evaluation rows (a split of your own); --data
    /// is then all training. The widths must match.
    #[arg(long, value_name = "PATH")]
    pub eval_data: Option<PathBuf>,
    /// Seed of the data and of every random choice of the run.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Real data instead of the generator: a .npy (2-D; float or integer
    /// dtypes) or .csv file, one sample per row. Rows are shuffled with
    /// --seed, the eval rows split off, both splits centred by the training
    /// mean and scaled (--scale).
    #[arg(long, value_name = "PATH")]
    pub data: Option<PathBuf>,
    /// A built-in data set instead of the generator (what ./data-setup.sh
    /// installs, read from --data-dir), split, centred and scaled as
    /// --data is: digits (scikit-learn's, 1,797 × 64, 8×8 images), mnist
    /// (10,000 × 784, 28×28 images) or photos (20,000 training and 2,000
    /// held-out 32×32 RGB crops of photographs, 3,072 values; evaluated on
    /// the held-out photograph's crops).
    #[arg(long, value_enum, conflicts_with_all = ["data", "eval_data"])]
    pub set: Option<crate::data::RealSet>,
    /// Where --set finds the data sets [default: $VQLAB_DATA, else ./data].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Do not centre --data by the training mean.
    #[arg(long)]
    pub no_center: bool,
    /// Scaling after centring: unit-variance divides both splits by the
    /// training entries' root mean square, so the default learning rates
    /// work whatever the data's units; metrics are reported in the data's
    /// own units [default: unit-variance with --data, none for the
    /// generator].
    #[arg(long, value_enum)]
    pub scale: Option<Scaling>,
    /// The CSV delimiter (one character; `tab` for a tab) [default: detected
    /// from the first line among , ; tab |].
    #[arg(long, value_parser = parse_delimiter)]
    pub delimiter: Option<u8>,
    /// Generator: a preset written by `vqlab calibrate` [default: the
    /// compiled-in presets/report-calibrated.json].
    #[arg(long, value_name = "PATH")]
    pub preset: Option<PathBuf>,
    /// Generator: standard deviations of the signal along the planted
    /// directions (comma-separated; their count is the rank).
    #[arg(long, value_delimiter = ',', value_name = "S1,S2,...")]
    pub spectrum: Option<Vec<f64>>,
    /// Generator: standard deviation of the isotropic noise.
    #[arg(long)]
    pub noise_sigma: Option<f64>,
    /// Generator: ambient dimension D (with --data: the width the file must
    /// have).
    #[arg(long)]
    pub dim: Option<usize>,
    /// Read every row as an image of C channels × H × W pixels, channel by
    /// channel, row by row (PyTorch's (C, H, W) flattened), e.g. 3,32,32:
    /// what --model conv needs for a data file (the built-in sets know
    /// their shape: mnist 1,28,28, digits 1,8,8, photos 3,32,32, and a
    /// different one is refused).
    #[arg(long, value_name = "C,H,W")]
    pub image_shape: Option<crate::data::ImageShape>,
}

/// The folder of the built-in data sets: `dir`, else $VQLAB_DATA, else
/// ./data (where ./data-setup.sh links them).
pub fn data_dir(dir: Option<&std::path::Path>) -> PathBuf {
    dir.map(PathBuf::from)
        .or_else(|| std::env::var_os("VQLAB_DATA").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("data"))
}

fn parse_delimiter(text: &str) -> Result<u8, String> {
    match text {
        "tab" | "\\t" | "\t" => Ok(b'\t'),
        t if t.len() == 1 && t.is_ascii() => Ok(t.as_bytes()[0]),
        other => Err(format!("{other:?} is not one ASCII character (or `tab`)")),
    }
}

/// Reads a generator preset written by `vqlab calibrate`.
pub fn read_preset(path: &std::path::Path) -> anyhow::Result<SyntheticSpec> {
    use anyhow::Context;
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading preset {}", path.display()))?;
    SyntheticSpec::from_preset_json(&text).map_err(|e| {
        anyhow::anyhow!(
            "{}: not a preset written by `vqlab calibrate`: {e}",
            path.display()
        )
    })
}

impl DataOpts {
    /// The data arguments, with `n_train`/`n_eval` defaulting to the given
    /// experiment sizes for the generator. Flags that the data source does
    /// not use are named on stderr.
    pub fn to_args(&self, n_train: usize, n_eval: usize) -> anyhow::Result<DataArgs> {
        let file = self.data.is_some() || self.set.is_some();
        let ignored: Vec<&str> = if file {
            [
                ("--spectrum", self.spectrum.is_some()),
                ("--noise-sigma", self.noise_sigma.is_some()),
                ("--preset", self.preset.is_some()),
            ]
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(flag, _)| flag)
            .collect()
        } else {
            [
                ("--eval-data", self.eval_data.is_some()),
                ("--delimiter", self.delimiter.is_some()),
                ("--no-center", self.no_center),
            ]
            .into_iter()
            .filter(|(_, given)| *given)
            .map(|(flag, _)| flag)
            .collect()
        };
        for flag in ignored {
            eprintln!(
                "warning: {flag} is ignored {}",
                if file {
                    "with --data (it describes the synthetic generator)"
                } else {
                    "without --data (it applies to data files)"
                }
            );
        }
        let mut spec = match &self.preset {
            Some(path) if !file => read_preset(path)?,
            _ => SyntheticSpec::report_default(),
        };
        if let Some(s) = &self.spectrum {
            spec.spectrum = s.clone();
        }
        if let Some(sigma) = self.noise_sigma {
            spec.noise_sigma = sigma;
        }
        if let Some(d) = self.dim {
            spec.dim = d;
        }
        Ok(DataArgs {
            n_train: self.n_train.or((!file).then_some(n_train)),
            n_eval: self.n_eval,
            default_n_eval: n_eval,
            eval_fraction: self.eval_fraction,
            eval_data: self.eval_data.clone(),
            delimiter: self.delimiter,
            seed: self.seed,
            path: self.data.clone(),
            set: self
                .set
                .map(|set| (set, data_dir(self.data_dir.as_deref()))),
            center: !self.no_center,
            scaling: self.scale,
            spec,
            expected_dim: self.dim,
            pca: true,
            image_shape: self.image_shape,
        })
    }
}
