//! One driver for every long study: plan → (shard) → execute into the run
//! store with progress and Ctrl-C → analyse. A study supplies its plan (its
//! units, each with a key, a cost and a label), how to compute a set of them
//! and how to run the whole; the driver owns sharding, the store checks,
//! the progress count and the interruption.
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use serde::Serialize;

use super::shard::{check_store, Shard};
use super::store::ExecuteStats;
use crate::error::{Result, VqError};

/// The progress callback of long calls: (units done, units in all, label).
pub type Progress<'a> = &'a (dyn Fn(usize, usize, &str) + Sync);

/// A unit of a study's plan, as `--plan` lists it and `--shard` splits it.
pub trait Planned: Clone + Send + Sync {
    /// The file name (without `.json`) in the run store.
    fn store_key(&self) -> String;
    /// Estimated work, millions of multiply-adds (what shards balance).
    fn cost(&self) -> f64;
    /// The whole configuration, as JSON.
    fn spec_json(&self) -> serde_json::Value;
    /// A short human label (the progress display).
    fn label(&self) -> String;
}

/// A study the driver can run.
pub trait Study: Sync {
    /// Its units.
    type Unit: Planned;
    /// What a whole run gives.
    type Summary;
    /// The command's name (`reproduce`, `future`).
    const NAME: &'static str;
    /// The run store.
    fn store(&self) -> &Path;
    /// Every unit the study can need, in plan order.
    fn planned_units(&self) -> Result<Vec<Self::Unit>>;
    /// Computes `units` into the store (reusing stored ones), calling
    /// `tick(unit, stored)` after each.
    fn compute(
        &self,
        units: &[Self::Unit],
        stop: &AtomicBool,
        tick: &(dyn Fn(&Self::Unit, bool) + Sync),
    ) -> Result<ExecuteStats>;
    /// The whole study: computes what is missing and analyses.
    fn run(&self, stop: &AtomicBool, progress: Progress) -> Result<Self::Summary>;
}

/// A progress label: the unit's, and whether it came from the store.
pub fn label_of(unit: &impl Planned, stored: bool) -> String {
    format!("{}{}", unit.label(), if stored { " (stored)" } else { "" })
}

/// A counter that turns per-unit ticks into `progress(done, total, label)`.
pub struct Ticker<'a> {
    done: AtomicUsize,
    total: usize,
    progress: Progress<'a>,
}

impl<'a> Ticker<'a> {
    /// Counts up to `total`.
    pub fn new(total: usize, progress: Progress<'a>) -> Self {
        Ticker {
            done: AtomicUsize::new(0),
            total,
            progress,
        }
    }

    /// One more unit done.
    pub fn tick(&self, label: &str) {
        let n = self.done.fetch_add(1, Ordering::SeqCst) + 1;
        (self.progress)(n, self.total, label);
    }
}

/// The error of a study stopped by Ctrl-C (`kept` units stored), or `Ok`.
pub fn check_interrupted(stop: &AtomicBool, kept: usize, store: &Path) -> Result<()> {
    if stop.load(Ordering::SeqCst) {
        return Err(VqError::Interrupted {
            kept,
            store: store.to_path_buf(),
        });
    }
    Ok(())
}

/// What one shard did.
#[derive(Debug, Clone, Serialize)]
pub struct ShardSummary {
    /// Which shard, `I/N`.
    pub shard: String,
    /// Units in this shard.
    pub units: usize,
    /// Units taken from the store.
    pub reused: usize,
    /// Units computed now.
    pub computed: usize,
    /// Estimated cost of this shard's units and of all units.
    pub cost: (f64, f64),
    /// Wall time, seconds.
    pub wall_seconds: f64,
}

/// Computes shard `shard` of the study's plan into the run store and
/// renders nothing; a later run without a shard reuses the stored units.
pub fn compute_shard<S: Study>(
    study: &S,
    shard: Shard,
    stop: &AtomicBool,
    progress: Progress,
) -> Result<ShardSummary> {
    let started = Instant::now();
    check_store(study.store())?;
    let planned = study.planned_units()?;
    let costs: Vec<f64> = planned.iter().map(Planned::cost).collect();
    let mine: Vec<S::Unit> = shard
        .select(&costs)
        .into_iter()
        .map(|i| planned[i].clone())
        .collect();
    let ticker = Ticker::new(mine.len(), progress);
    let stats = study.compute(&mine, stop, &|unit, stored| {
        ticker.tick(&label_of(unit, stored))
    })?;
    check_interrupted(stop, stats.computed, study.store())?;
    Ok(ShardSummary {
        shard: shard.to_string(),
        units: mine.len(),
        reused: stats.reused,
        computed: stats.computed,
        cost: (mine.iter().map(Planned::cost).sum(), costs.iter().sum()),
        wall_seconds: started.elapsed().as_secs_f64(),
    })
}

impl ShardSummary {
    /// The line a shard prints when it is done.
    pub fn line(&self, name: &str, store: &Path) -> String {
        format!(
            "{name} shard {}: {} units ({} computed, {} reused) in {:.1} s, {:.0} % of the estimated cost; stored in {}; run without --shard to render",
            self.shard,
            self.units,
            self.computed,
            self.reused,
            self.wall_seconds,
            100.0 * self.cost.0 / self.cost.1.max(f64::MIN_POSITIVE),
            store.display()
        )
    }
}
