//! Sharding many independent units of work over processes or machines.
//!
//! A command that runs many units (`vqlab reproduce`) can be told
//! `--shard I/N`: it then computes only shard I of N and stores the results
//! in the run store. Every shard plans the same list of units from the same
//! flags and splits it the same way, so N processes started with the same
//! flags (and a shared `--store`) together compute every unit exactly once.
//! The split balances the units' estimated cost (longest-processing-time
//! first), not their number.
//!
//! The run store is a folder with one JSON file per unit, each written
//! atomically (temporary file, then rename): there is no index that two
//! writers could both rewrite, so any number of shards may write into one
//! store at once.
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::error::{invalid, Result, VqError};

/// Shard `index` (1-based) of `count`.
///
/// ```
/// use vqlab::study::shard::Shard;
/// let shard: Shard = "2/3".parse()?;
/// assert_eq!((shard.index, shard.count), (2, 3));
/// // Units split by cost: every unit goes to exactly one shard.
/// let costs = [5.0, 1.0, 1.0, 3.0];
/// let all: usize = (1..=3)
///     .map(|i| Shard { index: i, count: 3 }.select(&costs).len())
///     .sum();
/// assert_eq!(all, costs.len());
/// # Ok::<(), vqlab::VqError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// 1 … count.
    pub index: usize,
    /// How many shards share the work.
    pub count: usize,
}

impl Shard {
    /// Checks 1 ≤ index ≤ count.
    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 {
            return Err(invalid(
                "--shard",
                format!("{index}/{count}"),
                "I/N with N ≥ 1",
            ));
        }
        if index == 0 || index > count {
            return Err(invalid(
                "--shard",
                format!("{index}/{count}"),
                format!("I/N with 1 ≤ I ≤ N (here 1 … {count})"),
            ));
        }
        Ok(Shard { index, count })
    }

    /// Which of `costs` (one per unit, in plan order) this shard computes.
    pub fn select(&self, costs: &[f64]) -> Vec<usize> {
        let owner = assign_by_cost(costs, self.count);
        (0..costs.len())
            .filter(|&i| owner[i] == self.index - 1)
            .collect()
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl FromStr for Shard {
    type Err = VqError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = || invalid("--shard", s, "I/N, e.g. 1/4 (shard I of N, 1 ≤ I ≤ N)");
        let (i, n) = s.split_once('/').ok_or_else(bad)?;
        let i: usize = i.trim().parse().map_err(|_| bad())?;
        let n: usize = n.trim().parse().map_err(|_| bad())?;
        Shard::new(i, n)
    }
}

/// Splits units of the given costs into `shards` groups of nearly equal
/// total cost: the units, most expensive first (ties by position), each go
/// to the group with the least cost so far (ties to the lowest group). The
/// result depends only on `costs` and `shards`, so every process computes
/// the same split. Returns each unit's group, 0-based.
pub fn assign_by_cost(costs: &[f64], shards: usize) -> Vec<usize> {
    let shards = shards.max(1);
    let mut order: Vec<usize> = (0..costs.len()).collect();
    order.sort_by(|&a, &b| costs[b].total_cmp(&costs[a]).then(a.cmp(&b)));
    let mut load = vec![0.0_f64; shards];
    let mut owner = vec![0; costs.len()];
    for i in order {
        let (lightest, _) = load
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1).then(a.0.cmp(&b.0)))
            .expect("at least one shard");
        owner[i] = lightest;
        load[lightest] += costs[i].max(0.0);
    }
    owner
}

/// The environment variable that names the run store when `--store` is not
/// given.
pub const STORE_ENV: &str = "VQLAB_STORE";

/// The run store: `explicit`, else `$VQLAB_STORE`, else `default`.
pub fn store_dir(explicit: Option<&Path>, default: PathBuf) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os(STORE_ENV) {
            Some(p) if !p.is_empty() => PathBuf::from(p),
            _ => default,
        },
    }
}

/// Checks, writing nothing that stays, that `dir` is (or can become) a
/// writable folder: an existing file, or a folder (or nearest existing
/// parent) where no file can be created, is refused.
pub fn check_store(dir: &Path) -> Result<()> {
    let refuse = |why: String| invalid("--store", dir.display(), why);
    let mut existing = dir.to_path_buf();
    loop {
        if existing.exists() {
            break;
        }
        match existing.parent() {
            Some(p) if !p.as_os_str().is_empty() => existing = p.to_path_buf(),
            _ => {
                existing = PathBuf::from(".");
                break;
            }
        }
    }
    if !existing.is_dir() {
        return Err(refuse(format!(
            "{} is a file; the run store must be a folder",
            existing.display()
        )));
    }
    let probe = existing.join(format!(".vqlab-store-probe-{}", std::process::id()));
    match std::fs::File::create(&probe) {
        Ok(_) => {
            let _ = std::fs::remove_file(&probe);
            Ok(())
        }
        Err(e) => Err(refuse(format!(
            "cannot create files in {}: {e}",
            existing.display()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_shards() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        for bad in ["0/2", "3/2", "1/0", "1", "a/b", "-1/2", "1/2/3", ""] {
            assert!(bad.parse::<Shard>().is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn every_unit_goes_to_exactly_one_shard_and_costs_balance() {
        let costs: Vec<f64> = (0..97).map(|i| ((i * 37) % 11 + 1) as f64).collect();
        let total: f64 = costs.iter().sum();
        let n = 4;
        let mut seen = vec![0; costs.len()];
        let mut loads = Vec::new();
        for index in 1..=n {
            let mine = Shard::new(index, n).unwrap().select(&costs);
            loads.push(mine.iter().map(|&i| costs[i]).sum::<f64>());
            for i in mine {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&s| s == 1), "{seen:?}");
        // LPT: no shard exceeds the mean by more than the largest unit.
        let largest = costs.iter().cloned().fold(0.0, f64::max);
        for l in &loads {
            assert!(*l <= total / n as f64 + largest, "{loads:?}");
        }
        // Balanced by cost, not count: one huge unit gets a shard to itself.
        let skewed = [100.0, 1.0, 1.0, 1.0, 1.0];
        assert_eq!(Shard::new(1, 2).unwrap().select(&skewed), vec![0]);
        assert_eq!(Shard::new(2, 2).unwrap().select(&skewed), vec![1, 2, 3, 4]);
    }

    #[test]
    fn the_store_must_be_a_writable_folder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(check_store(&dir.path().join("new/deeper")).is_ok());
        assert!(!dir.path().join("new").exists(), "the check wrote a folder");
        let file = dir.path().join("file");
        std::fs::write(&file, "x").unwrap();
        assert!(check_store(&file).is_err());
        assert!(check_store(&file.join("below")).is_err());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn the_digest_is_stable() {
        // FNV-1a test vectors.
        assert_eq!(crate::infra::io::digest(b""), 0xcbf29ce484222325);
        assert_eq!(crate::infra::io::digest(b"a"), 0xaf63dc4c8601ec8c);
    }
}
