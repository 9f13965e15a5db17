//! The run store: every unit of work a study computes is kept as one JSON
//! file keyed by its spec, written the moment it finishes, and reused only
//! when its stored spec (the code fingerprint included) equals the new one.
//! An interrupted study loses nothing; a rebuilt vqlab recomputes.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use serde::Serialize;

use crate::error::{Result, VqError};
use crate::infra::io::{create_dir, write_atomic};

/// A fingerprint of the code that computes the units: a stored unit
/// computed by other code is never reused.
pub use crate::infra::provenance::CODE_FINGERPRINT;

/// A stable digest of a unit's spec without its `code` field (the code
/// fingerprint): the part of a store key that tells configurations apart,
/// while a rebuild of the code recomputes into the same file.
pub fn spec_digest(spec: &impl Serialize) -> u64 {
    let mut value = serde_json::to_value(spec).expect("specs serialize");
    if let Some(fields) = value.as_object_mut() {
        fields.remove("code");
    }
    crate::infra::io::digest(value.to_string().as_bytes())
}

/// A unit of work the run store keeps: a spec that determines its result
/// completely (the code fingerprint included), stored as one JSON file.
pub trait StoredUnit: Serialize + serde::de::DeserializeOwned + PartialEq + Sync {
    /// What running the unit gives (it carries the spec).
    type Output: Serialize + serde::de::DeserializeOwned + Send;
    /// The file name (without `.json`) in the store.
    fn key(&self) -> String;
    /// The spec a stored output was computed from.
    fn spec_of(output: &Self::Output) -> &Self;
    /// Computes the unit.
    fn run(&self) -> Result<Self::Output>;
}

/// The stored result of `spec` in `dir`, if its spec matches exactly (a
/// result of other code or another configuration is not reused).
pub fn load_cached<U: StoredUnit>(dir: &Path, spec: &U) -> Option<U::Output> {
    let text = std::fs::read_to_string(dir.join(format!("{}.json", spec.key()))).ok()?;
    let stored: U::Output = serde_json::from_str(&text).ok()?;
    (U::spec_of(&stored) == spec).then_some(stored)
}

/// What happened to the units of one [`execute`] call.
#[derive(Debug, Clone, Default)]
pub struct ExecuteStats {
    /// Units taken from the store.
    pub reused: usize,
    /// Units computed now.
    pub computed: usize,
}

/// Runs `units` on `jobs` threads, storing each result in `dir` as soon as it
/// is done and reusing stored results (unless `fresh`). Stops taking new
/// units once `stop` is set. Returns the results in the order of `units`
/// (a unit not run because of `stop` is absent).
pub fn execute<U: StoredUnit>(
    units: &[U],
    dir: &Path,
    jobs: usize,
    fresh: bool,
    stop: &AtomicBool,
    progress: impl Fn(&U, bool) + Sync,
) -> Result<(Vec<U::Output>, ExecuteStats)> {
    create_dir(dir)?;
    let slots: Vec<Mutex<Option<U::Output>>> = units.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    let first_error: Mutex<Option<VqError>> = Mutex::new(None);
    let (reused, computed) = (AtomicUsize::new(0), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| loop {
                if stop.load(Ordering::SeqCst) || first_error.lock().expect("lock").is_some() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(spec) = units.get(i) else { return };
                let cached = if fresh { None } else { load_cached(dir, spec) };
                let (result, was_cached) = match cached {
                    Some(r) => (Ok(r), true),
                    None => (spec.run(), false),
                };
                match result {
                    Ok(r) => {
                        if !was_cached {
                            let path: PathBuf = dir.join(format!("{}.json", spec.key()));
                            let text = serde_json::to_string(&r).expect("results serialize");
                            if let Err(e) = write_atomic(&path, text.as_bytes()) {
                                *first_error.lock().expect("lock") = Some(e);
                                return;
                            }
                            computed.fetch_add(1, Ordering::SeqCst);
                        } else {
                            reused.fetch_add(1, Ordering::SeqCst);
                        }
                        *slots[i].lock().expect("lock") = Some(r);
                        progress(spec, was_cached);
                    }
                    Err(e) => {
                        first_error.lock().expect("lock").get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().expect("lock") {
        return Err(e);
    }
    let results = slots
        .into_iter()
        .filter_map(|s| s.into_inner().expect("lock"))
        .collect();
    Ok((
        results,
        ExecuteStats {
            reused: reused.into_inner(),
            computed: computed.into_inner(),
        },
    ))
}
