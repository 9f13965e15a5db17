//! The findings of [`identify`](super::identify::identify) in words: a fit described, where
//! it departs, and the notes a reader should not miss.
use super::identify::{max_abs, Fit, Form, ForwardCheck, OutputPath, Weight, Wiring};
use super::probe::Probe;

pub(super) fn id_forward_nearest(forward: &[ForwardCheck], form: Form) -> usize {
    forward
        .iter()
        .find(|f| f.form == form)
        .map_or(0, |f| f.nearest_rows)
}

/// What the best fit points at that a reader should not miss.
pub(super) fn notes(
    probe: &Probe,
    best: &Fit,
    tol: f64,
    nearest_rows: usize,
    aux: (f64, f64),
) -> Vec<String> {
    let mut notes = Vec::new();
    let rows = probe.assignments.len();
    match best.path {
        OutputPath::NoGradient => notes.push(
            "nothing reaches z through the output: whatever encodes z gets no reconstruction gradient (the output detached from z?)"
                .into(),
        ),
        OutputPath::ToCodebook => notes.push(
            "the output is the code with no straight-through: the decoder's gradient trains the codebook and never reaches z (the STE forgotten?)"
                .into(),
        ),
        OutputPath::Estimator(_) => {}
    }
    let (returned, predicted) = aux;
    if (returned - predicted).abs() > 1e-3 * returned.abs().max(predicted.abs()) {
        notes.push(format!(
            "the aux loss returned ({returned:.6}) is not what the fitted weights give ({predicted:.6}): a term with a value but no gradient (detached on both sides), a term outside these wirings, or another aux loss (diversity, orthogonality) added to it"
        ));
    }
    if nearest_rows < rows {
        notes.push(format!(
            "{} of {rows} rows use a code that is not the nearest (sampled codes?); the gradient is still {} of the code used",
            rows - nearest_rows,
            best.path.name()
        ));
    }
    for d in &best.departures {
        if d.share_along_z.is_some_and(|s| s > 0.99) {
            notes.push(format!(
                "{} departs from {} only along z: the radial component of the gradient is missing or extra (z normalised inside the graph?)",
                d.tensor,
                best.path.name()
            ));
        }
    }
    let codebook_silent = probe
        .grad_codebook
        .as_ref()
        .is_none_or(|g| max_abs(g) == 0.0);
    if probe.meta.codebook_trainable == Some(true) && codebook_silent {
        notes.push(
            "the codebook is a trainable tensor (requires_grad) but receives no gradient: it never learns (detached in the loss and in the output?)"
                .into(),
        );
    }
    if let (Wiring::Separate, Some(e), true) = (best.wiring, best.codebook, best.error <= tol) {
        let z = best.commitment;
        if e.coefficient > 0.0 && z.coefficient > e.coefficient * (1.0 + tol.max(1e-6) * 10.0) {
            notes.push(format!(
                "the commitment weight ({:.4}) is larger than the codebook weight ({:.4}): the usual wiring (van den Oord et al. 2017) puts the smaller β on the commitment term ‖z − sg(q)‖²; here it is on the codebook term (β on the wrong term?)",
                z.mse_mean, e.mse_mean
            ));
        }
    }
    if best.commitment.coefficient < 0.0 || best.codebook.is_some_and(|w| w.coefficient < 0.0) {
        notes.push("a fitted weight is negative: the aux loss pushes z and the codes apart".into());
    }
    notes
}

impl Fit {
    /// The fit in words: "∂L/∂z is the rotation trick on plain rows;
    /// commitment weight 1 (F.mse_loss mean); nothing flows to the codebook".
    pub fn describe(&self) -> String {
        let path = match self.path {
            OutputPath::NoGradient => "nothing flows from the output to z".to_string(),
            OutputPath::ToCodebook => {
                "the output is the code itself: its gradient goes to the codebook, none to z"
                    .to_string()
            }
            OutputPath::Estimator(e) => format!("∂L/∂z through the output is {}", e.name()),
        };
        let form = match self.form {
            Form::Plain => "plain rows and codes",
            Form::Cosine => "ℓ2-normalised rows and codes (cosine)",
        };
        let w = |w: Weight| {
            format!(
                "{:.4} (F.mse_loss mean; {:.4} per-row)",
                w.mse_mean, w.row_mean
            )
        };
        let silent = |w: Weight| w.mse_mean.abs() < 1e-9;
        let aux = match (self.wiring, self.codebook) {
            _ if silent(self.commitment) && self.codebook.is_none_or(silent) => {
                "no aux loss reaches the gradients".to_string()
            }
            (Wiring::CodebookOutside, _) | (_, None) => format!(
                "commitment weight {}; nothing flows to the codebook (EMA, a buffer, or detached)",
                w(self.commitment)
            ),
            (Wiring::Combined, Some(_)) => format!(
                "one term ‖z − q‖² without a stop-gradient, weight {} on both z and the codebook",
                w(self.commitment)
            ),
            (Wiring::Separate, Some(e)) => format!(
                "commitment weight {}, codebook weight {}",
                w(self.commitment),
                w(e)
            ),
        };
        format!("{path}, on {form}; {aux}")
    }

    /// Where the tensors depart, in words (empty for a match).
    pub fn describe_departures(&self) -> Vec<String> {
        self.departures
            .iter()
            .map(|d| {
                let mut s = format!(
                    "{} departs in {} of {} {} (worst: {})",
                    d.tensor,
                    d.rows_off,
                    d.rows,
                    if d.tensor == "grad_codebook" { "codes" } else { "rows" },
                    d.worst_row
                );
                if let (Some(z), Some(r)) = (d.share_along_z, d.share_along_residual) {
                    s += &format!(
                        "; of the difference's energy {:.1} % lies along z (radial), {:.1} % along z − q",
                        100.0 * z,
                        100.0 * r
                    );
                }
                s
            })
            .collect()
    }
}
