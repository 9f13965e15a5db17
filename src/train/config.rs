//! The training configuration: where parameters start, which SVD, every
//! setting of a run, checked once into a [`ValidTrainConfig`].
use serde::{Deserialize, Serialize};

use super::report;
use crate::baseline::KMeansConfig;
use crate::error::{invalid, Result};
use crate::model::codebook::CodebookSpec;
use crate::model::estimator::GumbelSpec;
use crate::model::{Backend, LossWeights, MethodSpec, ModelSpec};
use crate::optim::stiefel::SvdSource;
use crate::optim::{Optimizer, OptimizerSpec, ScheduleSpec};

/// Where the parameters start. The report does not say; vqlab offers both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Init {
    /// The PCA + Lloyd baseline's W and E (untied: V = W too). Linear models
    /// only.
    Pca,
    /// Linear models: a Haar-random Stiefel W (untied: V = W); mlp: PyTorch's
    /// `nn.Linear` default. E from k-means++ and Lloyd on the initial codes.
    Random,
}

impl Init {
    /// The default for `model`: the baseline's start (`pca`) where the
    /// model can take a PCA basis, else `random`.
    pub fn default_for(model: &ModelSpec) -> Init {
        if model.model().starts_from_basis() {
            Init::Pca
        } else {
            Init::Random
        }
    }

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Init::Pca => "pca",
            Init::Random => "random",
        }
    }
}

/// Which SVD the retraction uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum SvdChoice {
    /// libtorch's SVD for the autograd methods, LAPACK for the manual ones
    /// (as in the original, where NumPy and PyTorch each did their own).
    PerMethod,
    /// LAPACK for every method.
    Lapack,
    /// libtorch for every method.
    Torch,
}

impl SvdChoice {
    /// The SVD used for `method`.
    pub fn for_method(self, method: MethodSpec) -> SvdSource {
        match (self, method.backend) {
            (SvdChoice::Lapack, _) => SvdSource::Lapack,
            (SvdChoice::Torch, _) => SvdSource::Torch,
            (SvdChoice::PerMethod, Backend::Manual) => SvdSource::Lapack,
            (SvdChoice::PerMethod, Backend::Autograd) => SvdSource::Torch,
        }
    }
}

/// Hyperparameters of a training run (the data are separate).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// The model and its hyperparameters. Left out of the JSON for the tied
    /// model, so the report's runs serialize as they always did.
    #[serde(
        default,
        skip_serializing_if = "ModelSpec::is_tied",
        with = "crate::model::own_fields"
    )]
    pub model: ModelSpec,
    /// Codebook size K.
    pub k: usize,
    /// Code dimension m.
    pub m: usize,
    /// Training steps.
    pub steps: usize,
    /// Mini-batch size B (rows drawn without replacement each step).
    pub batch: usize,
    /// η_W: the rate of every network parameter (W, V, the mlp's layers).
    pub lr_w: f64,
    /// η_E.
    pub lr_e: f64,
    /// α.
    pub alpha: f64,
    /// β.
    pub beta: f64,
    /// Initialisation.
    pub init: Init,
    /// Lloyd iterations of the initial codebook.
    pub kmeans_iters: usize,
    /// Seed of the initialisation and of the mini-batch sequence.
    pub seed: u64,
    /// Evaluate every this many steps (0: only at the start and the end).
    pub log_every: usize,
    /// SVD of the retraction.
    pub svd: SvdChoice,
    /// The optimizer (left out of the JSON when it is the report's SGD).
    #[serde(default, skip_serializing_if = "OptimizerSpec::is_default")]
    pub optimizer: OptimizerSpec,
    /// The learning-rate schedule (left out of the JSON when constant).
    #[serde(default, skip_serializing_if = "ScheduleSpec::is_default")]
    pub schedule: ScheduleSpec,
    /// The codebook update and dead-code restart (left out of the JSON when
    /// it is the report's gradient update without restarts).
    #[serde(default, skip_serializing_if = "CodebookSpec::is_default")]
    pub codebook: CodebookSpec,
    /// The Gumbel estimators' temperature schedule (left out of the JSON at
    /// its defaults).
    #[serde(default, skip_serializing_if = "GumbelSpec::is_default")]
    pub gumbel: GumbelSpec,
}

/// The most steps a run may ask for (a typo guard, not a limit of the math).
pub const MAX_STEPS: usize = 100_000_000;

/// The widest hidden layer (and code) of the mlp model (a typo guard).
pub const MAX_HIDDEN: usize = 65_536;

impl TrainConfig {
    /// The report's common settings with experiment 1's sizes.
    pub fn report_default() -> Self {
        TrainConfig {
            model: ModelSpec::default(),
            k: report::K,
            m: report::M,
            steps: report::STEPS,
            batch: report::BATCH,
            lr_w: report::LR_W,
            lr_e: report::LR_E,
            alpha: report::ALPHA,
            beta: report::BETA,
            init: Init::Pca,
            kmeans_iters: report::KMEANS_ITERS,
            seed: 0,
            log_every: report::LOG_EVERY,
            svd: SvdChoice::PerMethod,
            optimizer: OptimizerSpec::default(),
            schedule: ScheduleSpec::default(),
            codebook: CodebookSpec::default(),
            gumbel: GumbelSpec::default(),
        }
    }

