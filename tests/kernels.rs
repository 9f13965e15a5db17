//! The next machine, emulated: whatever kernels the environment asks for
//! (OpenBLAS's core type, libtorch's CPU capability), vqlab runs on its
//! pinned ones (src/infra/kernels.rs) and gives the same bits. Without the pin,
//! OpenBLAS's Sandybridge kernels (no FMA) change every manual-path number.
mod common;
use common::*;
use serde_json::Value;
use std::path::Path;

/// OpenBLAS core types and libtorch capabilities other CPUs would choose
/// (`None`: the variable unset, the library's own choice on this CPU).
const CORETYPES: [Option<&str>; 5] = [
    None,
    Some("Haswell"),
    Some("Zen"),
    Some("Sandybridge"),
    Some("SkylakeX"),
];
const CAPABILITIES: [Option<&str>; 3] = [Some("default"), Some("avx2"), Some("avx512")];

/// `vqlab` with the kernel variables set as another machine might have them.
fn vqlab_under(coretype: Option<&str>, capability: Option<&str>) -> std::process::Command {
    let mut cmd = vqlab();
    for (var, value) in [
        ("OPENBLAS_CORETYPE", coretype),
        ("ATEN_CPU_CAPABILITY", capability),
    ] {
        match value {
            Some(v) => cmd.env(var, v),
            None => cmd.env_remove(var),
        };
    }
    cmd.env_remove("MKL_CBWR")
        .env_remove("VQLAB_KERNELS_PINNED")
        .env_remove("VQLAB_KERNELS");
    cmd
}

#[test]
fn a_stale_marker_from_a_parent_does_not_stop_the_pin() {
    // A vqlab started by another vqlab inherits the marker with the
    // parent's process id: it must still pin and run.
    let out = vqlab_under(Some("Zen"), None)
        .env("VQLAB_KERNELS_PINNED", "1")
        .args([
            "--threads",
            "1",
            "baseline",
            "--k",
            "4",
            "--n-train",
            "300",
            "--n-eval",
            "100",
        ])
        .output()
        .unwrap();
    assert_success(&out);
}

/// The numbers of a run: without its wall time and without the fields that
/// describe the build and the rates' origin (added after the goldens).
fn without_timing(mut runs: Value) -> Value {
    for run in runs.as_array_mut().unwrap() {
        let run = run.as_object_mut().unwrap();
        for key in ["timing", "provenance", "rates"] {
            run.remove(key);
        }
    }
    runs
}

/// The golden output of [`GOLDEN_M12_ARGS`].
fn golden_m12() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/train_m12.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn every_kernel_setting_gives_the_golden_runs() {
    let golden = golden_m12();
    for coretype in CORETYPES {
        for capability in CAPABILITIES.iter().copied().chain([None]) {
            let out = vqlab_under(coretype, capability)
                .args(GOLDEN_M12_ARGS)
                .output()
                .unwrap();
            assert_eq!(
                without_timing(json_stdout(&out)),
                golden,
                "OPENBLAS_CORETYPE={coretype:?} ATEN_CPU_CAPABILITY={capability:?}"
            );
        }
    }
}

#[test]
fn opting_out_runs_the_requested_kernels() {
    // The control: with the pin off, Sandybridge's kernels (no FMA) give other
    // bits, so the test above can fail.
    let golden = golden_m12();
    let out = vqlab_under(Some("Sandybridge"), None)
        .env("VQLAB_KERNELS", "native")
        .args(GOLDEN_M12_ARGS)
        .output()
        .unwrap();
    let now = without_timing(json_stdout(&out));
    assert_ne!(now[0]["curve"], golden[0]["curve"]);
    assert_eq!(now[0]["method"], golden[0]["method"]);
}

/// Drops what rests on measured time (or names the output folder) so that
/// two runs compare bit for bit.
fn strip_timing(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !key.ends_with("seconds") && !key.ends_with("seconds_per_step"));
            map.remove("out_dir");
            if let Some(Value::Array(claims)) = map.get_mut("claims") {
                // C11 is the time-per-step claim.
                claims.retain(|c| c["id"] != "C11");
            }
            map.values_mut().for_each(strip_timing);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_timing),
        _ => {}
    }
}

/// Every JSON file a study wrote, stripped of timings, as text.
fn study_json(out: &Path) -> Vec<(String, String)> {
    let mut files: Vec<_> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no JSON in {}", out.display());
    files
        .into_iter()
        .map(|path| {
            let mut value: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            strip_timing(&mut value);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::to_string(&value).unwrap())
        })
        .collect()
}

#[test]
fn quick_studies_are_byte_identical_under_foreign_kernels() {
    let dir = tempfile::tempdir().unwrap();
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    for (i, (coretype, capability)) in [(None, None), (Some("Sandybridge"), Some("default"))]
        .into_iter()
        .enumerate()
    {
        for study in ["reproduce", "future"] {
            let out = dir.path().join(format!("{study}{i}"));
            let mut cmd = vqlab_under(coretype, capability);
            cmd.args([study, "--quick", "--out"]).arg(&out);
            if study == "future" {
                cmd.arg("--data-dir").arg(&data);
            }
            assert_success(&cmd.output().unwrap());
        }
    }
    for study in ["reproduce", "future"] {
        let (first, second) = (
            study_json(&dir.path().join(format!("{study}0"))),
            study_json(&dir.path().join(format!("{study}1"))),
        );
        assert_eq!(first.len(), second.len());
        for ((name, a), (_, b)) in first.iter().zip(&second) {
            assert!(a == b, "{study}: {name} differs under Sandybridge kernels");
        }
    }
}
