//! The layers of `src/` (docs/ARCHITECTURE.md): a module may name its own
//! layer and the ones below it, never one above. This test reads every
//! source file and fails on a `crate::<module>` path that points upward.
use std::path::{Path, PathBuf};

/// The top-level modules, lowest layer first; modules on one line share a
/// layer.
const LAYERS: [&[&str]; 8] = [
    &["error", "numerics", "infra"],
    &["data"],
    &["baseline", "model"],
    &["optim"],
    &["train"],
    &["study"],
    &["studies"],
    &["commands"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Every `crate::<name>` in `text` (comments included: a doc link upward is
/// a dependency a reader follows too).
fn crate_references(text: &str) -> Vec<String> {
    text.match_indices("crate::")
        .filter(|(i, _)| {
            // `vqlab_crate::` or `$crate::` are other things.
            !text[..*i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
        })
        .map(|(i, m)| {
            text[i + m.len()..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect()
        })
        .collect()
}

fn violations(src: &Path) -> Vec<String> {
    let mut files = Vec::new();
    rust_files(src, &mut files);
    let mut found = Vec::new();
    for file in files {
        let relative = file.strip_prefix(src).unwrap();
        let top = relative.components().next().unwrap().as_os_str();
        let top = top.to_string_lossy();
        let module = top.trim_end_matches(".rs");
        let Some(own) = layer_of(module) else {
            continue; // lib.rs, main.rs: above every layer
        };
        let text = std::fs::read_to_string(&file).unwrap();
        for name in crate_references(&text) {
            if let Some(theirs) = layer_of(&name) {
                if theirs > own {
                    found.push(format!(
                        "{}: names crate::{name} (layer {theirs} > its layer {own})",
                        relative.display()
                    ));
                }
            }
        }
    }
    found.sort();
    found.dedup();
    found
}

#[test]
fn no_layer_names_a_higher_one() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let found = violations(&src);
    assert!(found.is_empty(), "upward references:\n{}", found.join("\n"));
}

#[test]
fn every_top_level_module_has_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    for line in lib.lines() {
        if let Some(name) = line.strip_prefix("pub mod ") {
            let name = name.trim_end_matches(';');
            assert!(layer_of(name).is_some(), "src/{name} has no layer here");
        }
    }
}

#[test]
fn the_checker_catches_an_upward_reference() {
    // The control: a numerics file naming the studies is caught.
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("numerics")).unwrap();
    std::fs::write(
        dir.path().join("numerics/bad.rs"),
        "use crate::studies::future::Planner;\nuse crate::infra::io;\n",
    )
    .unwrap();
    let found = violations(dir.path());
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(found[0].contains("crate::studies"));
}