    /// Every setting, the report's defaults included (the plain JSON leaves
    /// those out so the report's runs serialize as they always did), and
    /// the model with its own fields only.
    pub fn full_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).expect("a configuration serializes");
        let fields = value.as_object_mut().expect("an object");
        let model = crate::model::own_fields::serialize(&self.model, serde_json::value::Serializer)
            .expect("a model serializes");
        fields.insert("model".into(), model);
        let mut put = |key: &str, v: serde_json::Value| {
            fields.insert(key.to_string(), v);
        };
        put("optimizer", serde_json::json!(self.optimizer));
        put("schedule", serde_json::json!(self.schedule));
        put("codebook", serde_json::json!(self.codebook));
        put("gumbel", serde_json::json!(self.gumbel));
        value
    }

    /// The loss weights.
    pub fn weights(&self) -> LossWeights {
        LossWeights {
            alpha: self.alpha,
            beta: self.beta,
        }
    }

    /// The stateful update of a run with this configuration (optimizer,
    /// schedule).
    pub fn build_optimizer(&self) -> Optimizer {
        Optimizer::new(
            self.lr_w,
            self.lr_e,
            self.optimizer,
            self.schedule,
            self.steps,
        )
    }

    /// Checks every field against the data it will train on; one error per
    /// bad field, naming it, its value and what is allowed.
    pub fn validate(&self, n_train: usize, dim: usize) -> Result<()> {
        if self.model.kind == crate::model::ModelKind::Conv {
            crate::model::conv::check_spec(&self.model, dim)?;
        }
        if self.model.model().has_hidden_layer() {
            if self.model.hidden == 0 || self.model.hidden > MAX_HIDDEN {
                let conv = self.model.kind == crate::model::ModelKind::Conv;
                return Err(invalid(
                    if conv { "channels" } else { "hidden" },
                    self.model.hidden,
                    format!("between 1 and {MAX_HIDDEN}"),
                ));
            }
            if self.init == Init::Pca {
                return Err(invalid(
                    "init",
                    "pca",
                    format!(
                        "random for the {} model (PyTorch's default initialisation; pca is for the linear models)",
                        self.model.kind.name()
                    ),
                ));
            }
            if self.m == 0 || self.m > MAX_HIDDEN {
                return Err(invalid("m", self.m, format!("between 1 and {MAX_HIDDEN}")));
            }
        } else if self.m == 0 || self.m > dim {
            return Err(invalid(
                "m",
                self.m,
                format!("between 1 and the data dimension D = {dim}"),
            ));
        }
        if self.k == 0 || self.k > n_train {
            return Err(invalid(
                "k",
                self.k,
                format!("between 1 and the number of training points ({n_train})"),
            ));
        }
        if self.batch == 0 || self.batch > n_train {
            return Err(invalid(
                "batch",
                self.batch,
                format!("between 1 and the number of training points ({n_train})"),
            ));
        }
        if self.steps > MAX_STEPS {
            return Err(invalid("steps", self.steps, format!("at most {MAX_STEPS}")));
        }
        for (field, value) in [("lr_w", self.lr_w), ("lr_e", self.lr_e)] {
            if !value.is_finite() || value <= 0.0 {
                return Err(invalid(field, value, "a finite number > 0"));
            }
        }
        for (field, value) in [("alpha", self.alpha), ("beta", self.beta)] {
            if !value.is_finite() || value < 0.0 {
                return Err(invalid(field, value, "a finite number ≥ 0"));
            }
        }
        self.optimizer.validate()?;
        self.codebook.validate()?;
        self.gumbel.validate()?;
        self.schedule.validate(self.lr_w, self.lr_e)?;
        KMeansConfig {
            k: self.k,
            iters: self.kmeans_iters,
        }
        .check(n_train)?;
        Ok(())
    }
}

/// A [`TrainConfig`] checked once against the data it will train on (the
/// only way to call [`train`](super::train)). Read its fields through `Deref`.
#[derive(Debug, Clone, PartialEq)]
pub struct ValidTrainConfig {
    config: TrainConfig,
    pub(super) n_train: usize,
    pub(super) dim: usize,
}

impl std::ops::Deref for ValidTrainConfig {
    type Target = TrainConfig;
    fn deref(&self) -> &TrainConfig {
        &self.config
    }
}

impl ValidTrainConfig {
    /// The checked configuration.
    pub fn config(&self) -> &TrainConfig {
        &self.config
    }
}

impl TrainConfig {
    /// Checks every field against training data of `n_train` rows of
    /// dimension `dim` (see [`TrainConfig::validate`]) into a
    /// [`ValidTrainConfig`].
    pub fn check(self, n_train: usize, dim: usize) -> Result<ValidTrainConfig> {
        self.validate(n_train, dim)?;
        Ok(ValidTrainConfig {
            config: self,
            n_train,
            dim,
        })
    }
}
