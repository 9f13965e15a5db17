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

/// The identifier at the start of `text`.
fn identifier(text: &str) -> String {
    text.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The first identifier of every item of a `{a, b::c, d as e}` group that
/// starts `text` (nested groups belong to their item).
fn group_items(text: &str) -> Vec<String> {
    let mut items = Vec::new();
    let mut depth = 0;
    let mut start = true;
    for (i, c) in text.char_indices() {
        match c {
            '{' => {
                depth += 1;
                if depth == 1 {
                    start = true;
                    continue;
                }
            }
            '}' => {
                depth -= 1;
                if depth == 0 {
                    break;
                }
            }
            ',' if depth == 1 => {
                start = true;
                continue;
            }
            _ => {}
        }
        if start && depth == 1 && !c.is_whitespace() {
            start = false;
            items.push(identifier(&text[i..]));
        }
    }
    items
}

/// Whether the match at `i` starts a path (not `my_crate::`, `$crate::`,
/// `x.super::`).
fn starts_a_path(text: &str, i: usize) -> bool {
    !text[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '$')
}

/// Every top-level module `text` names: `crate::<name>`, each item of
/// `crate::{…}`, `vqlab::<name>` (doc examples), and a `super::` chain that
/// climbs from `module` (the file's module path) to the crate root.
/// Comments count: a doc link upward is a dependency a reader follows too.
fn crate_references(text: &str, module: &[String]) -> Vec<String> {
    let mut names = Vec::new();
    for root in ["crate::", "vqlab::"] {
        for (i, m) in text.match_indices(root) {
            if !starts_a_path(text, i) {
                continue;
            }
            let rest = &text[i + m.len()..];
            if rest.starts_with('{') {
                names.extend(group_items(rest));
            } else {
                names.push(identifier(rest));
            }
        }
    }
    for (i, m) in text.match_indices("super::") {
        if !starts_a_path(text, i) || text[..i].ends_with("super::") {
            continue; // counted from the chain's first `super::`
        }
        let mut rest = &text[i + m.len()..];
        let mut climbs = 1;
        while let Some(r) = rest.strip_prefix("super::") {
            climbs += 1;
            rest = r;
        }
        if climbs == module.len() {
            if rest.starts_with('{') {
                names.extend(group_items(rest));
            } else {
                names.push(identifier(rest));
            }
        }
    }
    names
}

/// The module path of a file under `src/`: `model/spec.rs` → [model, spec],
/// `studies/future/mod.rs` → [studies, future].
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| {
            c.as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string()
        })
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
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
        for name in crate_references(&text, &module_path(relative)) {
            if let Some(theirs) = layer_of(&name) {
                if theirs > own {
                    found.push(format!(
                        "{}: names {name} (layer {theirs} > its layer {own})",
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
    assert!(found[0].contains("names studies"));
}

#[test]
fn the_checker_reads_groups_super_chains_and_doc_examples() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("model/inner")).unwrap();
    let write = |path: &str, text: &str| std::fs::write(dir.path().join(path), text).unwrap();
    // A group naming a lower and a higher layer.
    write(
        "model/a.rs",
        "use crate::{numerics::linalg, train::TrainConfig};\n",
    );
    // Three `super::` from model/inner/b.rs reach the crate root; two stay
    // in model.
    write(
        "model/inner/b.rs",
        "use super::super::super::optim::Update;\nuse super::super::spec;\n",
    );
    // super:: within the layer is fine.
    write(
        "model/inner/mod.rs",
        "use super::spec::ModelSpec;\nuse super::{params, method};\n",
    );
    // A doc example naming a higher layer.
    write("model/c.rs", "//! let s = vqlab::studies::bench::run();\n");
    let found = violations(dir.path());
    let expected = [
        "model/a.rs: names train",
        "model/c.rs: names studies",
        "model/inner/b.rs: names optim",
    ];
    assert_eq!(found.len(), expected.len(), "{found:?}");
    for (f, e) in found.iter().zip(expected) {
        assert!(f.starts_with(e), "{f} vs {e}");
    }
}
