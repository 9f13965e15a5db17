//! Learning-rate schedules: `constant`, or `cosine`,
//! η_t = η_final + (η₀ − η_final)(1 + cos(π t/T))/2 with t the steps already
//! taken and T the run's steps.
use serde::{Deserialize, Serialize};

use crate::error::{invalid, Result};

/// How the learning rates change over a run.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum, Default,
)]
#[serde(rename_all = "kebab-case")]
pub enum ScheduleKind {
    /// The same rates at every step.
    #[default]
    Constant,
    /// Cosine decay from the start rates to the final rates.
    Cosine,
}

/// A schedule with its final rates (used by `cosine`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct ScheduleSpec {
    /// Which schedule.
    pub kind: ScheduleKind,
    /// η_W at the end of a cosine schedule.
    pub lr_final_w: f64,
    /// η_E at the end of a cosine schedule.
    pub lr_final_e: f64,
}

impl ScheduleSpec {
    /// The constant schedule (left out of JSON).
    pub fn is_default(&self) -> bool {
        *self == ScheduleSpec::default()
    }

    /// Checks that each final rate is finite, ≥ 0 and at most its start.
    pub fn validate(&self, lr_w: f64, lr_e: f64) -> Result<()> {
        if self.kind == ScheduleKind::Constant {
            for (field, end) in [
                ("lr_final_w", self.lr_final_w),
                ("lr_final_e", self.lr_final_e),
            ] {
                if end != 0.0 {
                    return Err(invalid(field, end, "only used by --schedule cosine"));
                }
            }
        }
        for (field, end, start) in [
            ("lr_final_w", self.lr_final_w, lr_w),
            ("lr_final_e", self.lr_final_e, lr_e),
        ] {
            if !end.is_finite() || end < 0.0 || end > start {
                return Err(invalid(
                    field,
                    end,
                    format!("a finite number between 0 and the start rate {start}"),
                ));
            }
        }
        Ok(())
    }

    /// The rate after `taken` of `total` steps, from `start` to `end`.
    pub fn rate(&self, start: f64, end: f64, taken: usize, total: usize) -> f64 {
        match self.kind {
            ScheduleKind::Constant => start,
            ScheduleKind::Cosine => {
                let progress = taken as f64 / total.max(1) as f64;
                end + (start - end) * (1.0 + (std::f64::consts::PI * progress).cos()) / 2.0
            }
        }
    }
}
