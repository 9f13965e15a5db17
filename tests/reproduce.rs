//! `vqlab reproduce --quick` end to end in a temporary folder.
mod common;
use common::*;
use std::path::Path;
use std::process::Command;

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(
        &std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap()
}

#[test]
fn quick_reproduction_writes_everything_and_reruns_from_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("results");
    let run = || {
        vqlab()
            .args(["reproduce", "--quick", "--out"])
            .arg(&out)
            .output()
            .unwrap()
    };
    let first = run();
    assert_success(&first);

    for file in [
        "REPORT.md",
        "summary.json",
        "exp1.json",
        "exp2.json",
        "exp3.json",
        "exp4.json",
        "exp2_curves.csv",
        "c2.json",
        "exp2_curves.svg",
        "exp3_recon_vs_k.svg",
        "exp4_recon_vs_beta.svg",
    ] {
        assert!(out.join(file).exists(), "{file} missing");
    }
    let summary = read_json(&out.join("summary.json"));
    let claims = summary["claims"].as_array().unwrap();
    let ids: Vec<&str> = claims.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let expected: Vec<String> = (1..=14)
        .flat_map(|i| match i {
            9 => vec!["C9a".to_string(), "C9b".to_string()],
            i => vec![format!("C{i}")],
        })
        .collect();
    assert_eq!(ids, expected);
    for c in claims {
        assert!([
            "reproduced",
            "below_margin",
            "not_reproduced",
            "not_significant",
            "mixed",
            "not_run"
        ]
        .contains(&c["verdict"].as_str().unwrap()));
        // Every interval part carries the per-seed values behind it.
        for p in c["parts"].as_array().unwrap() {
            if let Some(n) = p["estimate"]["n"].as_u64() {
                assert_eq!(p["values"].as_array().unwrap().len() as u64, n, "{p}");
            }
        }
    }
    // Every report cell has a finite reproduction.
    let cells = summary["cells"].as_array().unwrap();
    assert!(cells.len() > 80, "{} cells", cells.len());
    for c in cells {
        let mean = c["estimate"]["mean"].as_f64().unwrap_or(f64::NAN);
        assert!(mean.is_finite(), "{c}");
    }
    // Sane metrics in the stored units: recon > insub > 0, entropy ≤ ln K.
    let exp3 = read_json(&out.join("exp3.json"));
    for unit in exp3["units"].as_array().unwrap() {
        let k = unit["spec"]["train"]["k"].as_f64().unwrap();
        for run in unit["runs"].as_array().unwrap() {
            let m = &run["final"];
            let (recon, insub) = (
                m["recon_mse"].as_f64().unwrap(),
                m["insub_distortion"].as_f64().unwrap(),
            );
            assert!(recon > insub && insub > 0.0 && recon < 10.0, "{m}");
            assert!(m["usage_entropy"].as_f64().unwrap() <= k.ln() + 1e-12);
        }
    }
    // The CSV has a header and rows for every exp-2 method.
    let csv = std::fs::read_to_string(out.join("exp2_curves.csv")).unwrap();
    assert!(csv.starts_with("init,batch,seed,method,step,"));
    for m in ["autograd-ste", "manual-ste", "rotation", "rotation-trick"] {
        assert!(csv.contains(&format!(",{m},")), "{m}");
    }
    let report = std::fs::read_to_string(out.join("REPORT.md")).unwrap();
    assert!(report.contains("## The report's claims") && report.contains("quick mode"));
    // The C2 study: every condition with a gain, a bound per data variant,
    // a verdict sentence.
    assert!(report.contains("## Why C2") && report.contains("**Verdict on C2.**"));
    let c2 = read_json(&out.join("c2.json"));
    let conditions = c2["study"]["conditions"].as_array().unwrap();
    assert!(conditions.len() >= 30, "{} conditions", conditions.len());
    for c in conditions {
        assert!(c["gain_pct"]["mean"].as_f64().unwrap().is_finite(), "{c}");
        assert_eq!(c["gain_pct"]["n"], 2);
    }
    // 10 data variants (the reference, 4 latent laws, 4 noise levels, the
    // data recalibrated for a 5-iteration baseline) × 2 seeds.
    assert_eq!(c2["study"]["bounds"].as_array().unwrap().len(), 10);
    assert_eq!(c2["units"].as_array().unwrap().len(), 20);
    assert!(report.contains("| C14 |"));

    // A second run reuses every stored unit and gives the same tables.
    let second = run();
    assert!(second.status.success());
    let stdout = String::from_utf8_lossy(&second.stdout);
    assert!(stdout.contains("(0 computed"), "{stdout}");
    let again = read_json(&out.join("summary.json"));
    assert!(
        again["cells"] == summary["cells"],
        "cells differ after reusing the store"
    );
    assert!(
        again["claims"] == summary["claims"],
        "claims differ after reusing the store"
    );
}

