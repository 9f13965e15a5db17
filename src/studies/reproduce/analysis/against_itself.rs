//! The report against itself: claims its own tables contradict.
#[allow(unused_imports)]
use super::*;

/// A claim whose prose the report's own tables contradict.
#[derive(Debug, Clone, Serialize)]
pub struct SelfContradiction {
    /// The claim.
    pub claim: String,
    /// What the prose says.
    pub prose: String,
    /// What the report's tables give, computed from its numbers.
    pub tables: String,
}

/// The report against itself: each claim whose prose its own tables
/// contradict, with both numbers (computed from reference/report_numbers.json).
pub fn report_against_itself() -> Vec<SelfContradiction> {
    let r = report_numbers();
    let num = |v: &Value| v.as_f64().unwrap_or(f64::NAN);
    let pct = |a: f64, b: f64| 100.0 * (a - b) / b;
    let mut out = Vec::new();
    let mut add = |claim: &str, prose: String, tables: String| {
        out.push(SelfContradiction {
            claim: claim.to_string(),
            prose,
            tables,
        })
    };
    // C1: the largest manual-vs-autograd difference in experiment 1's table.
    let e1 = &r["exp1_verification"]["results"];
    let stated = num(&r["exp1_verification"]["claims"]["max_relative_error_manual_vs_autograd"]);
    let largest = ["recon_mse", "insub_distortion", "usage_entropy"]
        .iter()
        .map(|m| {
            (num(&e1["manual_ste"][m]) - num(&e1["autograd_ste"][m])).abs()
                / num(&e1["autograd_ste"][m])
        })
        .fold(0.0, f64::max);
    if (largest - stated).abs() > 0.001 {
        add(
            "C1",
            format!("manual matches autograd within ~{:.1} %", 100.0 * stated),
            format!(
                "the largest difference in its experiment-1 table is {:.2} %",
                100.0 * largest
            ),
        );
    }
    // C2: gains outside the stated band.
    let e2 = &r["exp2_convergence"]["results"];
    for key in ["autograd_ste", "manual_ste", "rotation"] {
        let g = -num(&e2[key]["vs_baseline_pct"]);
        if !(1.3..=1.7).contains(&g) {
            add(
                "C2",
                "every gradient method is 1.3–1.7 % better than the baseline".into(),
                format!("{key}'s gain in its experiment-2 table is {g:.2} %"),
            );
        }
    }
    // C4: the sign of manual − autograd in each table that has both.
    let c4_1 = pct(
        num(&e1["manual_ste"]["recon_mse"]),
        num(&e1["autograd_ste"]["recon_mse"]),
    );
    if c4_1 < 0.0 {
        add(
            "C4",
            "manual STE is ~0.4 % behind autograd STE".into(),
            format!(
                "in experiment 1 manual STE is {:.2} % ahead (experiment 2: {:.2} % behind)",
                -c4_1,
                pct(
                    num(&e2["manual_ste"]["recon_mse"]),
                    num(&e2["autograd_ste"]["recon_mse"])
                )
            ),
        );
    }
    // C6: the K-changes of experiment 3's table.
    let e3 = &r["exp3_codebook_scaling"]["results"];
    let change = |who: &str, k1: &str, k2: &str| {
        pct(
            num(&e3[k2][who]["recon_mse"]),
            num(&e3[k1][who]["recon_mse"]),
        )
    };
    for (k1, k2, stated) in [("8", "16", -27.0), ("32", "64", -19.0)] {
        let (m, b) = (change("manual_ste", k1, k2), change("pca_lloyd", k1, k2));
        if (m - stated).abs() > 2.0 && (b - stated).abs() > 2.0 {
            add(
                "C6",
                format!("K {k1}→{k2} gives about {stated:.0} %"),
                format!(
                    "its experiment-3 table gives {m:.1} % (manual STE) and {b:.1} % (baseline)"
                ),
            );
        }
    }
    // C7: the stated gain at K = 8.
    let g8 = -pct(
        num(&e3["8"]["manual_ste"]["recon_mse"]),
        num(&e3["8"]["pca_lloyd"]["recon_mse"]),
    );
    if (g8 - 0.5).abs() > 0.1 {
        add(
            "C7",
            "small codebooks (K = 8): 0.5 % improvement".into(),
            format!("its K = 8 table gives {g8:.2} %"),
        );
    }
    // C8: the stated ratio at K = 64 against the ratio table.
    let ratio64 = num(&r["exp3_codebook_scaling"]["claims"]["recon_over_insub_ratio"]["64"][1]);
    if (ratio64 - 1.51).abs() > 0.005 {
        add(
            "C8",
            "the ratio reaches 1.51 at K = 64".into(),
            format!(
                "its ratio table has {ratio64:.2} for manual STE at K = 64 (1.51 for the baseline)"
            ),
        );
    }
    // C9: the β range over both methods.
    let e4 = &r["exp4_beta_ablation"]["results"];
    let all: Vec<f64> = ["0.0", "0.1", "0.25", "0.5", "1.0"]
        .iter()
        .flat_map(|b| ["manual_ste", "rotation"].map(|m| num(&e4[b][m]["recon_mse"])))
        .collect();
    let (lo, hi) = (
        all.iter().copied().fold(f64::INFINITY, f64::min),
        all.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    );
    if pct(hi, lo) > 0.2 {
        add(
            "C9",
            "β ∈ [0, 1] changes performance by < 0.2 %".into(),
            format!(
                "its experiment-4 table spans {:.2} % across both methods",
                pct(hi, lo)
            ),
        );
    }
    out
}

pub(crate) fn mean(v: &[f64]) -> f64 {
    if v.is_empty() {
        f64::NAN
    } else {
        v.iter().sum::<f64>() / v.len() as f64
    }
}
