//! `vqlab study FILE`: the example study end to end on a small slice, and
//! bad study files refused with the line named and nothing written.
mod common;
use common::*;

use std::path::{Path, PathBuf};

/// The shipped example, copied beside a small patches file.
fn example_in(dir: &Path, rows: usize) -> PathBuf {
    let out = vqlab()
        .args(["data", "patches", "--rows", &rows.to_string(), "--out"])
        .arg(dir.join("patches.csv"))
        .output()
        .unwrap();
    assert_success(&out);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/my-data.toml");
    let path = dir.join("my-data.toml");
    std::fs::copy(example, &path).unwrap();
    path
}

#[test]
fn the_example_study_runs_end_to_end_and_reuses_its_units() {
    let dir = tempfile::tempdir().unwrap();
    let file = example_in(dir.path(), 600);
    let out_dir = dir.path().join("out");
    let run = || {
        vqlab()
            .args(["study", "--quick", "--out"])
            .arg(&out_dir)
            .arg(&file)
            .output()
            .unwrap()
    };
    let out = run();
    assert_success(&out);
    let md = std::fs::read_to_string(out_dir.join("STUDY.md")).unwrap();
    assert!(
        md.starts_with("# Gumbel-hard and the rotation trick"),
        "{md}"
    );
    assert!(md.contains("patches.csv"), "{md}");
    assert!(md.contains("Fixed rates, trained once"), "{md}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("study.json")).unwrap())
            .unwrap();
    let hypotheses = summary["hypotheses"].as_array().unwrap();
    assert_eq!(hypotheses.len(), 2);
    assert_eq!(summary["seeds"], serde_json::json!([0, 1]));
    for h in hypotheses {
        // Every part was run and judged on both seeds.
        for part in h["parts"].as_array().unwrap() {
            assert_eq!(part["values"].as_array().unwrap().len(), 2, "{part}");
        }
        assert_ne!(h["verdict"], "not_run", "{h}");
    }
    // The condition's rows: the baselines and the four arms.
    let rows = summary["studies"][0]["conditions"][0]["rows"]
        .as_array()
        .unwrap();
    assert!(rows.len() >= 4, "{rows:?}");
    assert!(out_dir.join("study_curves.csv").exists());
    // A second run reuses every unit from the store and says the same.
    let again = run();
    assert_success(&again);
    let stdout = String::from_utf8_lossy(&again.stdout);
    assert!(stdout.contains("0 computed"), "{stdout}");
    let md_again = std::fs::read_to_string(out_dir.join("STUDY.md")).unwrap();
    let body = |m: &str| m.lines().skip(5).collect::<Vec<_>>().join("\n");
    assert_eq!(body(&md), body(&md_again));
}

/// Runs `vqlab study` on `text` (written as `name`) and returns stderr,
/// asserting exit 2 and that nothing was written.
fn refused(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out_dir = dir.join("never");
    let out = vqlab()
        .args(["study", "--quick", "--out"])
        .arg(&out_dir)
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{text}");
    assert!(!out_dir.exists(), "{text}: something was written");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_study_files_name_the_line_and_write_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let good = std::fs::read_to_string(example_in(dir.path(), 600)).unwrap();
    let line_of = |needle: &str| {
        1 + good
            .lines()
            .position(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("{needle}"))
    };
    // An unknown field.
    let text = good.replace("batch = 256", "batch = 256\nbatchsize = 3");
    let err = refused(dir.path(), "a.toml", &text);
    assert!(
        err.contains(&format!("line {}", line_of("batch = 256") + 1)) && err.contains("batchsize"),
        "{err}"
    );
    // An arm the model cannot take.
    let text = good.replace(
        "name = \"gumbel-hard\"\nestimator = \"gumbel-hard\"",
        "name = \"gumbel-hard\"\nestimator = \"gumbel-hard\"\nhidden = 32",
    );
    let err = refused(dir.path(), "b.toml", &text);
    assert!(
        err.contains(&format!("line {}", line_of("name = \"gumbel-hard\"") + 2))
            && err.contains("no hidden layer"),
        "{err}"
    );
    // A hypothesis naming an arm that does not exist.
    let text = good.replace("candidate = \"ste\"", "candidate = \"stee\"");
    let err = refused(dir.path(), "c.toml", &text);
    assert!(
        err.contains(&format!("line {}", line_of("candidate = \"ste\"")))
            && err.contains("no arm is named \"stee\""),
        "{err}"
    );
    // Fewer than two seeds.
    let text = good.replace("seeds = 5", "seeds = 1");
    let err = refused(dir.path(), "d.toml", &text);
    assert!(
        err.contains(&format!("line {}", line_of("seeds = 5"))) && err.contains("at least 2"),
        "{err}"
    );
    // The same in JSON: the line of the unknown field.
    let err = refused(
        dir.path(),
        "e.json",
        "{\n  \"title\": \"t\",\n  \"seeds\": 3,\n  \"colour\": 1\n}\n",
    );
    assert!(err.contains("line 4") && err.contains("colour"), "{err}");
}

#[test]
fn the_study_files_give_the_numbers_of_future() {
    // F1 and F2 (F2: the generator with rows per scale, `{k}` in a name).
    for (id, units) in [("F1", 68), ("F2", 62)] {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let slice = root.join("tests/data");
        let store = dir.path().join("store");
        let (code_out, file_out) = (dir.path().join("code"), dir.path().join("file"));
        let out = vqlab()
            .args(["future", "--quick", "--only", id, "--data-dir"])
            .arg(&slice)
            .arg("--store")
            .arg(&store)
            .arg("--out")
            .arg(&code_out)
            .output()
            .unwrap();
        assert_success(&out);
        // The file's units are the code's: every one is found in the store.
        let out = vqlab()
            .args(["study", "--quick", "--data-dir"])
            .arg(&slice)
            .arg("--store")
            .arg(&store)
            .arg("--out")
            .arg(&file_out)
            .arg(root.join(format!("studies/{id}.toml")))
            .output()
            .unwrap();
        assert_success(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains(&format!("(0 computed, {units} reused)")),
            "{id}: {stdout}"
        );
        let read = |p: PathBuf| -> serde_json::Value {
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        };
        let (code, file) = (
            read(code_out.join("future.json")),
            read(file_out.join("study.json")),
        );
        assert_eq!(code["hypotheses"], file["hypotheses"], "{id}");
        assert_eq!(
            code["studies"][0]["conditions"], file["studies"][0]["conditions"],
            "{id}"
        );
        assert_eq!(code["seeds"], file["seeds"], "{id}");
    }
}

/// Two generator conditions with ids, an arm on each: `conditions` chooses
/// where an arm trains, and a part without a condition is judged where both
/// its sides train.
const TWO_CONDITIONS: &str = r#"title = "t"
seeds = 2

[[condition]]
id = "small"
data = { generator = [600, 100, 200] }
k = 8
m = 4
batch = 64
steps = 10

[[condition]]
id = "large"
data = { generator = [600, 100, 200] }
k = 16
m = 4
batch = 64
steps = 10

[[arm]]
estimator = "ste"
conditions = ["small"]

[[arm]]
estimator = "nsvq"
conditions = ["large"]

[[hypothesis]]
id = "H"
text = "NSVQ beats the baseline"
candidate = "tied/nsvq"
reference = "converged"
"#;

#[test]
fn an_arm_trains_on_the_conditions_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("two.toml");
    std::fs::write(&path, TWO_CONDITIONS).unwrap();
    let out_dir = dir.path().join("out");
    let out = vqlab()
        .args(["study", "--quick", "--out"])
        .arg(&out_dir)
        .arg(&path)
        .output()
        .unwrap();
    assert_success(&out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out_dir.join("study.json")).unwrap())
            .unwrap();
    let conditions = summary["studies"][0]["conditions"].as_array().unwrap();
    let arms = |i: usize| -> Vec<String> {
        conditions[i]["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["name"].as_str().unwrap().to_string())
            .filter(|n| !n.starts_with("PCA"))
            .collect()
    };
    assert_eq!(arms(0), ["tied/ste"]);
    assert_eq!(arms(1), ["tied/nsvq"]);
    // The part is judged in the one condition where NSVQ trains.
    let parts = summary["hypotheses"][0]["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 1, "{parts:?}");
    let what = parts[0]["what"].as_str().unwrap();
    assert!(what.contains("K=16: tied/nsvq"), "{what}");
}

#[test]
fn bad_arm_conditions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        (
            TWO_CONDITIONS.replace("conditions = [\"small\"]", "conditions = [\"smal\"]"),
            "no condition is named \"smal\" (the conditions: small, large)",
        ),
        (
            TWO_CONDITIONS.replace("conditions = [\"small\"]", "conditions = []"),
            "conditions = []: at least one",
        ),
        (
            TWO_CONDITIONS.replace(
                "estimator = \"ste\"\nconditions = [\"small\"]",
                "estimator = \"ste\"\nconditions = [\"large\"]",
            ),
            "no arm trains on condition",
        ),
        (
            TWO_CONDITIONS.replace("[[arm]]\nestimator = \"ste\"", "[[arm]]\nmodel = \"conv\"\nestimator = \"ste\""),
            "the conv model needs image data",
        ),
        (
            TWO_CONDITIONS.replace(
                "reference = \"converged\"",
                "reference = \"tied/ste\"",
            ),
            "is in no condition where both train",
        ),
        (
            TWO_CONDITIONS.replace(
                "candidate = \"tied/nsvq\"\nreference = \"converged\"",
                "parts = [{ candidate = \"tied/nsvq\", reference = \"converged\", condition = \"small\" }]",
            ),
            "where one of them does not train",
        ),
    ];
    for (i, (text, expected)) in cases.iter().enumerate() {
        let err = refused(dir.path(), &format!("{i}.toml"), text);
        assert!(err.contains(expected), "case {i}: {err}");
    }
    // The line named is the arm's own field: its `conditions` (line 22,
    // the first arm's) and its `model`.
    let err = refused(dir.path(), "lines-a.toml", &cases[0].0);
    assert!(err.contains("line 22"), "{err}");
    let err = refused(dir.path(), "lines-b.toml", &cases[3].0);
    assert!(err.contains("line 21"), "{err}");
    let second = TWO_CONDITIONS.replace("conditions = [\"large\"]", "conditions = [\"larg\"]");
    let err = refused(dir.path(), "lines-c.toml", &second);
    assert!(err.contains("line 26"), "{err}");
}