fn stored_runs(out: &Path) -> usize {
    std::fs::read_dir(out.join(".runs"))
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .map(|e| e.path().extension().is_some_and(|x| x == "json"))
                    .unwrap_or(false)
            })
            .count()
        })
        .unwrap_or(0)
}

/// Starts `reproduce --quick` into `out`, waits until `at_least` runs are
/// stored, and stops it with `signal` (INT: the Ctrl-C path; KILL: a killed
/// process). Returns the process's exit code (None when killed).
fn interrupt(out: &Path, at_least: usize, signal: &str) -> (Option<i32>, String) {
    let mut child = vqlab()
        .args(["reproduce", "--quick", "--out"])
        .arg(out)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while stored_runs(out) < at_least {
        assert!(started.elapsed().as_secs() < 120, "no progress");
        assert!(
            child.try_wait().unwrap().is_none(),
            "finished before it could be interrupted"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = child.wait_with_output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn interrupted_reproductions_resume_and_match_an_uninterrupted_one() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    let out = vqlab()
        .args(["reproduce", "--quick", "--out"])
        .arg(&whole)
        .output()
        .unwrap();
    assert_success(&out);
    let reference = read_json(&whole.join("summary.json"));

    for signal in ["INT", "KILL"] {
        let part = dir.path().join(format!("part-{signal}"));
        let (code, stderr) = interrupt(&part, 8, signal);
        let kept = stored_runs(&part);
        assert!((8..48).contains(&kept), "{signal}: {kept} runs stored");
        if signal == "INT" {
            assert_eq!(code, Some(130), "{stderr}");
            assert!(
                stderr.contains("interrupted") && stderr.contains("kept"),
                "{stderr}"
            );
        }
        assert!(
            !part.join("summary.json").exists(),
            "{signal}: a summary was written for an unfinished run"
        );
        // No temporary file left behind by the atomic writes.
        let leftovers: Vec<_> = std::fs::read_dir(part.join(".runs"))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().contains(".tmp"))
            .collect();
        assert!(leftovers.len() <= 2, "{signal}: {leftovers:?}");

        let resumed = vqlab()
            .args(["reproduce", "--quick", "--out"])
            .arg(&part)
            .output()
            .unwrap();
        assert_success(&resumed);
        let stdout = String::from_utf8_lossy(&resumed.stdout);
        let reused: usize = stdout
            .split(" computed, ")
            .nth(1)
            .and_then(|t| t.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap();
        assert!(
            reused >= kept,
            "{signal}: reused {reused} of {kept} stored: {stdout}"
        );
        let again = read_json(&part.join("summary.json"));
        assert!(
            again["cells"] == reference["cells"],
            "{signal}: cells differ from the uninterrupted run"
        );
        // C11 rests on measured step times, which differ from run to run.
        let without_timing = |v: &serde_json::Value| -> Vec<serde_json::Value> {
            v["claims"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|c| c["id"] != "C11")
                .cloned()
                .collect()
        };
        assert!(
            without_timing(&again) == without_timing(&reference),
            "{signal}: claims differ from the uninterrupted run"
        );
    }
}

/// REPORT.md without the lines that rest on measured time.
fn report_without_timings(out: &Path) -> String {
    std::fs::read_to_string(out.join("REPORT.md"))
        .unwrap()
        .lines()
        .filter(|l| {
            !["Wall time", "ms per step", "time per step", "C11"]
                .iter()
                .any(|t| l.contains(t))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn computed_of(stdout: &str) -> usize {
    stdout
        .split('(')
        .nth(1)
        .and_then(|t| t.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no count in {stdout}"))
}

#[test]
fn three_concurrent_shards_on_one_store_render_the_unsharded_report() {
    let dir = tempfile::tempdir().unwrap();
    let whole = dir.path().join("whole");
    assert_success(
        &vqlab()
            .args(["reproduce", "--quick", "--out"])
            .arg(&whole)
            .output()
            .unwrap(),
    );

    // The store lives apart from the output, as on a shared filesystem.
    let store = dir.path().join("shared-store");
    let sharded = dir.path().join("sharded");
    let shards: Vec<_> = (1..=3)
        .map(|i| {
            vqlab()
                .args(["reproduce", "--quick", "--jobs", "1", "--shard"])
                .arg(format!("{i}/3"))
                .arg("--out")
                .arg(&sharded)
                .env("VQLAB_STORE", &store)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut computed = 0;
    for child in shards {
        let out = child.wait_with_output().unwrap();
        assert_success(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("run without --shard"), "{stdout}");
        computed += computed_of(&stdout);
    }
    assert!(!sharded.join("REPORT.md").exists(), "a shard rendered");
    // Every planned unit once, no temporary file left.
    let plan = vqlab()
        .args(["reproduce", "--quick", "--plan"])
        .output()
        .unwrap();
    assert_success(&plan);
    let planned = String::from_utf8_lossy(&plan.stdout).lines().count();
    assert_eq!(computed, planned);
    let files: Vec<String> = std::fs::read_dir(&store)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(files.len(), planned, "{files:?}");
    assert!(files
        .iter()
        .all(|f| f.ends_with(".json") && !f.starts_with('.')));

    // The unsharded run computes nothing and renders the same report.
    let render = || {
        vqlab()
            .args(["reproduce", "--quick", "--store"])
            .arg(&store)
            .arg("--out")
            .arg(&sharded)
            .output()
            .unwrap()
    };
    let last = render();
    assert_success(&last);
    let stdout = String::from_utf8_lossy(&last.stdout);
    assert!(stdout.contains("(0 computed"), "{stdout}");
    let (a, b) = (
        report_without_timings(&sharded),
        report_without_timings(&whole),
    );
    for (x, y) in a.lines().zip(b.lines()) {
        assert_eq!(x, y, "the reports differ");
    }
    assert_eq!(a.lines().count(), b.lines().count());

    // A stored unit computed by other code is recomputed, never reused.
    let victim = store.join(files.iter().find(|f| f.starts_with("exp2")).unwrap());
    let mut unit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&victim).unwrap()).unwrap();
    unit["spec"]["code"] = serde_json::json!("0000000000000000");
    std::fs::write(&victim, unit.to_string()).unwrap();
    let again = render();
    assert_success(&again);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("(1 computed"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[test]
fn the_plan_lists_every_unit_once_across_shards_with_its_cost() {
    let lines = |args: &[&str]| -> Vec<serde_json::Value> {
        let out = vqlab()
            .args(["reproduce", "--quick", "--plan"])
            .args(args)
            .output()
            .unwrap();
        assert_success(&out);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    };
    let all = lines(&[]);
    // Experiment 3 and 4 at both candidate batch sizes: 2 + 4 + 2·(8 + 10)
    // units per seed, and the C2 study's 10 data variants.
    assert_eq!(all.len(), 2 * (2 + 4 + 2 * (8 + 10) + 10));
    assert_eq!(
        all.iter()
            .filter(|l| l["key"].as_str().unwrap().starts_with("c2_"))
            .count(),
        20
    );
    let mut keys: Vec<String> = Vec::new();
    for i in 1..=4 {
        for line in lines(&["--shard", &format!("{i}/4")]) {
            assert_eq!(line["shard"], format!("{i}/4"));
            assert!(line["cost_mmadd"].as_f64().unwrap() > 0.0);
            assert!(line["spec"]["train"]["k"].as_u64().is_some());
            keys.push(line["key"].as_str().unwrap().to_string());
        }
    }
    keys.sort();
    let mut expected: Vec<String> = all
        .iter()
        .map(|l| l["key"].as_str().unwrap().to_string())
        .collect();
    expected.sort();
    assert_eq!(keys, expected);
    // A fixed batch size needs no second candidate.
    assert_eq!(lines(&["--batch", "1024"]).len(), 2 * (2 + 2 + 8 + 10 + 10));
    assert_eq!(lines(&["--only", "c2"]).len(), 20);
}

/// The README's SLURM and Kubernetes lines, run as written (with `--quick
/// --plan` added) under the variables their schedulers set: the shards
/// cover the plan exactly once.
#[test]
fn the_readme_scheduler_recipes_cover_every_unit_once() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let keys_of = |stdout: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(stdout)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["key"].as_str().unwrap().to_string()
            })
            .collect()
    };
    let plan = vqlab()
        .args(["reproduce", "--quick", "--plan"])
        .output()
        .unwrap();
    assert_success(&plan);
    let mut expected = keys_of(&plan.stdout);
    expected.sort();
    for (variable, count_variable) in [
        ("SLURM_ARRAY_TASK_ID", Some("SLURM_ARRAY_TASK_COUNT")),
        ("JOB_COMPLETION_INDEX", None),
    ] {
        let line = readme
            .lines()
            .find(|l| l.starts_with("vqlab reproduce") && l.contains(variable))
            .unwrap_or_else(|| panic!("README has no {variable} recipe"));
        let command = line.replacen(
            "vqlab reproduce",
            &format!("{} reproduce --quick --plan", env!("CARGO_BIN_EXE_vqlab")),
            1,
        );
        let mut keys = Vec::new();
        for index in 0..8 {
            let mut shell = Command::new("bash");
            shell
                .args(["-c", &command])
                .env(variable, index.to_string());
            if let Some(c) = count_variable {
                shell.env(c, "8");
            }
            let out = shell.output().unwrap();
            assert_success(&out);
            keys.extend(keys_of(&out.stdout));
        }
        keys.sort();
        assert_eq!(keys, expected, "{variable}");
    }
}

/// `calibrate --joint` (tiny: one seed, a 3-point grid) fits every latent
/// law, writes its preset beside OUT, and measures the gain on each.
#[test]
fn the_joint_fit_covers_every_latent_law() {
    let dir = tempfile::tempdir().unwrap();
    let out = vqlab()
        .args([
            "calibrate",
            "--joint",
            "--seeds",
            "1",
            "--grid",
            "3",
            "--family",
            "geometric",
            "--json",
            "--out",
        ])
        .arg(dir.path().join("gaussian.json"))
        .output()
        .unwrap();
    assert_success(&out);
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rows = rows.as_array().unwrap();
    let laws: Vec<&str> = rows.iter().map(|r| r["latent"].as_str().unwrap()).collect();
    assert_eq!(
        laws,
        ["gaussian", "laplace", "uniform", "student-t3", "mixture-4"]
    );
    for r in rows {
        assert!(r["max_abs_rel_residual"].as_f64().unwrap() >= 0.0);
        assert!(r["gain_pct"]["mean"].as_f64().unwrap().is_finite());
        assert!(r["reproduces_cells_and_gain"].is_boolean());
        let preset = std::path::PathBuf::from(r["preset"].as_str().unwrap());
        let text = std::fs::read_to_string(&preset).unwrap();
        assert!(text.contains("--joint"), "{}", preset.display());
    }
}

/// `calibrate --latent` fits the cells under another latent law and says so
/// in the preset (its spec and the command that wrote it); an unknown law,
/// or `--latent` with `--joint`, is refused.
#[test]
fn calibrate_fits_another_latent_law_and_refuses_unknown_ones() {
    let dir = tempfile::tempdir().unwrap();
    let preset = dir.path().join("c2-uniform.json");
    let out = vqlab()
        .args([
            "calibrate",
            "--latent",
            "uniform",
            "--seeds",
            "1",
            "--grid",
            "3",
            "--family",
            "geometric",
            "--out",
        ])
        .arg(&preset)
        .output()
        .unwrap();
    assert_success(&out);
    let fit = read_json(&preset);
    assert_eq!(fit["spec"]["latent"], "uniform");
    assert_eq!(fit["target"]["latent"], "uniform");
    assert!(fit["command"]
        .as_str()
        .unwrap()
        .contains("--latent uniform"));
    for bad in [
        &["--latent", "cauchy"][..],
        &["--latent", "mixture-0"],
        &["--latent", "laplace", "--joint"],
    ] {
        let out = vqlab()
            .arg("calibrate")
            .args(bad)
            .arg("--out")
            .arg(dir.path().join("never.json"))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
        assert!(!dir.path().join("never.json").exists());
    }
}
