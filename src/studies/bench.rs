//! `vqlab bench`: time and memory per training step of every method, as ratios
//! to autograd-ste measured in the same run, against a roofline estimate.
//!
//! Each (configuration, threads, method) runs in its own `vqlab` process
//! (the hidden `bench-worker` subcommand), so the peak memory of one method
//! is not hidden by another's. A worker generates the data, initialises,
//! builds the method and warms it up outside the timed region, then times
//! every step (drawing the batch + gradients, which gather the rows or read
//! them in place + update) and reports:
//! the median, min and max step time; the peak resident set size reached
//! from building the method through its warm-up and timed steps, above the
//! RSS before (data and parameters already in memory; VmHWM after resetting
//! it through /proc/self/clear_refs, so it sees libtorch's and OpenBLAS's
//! memory); and the same for the Rust heap (the counting allocator of the
//! binary; libtorch does not allocate there).
use std::time::Instant;

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, SyntheticSpec};
use crate::error::{invalid, Result};
use crate::infra::alloc::{current_rss_bytes, peak_rss_bytes, reset_peak_rss};
use crate::model::{Draws, Gradients, ImageShape, MethodKind, MethodSpec, ModelSpec, Params};
use crate::numerics::linalg::{gaussian_matrix, random_stiefel};
use crate::numerics::rng::{rng_for, Stream};
use crate::optim::Update;
use crate::train::{BatchSampler, SvdChoice, TrainConfig};

/// A benchmark configuration: a named size, or any size given as
/// `d=…,m=…,k=…,b=…` (optionally `n=…` training rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BenchConfig {
    /// The experiment-2 step: D = 64, m = 4, K = 32, B = 1024.
    Exp2,
    /// A large step: D = 512, m = 32, K = 512, B = 4096.
    Large,
    /// The conv model on MNIST-sized images: 1 × 28 × 28, 32 channels, depth
    /// 2, kernel 4 (a 7 × 7 grid of latent vectors), m = 16, K = 256, B = 64.
    ConvMnist,
    /// A size of the user's.
    Custom {
        /// D.
        dim: usize,
        /// m.
        m: usize,
        /// K.
        k: usize,
        /// B.
        batch: usize,
        /// Training rows.
        n_train: usize,
    },
}

impl std::str::FromStr for BenchConfig {
    type Err = crate::VqError;
    fn from_str(text: &str) -> Result<Self> {
        match text {
            "exp2" => return Ok(BenchConfig::Exp2),
            "large" => return Ok(BenchConfig::Large),
            "conv-mnist" => return Ok(BenchConfig::ConvMnist),
            _ => {}
        }
        let bad = || {
            invalid(
                "config",
                text,
                "exp2, large, conv-mnist, or d=D,m=M,k=K,b=B[,n=N] with whole numbers ≥ 1 (m ≤ D, K and B ≤ N)",
            )
        };
        let (mut dim, mut m, mut k, mut batch, mut n_train) = (None, None, None, None, None);
        for part in text.split([',', ':']) {
            let (key, value) = part.split_once('=').ok_or_else(bad)?;
            let value: usize = value.trim().parse().map_err(|_| bad())?;
            let slot = match key.trim() {
                "d" => &mut dim,
                "m" => &mut m,
                "k" => &mut k,
                "b" => &mut batch,
                "n" => &mut n_train,
                _ => return Err(bad()),
            };
            *slot = Some(value);
        }
        let (Some(dim), Some(m), Some(k), Some(batch)) = (dim, m, k, batch) else {
            return Err(bad());
        };
        let n_train = n_train.unwrap_or((4 * batch).max(k).max(16_384));
        if [dim, m, k, batch].contains(&0) || m > dim || k > n_train || batch > n_train {
            return Err(bad());
        }
        Ok(BenchConfig::Custom {
            dim,
            m,
            k,
            batch,
            n_train,
        })
    }
}

