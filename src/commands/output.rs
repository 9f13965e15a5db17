//! What every command prints the same way: progress and JSON.
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// How often a progress line is written when stderr is not a terminal:
/// every 5 s, or every `VQLAB_PROGRESS_EVERY` seconds when that is set.
fn line_every() -> Duration {
    std::env::var("VQLAB_PROGRESS_EVERY")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .map_or(Duration::from_secs(5), Duration::from_secs_f64)
}

/// Progress of a long command: a bar on a terminal; off a terminal (a log,
/// a pipe, a batch job), a plain line on stderr every few seconds, with an
/// estimate of the time left once there is something to estimate from.
pub struct Progress {
    bar: ProgressBar,
    plain: Option<Mutex<Plain>>,
}

struct Plain {
    started: Instant,
    last: Instant,
    every: Duration,
    message: String,
}

/// A progress display of `len` units labelled `what`.
pub fn progress_bar(len: u64, what: &str) -> Progress {
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        ProgressBar::new(len)
    } else {
        ProgressBar::hidden()
    };
    if terminal {
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
    }
    bar.set_length(len);
    bar.set_message(what.to_string());
    let now = Instant::now();
    Progress {
        bar,
        plain: (!terminal).then(|| {
            Mutex::new(Plain {
                started: now,
                last: now,
                every: line_every(),
                message: what.to_string(),
            })
        }),
    }
}

impl Progress {
    /// Sets the units done.
    pub fn set_position(&self, pos: u64) {
        self.bar.set_position(pos);
        self.report();
    }

    /// Adds one unit.
    pub fn inc(&self, by: u64) {
        self.bar.inc(by);
        self.report();
    }

    /// Sets the total.
    pub fn set_length(&self, len: u64) {
        self.bar.set_length(len);
    }

    /// Sets the label.
    pub fn set_message(&self, message: String) {
        if let Some(plain) = &self.plain {
            if let Ok(mut p) = plain.lock() {
                p.message = message.clone();
            }
        }
        self.bar.set_message(message);
    }

    /// Removes the bar (a terminal) or writes nothing more (off one).
    pub fn finish_and_clear(&self) {
        self.bar.finish_and_clear();
    }

    fn report(&self) {
        let Some(plain) = &self.plain else { return };
        let Ok(mut p) = plain.lock() else { return };
        let now = Instant::now();
        if now.duration_since(p.last) < p.every {
            return;
        }
        p.last = now;
        let (pos, len) = (self.bar.position(), self.bar.length().unwrap_or(0));
        let elapsed = now.duration_since(p.started).as_secs_f64();
        let left = if pos > 0 && len >= pos {
            format!(
                ", about {:.0} s left",
                elapsed / pos as f64 * (len - pos) as f64
            )
        } else {
            String::new()
        };
        eprintln!(
            "{}: {pos}/{len} ({:.0} %), {elapsed:.0} s{left}",
            p.message,
            100.0 * pos as f64 / len.max(1) as f64
        );
    }
}

/// A study's output folder: `out`, else `results` (`results-quick` for the
/// smoke version, which must not overwrite the committed results).
pub fn out_dir(out: Option<&std::path::Path>, quick: bool) -> std::path::PathBuf {
    out.map(std::path::PathBuf::from).unwrap_or_else(|| {
        std::path::PathBuf::from(if quick { "results-quick" } else { "results" })
    })
}

/// Prints one result as a JSON object, several as an array.
pub fn print_json_one_or_many<T: serde::Serialize>(items: &[T]) -> anyhow::Result<()> {
    let text = match items {
        [one] => serde_json::to_string_pretty(one)?,
        many => serde_json::to_string_pretty(many)?,
    };
    println!("{text}");
    Ok(())
}

/// A flag that the first Ctrl-C sets (a long command then stops after the
/// runs in progress); a second Ctrl-C quits at once with status 130.
pub fn stop_on_ctrl_c() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    stop_flag("stopping after the runs in progress (Ctrl-C again to quit at once)…")
}

