//! The report's five method names give bit-identical results to the code
//! before the model × estimator × backend redesign: golden outputs kept in
//! tests/golden/ beside the commands that produced them (README there).
mod common;
use common::*;

/// Runs `args` and compares every field but `timing` and `warnings` with
/// `file` (warnings are words about the numbers: since the golden runs they
/// no longer fire on a rise under 0.05 %).
fn matches_golden(file: &str, args: &[&str]) {
    let out = vqlab().args(args).output().unwrap();
    let mut now = json_stdout(&out);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden")
        .join(file);
    let golden: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for run in now.as_array_mut().unwrap() {
        run.as_object_mut().unwrap().remove("timing");
    }
    let (now, golden) = (now.as_array().unwrap(), golden.as_array().unwrap());
    assert_eq!(now.len(), golden.len());
    for (a, b) in now.iter().zip(golden) {
        // Every field the golden run had (fields added since, such as the
        // data description, are not compared); serde_json parses both with
        // float_roundtrip: equal values are equal bits.
        for (key, value) in b.as_object().unwrap() {
            if key == "warnings" {
                continue;
            }
            assert_eq!(
                &a[key], value,
                "{}: {key} differs from its golden run",
                b["method"]
            );
        }
    }
}

#[test]
fn the_five_report_methods_are_bit_identical_to_before() {
    matches_golden(
        "train_all.json",
        &[
            "--threads",
            "1",
            "train",
            "--method",
            "all",
            "--k",
            "8",
            "--steps",
            "60",
            "--batch",
            "256",
            "--n-train",
            "3000",
            "--n-eval",
            "600",
            "--seed",
            "7",
            "--log-every",
            "20",
            "--json",
        ],
    );
}

#[test]
fn the_gemm_path_is_bit_identical_to_before() {
    // m = 12 > 8: the manual methods take the GEMM path, not the fused kernel.
    matches_golden("train_m12.json", GOLDEN_M12_ARGS);
}