impl Serialize for BenchConfig {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for BenchConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Sizes of a configuration.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Sizes {
    /// D.
    pub dim: usize,
    /// m.
    pub m: usize,
    /// K.
    pub k: usize,
    /// B.
    pub batch: usize,
    /// Training rows the batches are drawn from.
    pub n_train: usize,
}

impl BenchConfig {
    /// The sizes.
    pub fn sizes(self) -> Sizes {
        match self {
            BenchConfig::Custom {
                dim,
                m,
                k,
                batch,
                n_train,
            } => Sizes {
                dim,
                m,
                k,
                batch,
                n_train,
            },
            BenchConfig::Exp2 => Sizes {
                dim: 64,
                m: 4,
                k: 32,
                batch: 1024,
                n_train: 20_000,
            },
            BenchConfig::Large => Sizes {
                dim: 512,
                m: 32,
                k: 512,
                batch: 4096,
                n_train: 16_384,
            },
            BenchConfig::ConvMnist => Sizes {
                dim: 784,
                m: 16,
                k: 256,
                batch: 64,
                n_train: 4096,
            },
        }
    }

    /// The model the configuration's methods train: the report's tied
    /// model, or the conv model of `conv-mnist`.
    pub fn model(self) -> ModelSpec {
        match self {
            BenchConfig::ConvMnist => ModelSpec::conv(
                ImageShape {
                    channels: 1,
                    height: 28,
                    width: 28,
                },
                32,
            ),
            _ => ModelSpec::default(),
        }
    }

    /// The method `kind`'s estimator and backend on this configuration's
    /// model (`kind` itself for the tied configurations).
    pub fn method(self, kind: MethodKind) -> MethodSpec {
        let spec = kind.spec();
        MethodSpec::new(self.model(), spec.estimator, spec.backend)
    }

    /// Floating-point operations of the step's essential work. The linear
    /// configurations: [`Sizes::flops`]. The conv model: with M the
    /// multiply-adds of one image's forward pass through its layers, 2M
    /// forward and 4M backward (the weight gradient and the input gradient;
    /// the first layer needs no input gradient), per image, plus the B·P × K
    /// × m code distances.
    pub fn flops(self) -> f64 {
        let s = self.sizes();
        if self != BenchConfig::ConvMnist {
            return s.flops();
        }
        let model = self.model();
        let image = model.image.expect("conv-mnist has an image");
        let (c, k2) = (model.hidden as f64, model.layers.kernel.pow(2) as f64);
        let (mut forward, mut first) = (0.0, 0.0);
        for l in 0..model.layers.depth {
            let out = ((image.height * image.width) >> (2 * (l + 1))) as f64;
            let c_in = if l == 0 { image.channels as f64 } else { c };
            let c_out_decoder = if l == 0 { image.channels as f64 } else { c };
            // Encoder layer l and the decoder's mirror of it.
            let layer = out * c * c_in * k2;
            forward += layer + out * c * c_out_decoder * k2;
            if l == 0 {
                first = layer;
            }
        }
        let latent = model.latent_positions() as f64;
        forward += 2.0 * latent * c * s.m as f64;
        let b = s.batch as f64;
        b * (6.0 * forward - 2.0 * first) + 2.0 * b * latent * s.k as f64 * s.m as f64
    }

    /// `exp2`, `large`, `conv-mnist`, or `d=…,m=…,k=…,b=…,n=…`.
    pub fn name(self) -> String {
        match self {
            BenchConfig::Exp2 => "exp2".into(),
            BenchConfig::Large => "large".into(),
            BenchConfig::ConvMnist => "conv-mnist".into(),
            BenchConfig::Custom {
                dim,
                m,
                k,
                batch,
                n_train,
            } => format!("d={dim}:m={m}:k={k}:b={batch}:n={n_train}"),
        }
    }