/// A flag that the first Ctrl-C sets (`train` then stops after the step in
/// progress and writes what it has); a second Ctrl-C quits at once with
/// status 130.
pub fn stop_on_ctrl_c_in_train() -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    stop_flag("stopping after this step and saving what there is (Ctrl-C again to quit at once)…")
}

fn stop_flag(message: &'static str) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let _ = ctrlc::set_handler(move || {
        if flag.swap(true, Ordering::SeqCst) {
            std::process::exit(130);
        }
        eprintln!("\n{message}");
    });
    stop
}

/// `--plan`: one JSON line per unit (`key`, `shard`, `cost_mmadd`, `spec`),
/// only `shard`'s units when one is given; units are split by cost as the
/// shards split them. A closed pipe (`… --plan | head`) is not an error.
pub fn print_plan(
    units: &[(String, f64, serde_json::Value)],
    shard: Option<crate::study::shard::Shard>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let costs: Vec<f64> = units.iter().map(|u| u.1).collect();
    let count = shard.map_or(1, |s| s.count);
    let owner = crate::study::shard::assign_by_cost(&costs, count);
    let mut out = std::io::stdout().lock();
    for (i, (key, cost, spec)) in units.iter().enumerate() {
        if shard.is_some_and(|s| owner[i] != s.index - 1) {
            continue;
        }
        let line = serde_json::json!({
            "key": key,
            "shard": format!("{}/{}", owner[i] + 1, count),
            "cost_mmadd": cost,
            "spec": spec,
        });
        match writeln!(out, "{line}") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
            other => other?,
        }
    }
    Ok(())
}

/// Runs `work` with a progress display labelled `what`, handing it the
/// callback (units done, units in all, the current unit) that long library
/// calls take; the display is cleared when `work` returns.
pub fn with_progress<T>(
    what: &str,
    work: impl FnOnce(&(dyn Fn(usize, usize, &str) + Sync)) -> T,
) -> T {
    let bar = progress_bar(1, what);
    let report = |done: usize, total: usize, label: &str| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
        bar.set_message(label.to_string());
    };
    let out = work(&report);
    bar.finish_and_clear();
    out
}

/// The one driver of the long study commands (`reproduce`, `future`):
/// `--plan` prints the plan; `--shard` computes one shard into the store
/// and prints what it did; otherwise the whole study runs with a progress
/// display, Ctrl-C stopping it after the units in progress, and its summary
/// comes back for the command to render (`None` after `--plan`/`--shard`).
/// Every unit runs single-threaded: parallelism comes from `--jobs`, and
/// the results do not depend on it.
pub fn drive<S: crate::study::driver::Study>(
    study: &S,
    plan: bool,
    shard: Option<crate::study::shard::Shard>,
) -> anyhow::Result<Option<S::Summary>> {
    use crate::study::driver::Planned;
    if plan {
        let units: Vec<(String, f64, serde_json::Value)> = study
            .planned_units()?
            .iter()
            .map(|u| (u.store_key(), u.cost(), u.spec_json()))
            .collect();
        print_plan(&units, shard)?;
        return Ok(None);
    }
    crate::infra::threads::set_threads(1);
    let stop = stop_on_ctrl_c();
    if let Some(shard) = shard {
        let summary = with_progress(&format!("{} shard {shard}", S::NAME), |progress| {
            crate::study::driver::compute_shard(study, shard, &stop, progress)
        })?;
        println!("{}", summary.line(S::NAME, study.store()));
        return Ok(None);
    }
    let summary = with_progress(S::NAME, |progress| study.run(&stop, progress))?;
    Ok(Some(summary))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_smoke_version_writes_beside_the_committed_results() {
        use std::path::{Path, PathBuf};
        assert_eq!(out_dir(None, false), PathBuf::from("results"));
        assert_eq!(out_dir(None, true), PathBuf::from("results-quick"));
        assert_eq!(out_dir(Some(Path::new("x")), true), PathBuf::from("x"));
    }
}
