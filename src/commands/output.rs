//! What every command prints the same way: progress bars and JSON.
use indicatif::{ProgressBar, ProgressStyle};

/// A progress bar of `len` units labelled `what` (drawn on stderr).
pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} {elapsed_precise} eta {eta}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_string());
    bar
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