    /// A sort key: exp2, large, conv-mnist, then custom sizes by their FLOPs.
    pub fn order(self) -> (u8, u64) {
        match self {
            BenchConfig::Exp2 => (0, 0),
            BenchConfig::Large => (1, 0),
            BenchConfig::ConvMnist => (2, 0),
            custom => (3, custom.sizes().flops() as u64),
        }
    }
}

impl Sizes {
    /// Floating-point operations of the step's essential work: the two
    /// B × D × m products (Z = XW and Xᵀ·(B × m)) and the B × K × m code
    /// distances; lower-order terms (m × m products, the D × m SVD) left out.
    pub fn flops(&self) -> f64 {
        let (b, d, m, k) = (
            self.batch as f64,
            self.dim as f64,
            self.m as f64,
            self.k as f64,
        );
        4.0 * b * d * m + 2.0 * b * k * m
    }

    /// Bytes the step must move at least: reading the B batch rows once.
    pub fn bytes(&self) -> f64 {
        (self.batch * self.dim * 8) as f64
    }
}

/// What one worker measured.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct WorkerReport {
    /// The method (a shorthand's estimator and backend on the
    /// configuration's model).
    pub method: MethodSpec,
    /// The configuration.
    pub config: BenchConfig,
    /// Threads (0 = library defaults).
    pub threads: usize,
    /// Timed steps.
    pub steps: usize,
    /// Median step time, seconds.
    pub median_s: f64,
    /// Fastest step, seconds.
    pub min_s: f64,
    /// Slowest step, seconds.
    pub max_s: f64,
    /// Peak RSS from building the method through warm-up and the timed
    /// steps, minus the RSS before (data and parameters already in memory),
    /// bytes; None where /proc/self/clear_refs is not available.
    pub peak_rss_delta_bytes: Option<u64>,
    /// The same for the Rust heap (counting allocator).
    pub rust_heap_peak_delta_bytes: Option<u64>,
    /// RSS before building the method, bytes.
    pub rss_before_bytes: Option<u64>,
}

/// Runs one method's timed steps in this process. `heap` reads the current
/// and peak Rust heap and resets the peak (None when the binary has no
/// counting allocator).
pub fn run_worker(
    method: MethodKind,
    config: BenchConfig,
    threads: usize,
    warmup: usize,
    steps: usize,
    device: tch::Device,
    heap: Option<&crate::infra::alloc::CountingAllocator>,
) -> Result<WorkerReport> {
    if steps == 0 {
        return Err(invalid("steps", steps, "at least 1"));
    }
    crate::infra::threads::set_threads(threads);
    let s = config.sizes();
    let spec = SyntheticSpec {
        dim: s.dim,
        spectrum: (0..(s.m + 2))
            .map(|i| 2.0 * 0.8f64.powi(i as i32))
            .collect(),
        noise_sigma: 0.05,
        latent: Default::default(),
    };
    let data = Dataset::synthetic(&spec, s.n_train, 1, 0)?;
    let mut rng = rng_for(0, Stream::Init);
    let model = config.model();
    let mut params = if model.is_tied() {
        let w = random_stiefel(s.dim, s.m, &mut rng)?;
        let codebook = gaussian_matrix(s.k, s.m, &mut rng);
        Params::tied(w, codebook)
    } else {
        // PyTorch's initialisation; the codes: latent vectors of the first
        // rows, chosen at random.
        let weights = model.model().random_network(&model, s.dim, s.m, &mut rng)?;
        let mut params = Params {
            model,
            weights,
            codebook: Array2::zeros((0, s.m)),
        };
        let z = params.encode(data.train.slice(ndarray::s![..s.batch, ..]));
        let picks = rand::seq::index::sample(&mut rng, z.nrows(), s.k.min(z.nrows()));
        params.codebook = z.select(ndarray::Axis(0), &picks.into_vec());
        params
    };
    let train = TrainConfig {
        model,
        k: s.k,
        m: s.m,
        batch: s.batch,
        svd: SvdChoice::PerMethod,
        // The conv model's loss sums over pixels: a small step keeps it
        // finite over the timed steps.
        lr_w: if model.is_tied() {
            TrainConfig::report_default().lr_w
        } else {
            1e-4
        },
        ..TrainConfig::report_default()
    };
    let method = config.method(method);
    // Memory is measured from here: what building and running the method
    // adds on top of the data and the parameters.
    let rss_before = current_rss_bytes();
    let rss_reset = reset_peak_rss();
    let heap_before = heap.map(|h| {
        h.reset_peak();
        h.current_bytes()
    });
    let mut m = method.build_on(train.weights(), device);
    let svd = train.svd.for_method(method);
    let mut optimizer = train.build_optimizer();
    let mut sampler = BatchSampler::new(0, s.n_train, s.batch);
    let mut grads = Gradients::empty();
    let mut step = |params: &mut Params| -> Result<()> {
        let rows = sampler.next_indices();
        m.gradients_rows(params, data.train.view(), rows, &Draws::none(), &mut grads)?;
        optimizer.apply(params, &grads, svd, true)
    };
    for _ in 0..warmup {
        step(&mut params)?;
    }
    let mut times = Vec::with_capacity(steps);
    for _ in 0..steps {
        let started = Instant::now();
        step(&mut params)?;
        times.push(started.elapsed().as_secs_f64());
    }
    let peak_rss = peak_rss_bytes();
    let heap_delta = match (heap, heap_before) {
        (Some(h), Some(before)) => Some(h.peak_bytes().saturating_sub(before) as u64),
        _ => None,
    };
    times.sort_by(f64::total_cmp);
    Ok(WorkerReport {
        method,
        config,
        threads,
        steps,
        median_s: times[times.len() / 2],
        min_s: times[0],
        max_s: times[times.len() - 1],
        peak_rss_delta_bytes: match (rss_reset, peak_rss, rss_before) {
            (true, Some(p), Some(b)) => Some(p.saturating_sub(b) as u64),
            _ => None,
        },
        rust_heap_peak_delta_bytes: heap_delta,
        rss_before_bytes: rss_before.map(|b| b as u64),
    })
}

