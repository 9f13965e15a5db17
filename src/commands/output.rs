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

/// Prints one result as a JSON object, several as an array.
pub fn print_json_one_or_many<T: serde::Serialize>(items: &[T]) -> anyhow::Result<()> {
    let text = match items {
        [one] => serde_json::to_string_pretty(one)?,
        many => serde_json::to_string_pretty(many)?,
    };
    println!("{text}");
    Ok(())
}