/// The machine's measured rates.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq)]
pub struct MachineRates {
    /// Threads the rates were measured with (0 = defaults).
    pub threads: usize,
    /// f64 GEMM rate (FLOP/s), best of several 512³ products (OpenBLAS).
    pub gemm_flops_per_s: f64,
    /// Copy bandwidth (bytes read + written per second) of a 64 MiB array.
    pub copy_bytes_per_s: f64,
}

/// Measures the f64 GEMM rate and the copy bandwidth.
pub fn measure_machine(threads: usize) -> MachineRates {
    crate::infra::threads::set_threads(threads);
    let mut rng = rng_for(1, Stream::Harness);
    let n = 512;
    let a = gaussian_matrix(n, n, &mut rng);
    let b = gaussian_matrix(n, n, &mut rng);
    let mut c = Array2::<f64>::zeros((n, n));
    let mut best = f64::INFINITY;
    for _ in 0..6 {
        let t = Instant::now();
        ndarray::linalg::general_mat_mul(1.0, &a, &b, 0.0, &mut c);
        best = best.min(t.elapsed().as_secs_f64());
    }
    let gemm = 2.0 * (n * n * n) as f64 / best;
    let len = 8 << 20; // 8 Mi f64 = 64 MiB
    let src = vec![1.0f64; len];
    let mut dst = vec![0.0f64; len];
    let mut best_copy = f64::INFINITY;
    for _ in 0..5 {
        let t = Instant::now();
        dst.copy_from_slice(&src);
        best_copy = best_copy.min(t.elapsed().as_secs_f64());
    }
    std::hint::black_box(&dst);
    MachineRates {
        threads,
        gemm_flops_per_s: gemm,
        copy_bytes_per_s: (2 * len * 8) as f64 / best_copy,
    }
}

/// One row of the bench table.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchRow {
    /// The worker's measurements.
    #[serde(flatten)]
    pub report: WorkerReport,
    /// median / median of autograd-ste at the same configuration and threads.
    pub time_ratio_to_autograd: Option<f64>,
    /// peak RSS delta / that of autograd-ste.
    pub memory_ratio_to_autograd: Option<f64>,
    /// Compute roofline: flops / GEMM rate, seconds.
    pub roofline_compute_s: f64,
    /// Memory roofline: bytes / copy bandwidth, seconds.
    pub roofline_memory_s: f64,
    /// median / max(compute, memory) roofline.
    pub times_roofline: f64,
}

/// Fills in ratios and roofline distances.
pub fn rows(reports: &[WorkerReport], rates: &[MachineRates]) -> Vec<BenchRow> {
    reports
        .iter()
        .map(|r| {
            // Autograd STE on the same model (a worker's report names the
            // model only by its kind).
            let reference = reports.iter().find(|o| {
                o.config == r.config
                    && o.threads == r.threads
                    && o.method.estimator == crate::model::Estimator::Ste
                    && o.method.backend == crate::model::Backend::Autograd
            });
            let rate = rates
                .iter()
                .find(|x| x.threads == r.threads)
                .or(rates.first());
            let sizes = r.config.sizes();
            let (compute, memory) = match rate {
                Some(x) => (
                    r.config.flops() / x.gemm_flops_per_s,
                    sizes.bytes() / x.copy_bytes_per_s,
                ),
                None => (f64::NAN, f64::NAN),
            };
            BenchRow {
                time_ratio_to_autograd: reference.map(|a| r.median_s / a.median_s),
                memory_ratio_to_autograd: reference.and_then(|a| {
                    match (r.peak_rss_delta_bytes, a.peak_rss_delta_bytes) {
                        (Some(x), Some(y)) if y > 0 => Some(x as f64 / y as f64),
                        _ => None,
                    }
                }),
                roofline_compute_s: compute,
                roofline_memory_s: memory,
                times_roofline: r.median_s / compute.max(memory),
                report: r.clone(),
            }
        })
        .collect()
}

/// The bench's results file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchResults {
    /// The machine's rates per thread setting.
    pub machine: Vec<MachineRates>,
    /// One row per (configuration, threads, method).
    pub rows: Vec<BenchRow>,
    /// Warm-up steps per worker.
    pub warmup: usize,
    /// Timed steps per worker.
    pub steps: usize,
    /// Wall time of the whole bench, seconds.
    pub wall_seconds: f64,
}

fn mb(bytes: Option<u64>) -> String {
    bytes.map_or("—".into(), |b| {
        format!("{:.1}", b as f64 / (1024.0 * 1024.0))
    })
}

/// BENCH.md, with the verdict on the report's cost claim (C11).
pub fn render_markdown(b: &BenchResults) -> String {
    use std::fmt::Write;
    let mut out = String::from("# Cost per training step\n\n");
    let _ = writeln!(
        out,
        "Generated by `vqlab bench` — do not edit; rerun the command. {} warm-up and {} timed steps per method, each method in its own process; wall time {:.0} s. Times include drawing the batch, the gradients (the autograd methods gather the batch rows, the manual ones read them in place) and the update (data generation and evaluation are outside). Memory: the peak RSS from building the method through warm-up and timed steps, above the RSS with data and parameters already loaded (sees libtorch and OpenBLAS), and the same for the Rust heap (counting allocator).\n",
        b.warmup, b.steps, b.wall_seconds
    );
    out.push_str("Machine: ");
    for r in &b.machine {
        let _ = write!(
            out,
            "threads={}: f64 GEMM {:.1} GFLOP/s, copy {:.1} GB/s. ",
            if r.threads == 0 {
                "default".to_string()
            } else {
                r.threads.to_string()
            },
            r.gemm_flops_per_s / 1e9,
            r.copy_bytes_per_s / 1e9
        );
    }
    out.push_str("\n\nRoofline: the step's essential FLOPs (linear model: 4BDm + 2BKm; conv model: 6 × the multiply-adds of its layers' forward pass, less the first layer's input gradient, plus 2BPKm for the P latent vectors per image) over the GEMM rate, or its essential bytes (the batch rows, 8BD) over the copy bandwidth, whichever is longer. On the conv model the methods are the shorthands' estimator and backend (ste / manual, …).\n\n");
    let mut configs: Vec<BenchConfig> = Vec::new();
    for r in &b.rows {
        if !configs.contains(&r.report.config) {
            configs.push(r.report.config);
        }
    }
    for config in configs {
        let s = config.sizes();
        let mine: Vec<&BenchRow> = b
            .rows
            .iter()
            .filter(|r| r.report.config == config)
            .collect();
        if mine.is_empty() {
            continue;
        }
        let model = config.model();
        let described = if model.is_tied() {
            String::new()
        } else {
            format!("{}, ", model.describe())
        };
        let _ = writeln!(
            out,
            "## {} ({described}D = {}, m = {}, K = {}, B = {}; {:.1} MFLOP, {:.1} MB per step)\n",
            config.name(),
            s.dim,
            s.m,
            s.k,
            s.batch,
            config.flops() / 1e6,
            s.bytes() / 1e6
        );
        out.push_str("| threads | method | median ms | min ms | max ms | time / autograd-ste | peak RSS Δ MB | memory / autograd-ste | Rust heap peak Δ MB | roofline ms | × roofline |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
        for r in mine {
            let w = &r.report;
            let _ = writeln!(
                out,
                "| {} | {} | {:.4} | {:.4} | {:.4} | {} | {} | {} | {} | {:.4} | {:.1} |",
                if w.threads == 0 {
                    "default".to_string()
                } else {
                    w.threads.to_string()
                },
                w.method.name(),
                1e3 * w.median_s,
                1e3 * w.min_s,
                1e3 * w.max_s,
                r.time_ratio_to_autograd
                    .map_or("—".into(), |x| format!("{x:.3}")),
                mb(w.peak_rss_delta_bytes),
                r.memory_ratio_to_autograd
                    .map_or("—".into(), |x| format!("{x:.2}")),
                mb(w.rust_heap_peak_delta_bytes),
                1e3 * r.roofline_compute_s.max(r.roofline_memory_s),
                r.times_roofline
            );
        }
        out.push('\n');
    }
    // C11.
    let find = |m: MethodKind| {
        b.rows.iter().find(|r| {
            r.report.config == BenchConfig::Exp2
                && r.report.threads == 1
                && r.report.method.shorthand() == Some(m)
        })
    };
    out.push_str("## The report's cost claim (C11)\n\n");
    match (find(MethodKind::ManualSte), find(MethodKind::AutogradSte)) {
        (Some(man), Some(_)) => {
            let t = man.time_ratio_to_autograd.unwrap_or(f64::NAN);
            let time_verdict = if (0.7..=0.9).contains(&t) { "reproduced" } else { "not reproduced" };
            let _ = writeln!(
                out,
                "- Time: manual STE takes **{:.3}×** the median step time of autograd STE at the experiment-2 configuration, single thread (claim 0.8×, band 0.7–0.9): **{}**. The spread of single steps (min–max above) does not overlap the claimed value at this size.",
                t, time_verdict
            );
            match man.memory_ratio_to_autograd {
                Some(mem) => {
                    let mem_verdict = if (0.4..=0.6).contains(&mem) { "reproduced" } else { "not reproduced" };
                    let _ = writeln!(
                        out,
                        "- Memory: the peak memory manual STE's training adds is **{:.2}×** autograd STE's (claim 1× vs 2×, i.e. 0.5×, band 0.4–0.6): **{}**. Peak RSS Δ: manual {} MB, autograd {} MB.",
                        mem,
                        mem_verdict,
                        mb(man.report.peak_rss_delta_bytes),
                        mb(find(MethodKind::AutogradSte).and_then(|a| a.report.peak_rss_delta_bytes))
                    );
                }
                None => out.push_str("- Memory: not measurable here (no /proc/self/clear_refs).\n"),
            }
        }
        _ => out.push_str("Not measured: run with the exp2 configuration, threads 1, and both manual-ste and autograd-ste.\n"),
    }
    out
}
