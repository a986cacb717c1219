//! Where a prediction is outside its regime: [`Validity`] flags, each with a sentence in plain
//! words ([`std::fmt::Display`], in glyphs the app's font has) and a JSON form
//! (`{"kind": …, "message": …, data}`), computed once with the prediction
//! ([`super::Prediction::validity`]) for every view and report to show.

use serde::Serialize;

use crate::dynamics::Replacement;

/// The threshold of [`Validity::ExpansionStretched`] on `η h_max` (with replacement) or
/// `η M h_max` (without): the expansion in `η` of docs/theory.md §3.1 and §4.4 needs the
/// product well below one.
pub const EXPANSION_LIMIT: f64 = 0.3;

/// The threshold of [`Validity::WorLeadingOrder`] on `η M h_max`. Measured on the bowl
/// (`tests/theory.rs`): the leading-order covariance without replacement is 1 % off at
/// `η M h = 0.08` and 13.7 % off at 0.5; SGD without replacement (`T = 0`) has no epoch-map
/// correction, so beyond 0.1 its prediction is off by several per cent and growing.
pub const WOR_LEADING_ORDER_LIMIT: f64 = 0.1;

/// Which part of a prediction a [`Validity`] flag concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PredictionPart {
    /// The linearised (Gaussian) theory about one minimum (docs/theory.md §3.1, §4.4).
    Linear,
    /// The 2-D Fokker–Planck solution and its force (§8).
    FokkerPlanck,
    /// Every prediction.
    All,
}

/// Why a prediction may be off: one flag per reason, with the numbers behind it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Validity {
    /// `η h_max ≥ 2`: gradient descent overshoots the minimum along its stiffest direction
    /// and the walkers diverge; there is no stationary state to predict.
    BeyondStability {
        /// `η h_max`, `h_max` the largest Hessian eigenvalue at the minimum.
        eta_h_max: f64,
    },
    /// The expansion in `η` is stretched: `η h_max` (with replacement) or `η M h_max` (without)
    /// exceeds [`EXPANSION_LIMIT`]; the predictions are approximate.
    ExpansionStretched {
        /// `η h_max` or `η M h_max`.
        product: f64,
        /// Which product it is.
        replacement: Replacement,
    },
    /// SGD without replacement at `T = 0`: the linearised theory is the leading order in
    /// `η M h`, and `η M h_max` exceeds [`WOR_LEADING_ORDER_LIMIT`].
    WorLeadingOrder {
        /// `η M h_max`.
        eta_m_h_max: f64,
    },
    /// The landscape has several minima: the linearised theory describes only the basin of
    /// the start point.
    SeveralMinima {
        /// Minima found.
        count: usize,
    },
    /// The linearised theory has no prediction.
    NoLinearTheory {
        /// Why.
        reason: String,
    },
    /// A 2-D landscape without a Fokker–Planck solution.
    NoFokkerPlanck {
        /// Why.
        reason: String,
    },
}

impl Validity {
    /// The part of the prediction the flag concerns.
    pub fn part(&self) -> PredictionPart {
        match self {
            Validity::BeyondStability { .. } | Validity::ExpansionStretched { .. } => {
                PredictionPart::All
            }
            Validity::WorLeadingOrder { .. }
            | Validity::SeveralMinima { .. }
            | Validity::NoLinearTheory { .. } => PredictionPart::Linear,
            Validity::NoFokkerPlanck { .. } => PredictionPart::FokkerPlanck,
        }
    }

    /// Whether the flag says a prediction is missing, not merely approximate.
    pub fn is_missing(&self) -> bool {
        matches!(
            self,
            Validity::BeyondStability { .. }
                | Validity::NoLinearTheory { .. }
                | Validity::NoFokkerPlanck { .. }
        )
    }

    /// The flag in a few words, for a view that marks its theory values as approximate
    /// (the full sentence is [`Display`](std::fmt::Display)).
    pub fn short(&self) -> String {
        match self {
            Validity::BeyondStability { eta_h_max } => {
                format!("η·h_max = {eta_h_max:.2} ≥ 2, no stationary state")
            }
            Validity::ExpansionStretched {
                product,
                replacement,
            } => match replacement {
                Replacement::Wr => format!("η·h = {product:.2} is not small next to 1"),
                Replacement::Wor => format!("η·M·h = {product:.2} is not small next to 1"),
            },
            Validity::WorLeadingOrder { eta_m_h_max } => {
                format!("leading order in η·M·h only (η·M·h = {eta_m_h_max:.2})")
            }
            Validity::SeveralMinima { count } => {
                format!("{count} minima, the linearisation covers one basin")
            }
            Validity::NoLinearTheory { .. } => "no linearised theory".into(),
            Validity::NoFokkerPlanck { .. } => "no Fokker–Planck solution".into(),
        }
    }

    /// The flag as a JSON record: its data, `kind` and the sentence of [`Display`](std::fmt::Display).
    pub fn record(&self) -> ValidityRecord<'_> {
        ValidityRecord {
            flag: self,
            message: self.to_string(),
        }
    }
}

/// Why theory values computed from `part` of a prediction are approximate: the short forms
/// of the flags that concern that part or every prediction, joined; `None` when none does.
pub fn approximation_note(flags: &[Validity], part: PredictionPart) -> Option<String> {
    let words: Vec<String> = flags
        .iter()
        .filter(|flag| flag.part() == part || flag.part() == PredictionPart::All)
        .map(Validity::short)
        .collect();
    (!words.is_empty()).then(|| words.join("; "))
}

/// A [`Validity`] flag with its sentence, as `neqlab run --json` writes it.
#[derive(Clone, Debug, Serialize)]
pub struct ValidityRecord<'a> {
    /// The flag (`kind` and its numbers).
    #[serde(flatten)]
    pub flag: &'a Validity,
    /// The flag in plain words.
    pub message: String,
}

/// Serialise a list of flags as records with their sentences.
pub fn serialize_records<S: serde::Serializer>(
    flags: &[Validity],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_seq(flags.iter().map(Validity::record))
}

impl std::fmt::Display for Validity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Validity::BeyondStability { eta_h_max } => write!(
                f,
                "η·h_max = {eta_h_max:.2} is at least 2: gradient descent overshoots the minimum \
                 along its stiffest direction, the walkers diverge and there is no stationary \
                 state"
            ),
            Validity::ExpansionStretched {
                product,
                replacement,
            } => {
                let label = match replacement {
                    Replacement::Wr => "η·h",
                    Replacement::Wor => "η·M·h",
                };
                write!(
                    f,
                    "the expansion in η of docs/theory.md needs {label} much smaller than 1 \
                     (here {product:.2}): predictions are approximate"
                )
            }
            Validity::WorLeadingOrder { eta_m_h_max } => write!(
                f,
                "SGD without replacement at T = 0: the linearised theory is only the leading \
                 order in η·M·h, and η·M·h_max = {eta_m_h_max:.2}; expect its covariance and \
                 entropy production to be off by tens of per cent"
            ),
            Validity::SeveralMinima { count } => write!(
                f,
                "the landscape has {count} minima: the linearised theory describes only the \
                 basin of the start point; the Fokker–Planck solution describes them all"
            ),
            Validity::NoLinearTheory { reason } => write!(f, "no linearised theory: {reason}"),
            Validity::NoFokkerPlanck { reason } => {
                write!(f, "no Fokker–Planck solution: {reason}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_read_as_sentences_and_serialise_with_their_kind() {
        let flag = Validity::ExpansionStretched {
            product: 0.8,
            replacement: Replacement::Wor,
        };
        assert!(
            flag.to_string()
                .contains("η·M·h much smaller than 1 (here 0.80)")
        );
        assert_eq!(flag.part(), PredictionPart::All);
        let json = serde_json::to_value(flag.record()).expect("serialises");
        assert_eq!(json["kind"], "expansion-stretched");
        assert_eq!(json["product"], 0.8);
        assert_eq!(json["replacement"], "wor");
        assert_eq!(json["message"], flag.to_string());
        let several = Validity::SeveralMinima { count: 2 };
        assert!(!several.is_missing());
        assert_eq!(several.part(), PredictionPart::Linear);
        assert!(several.to_string().contains("2 minima"));
    }

    #[test]
    fn notes_name_only_the_flags_of_the_part_shown() {
        let wor = Validity::WorLeadingOrder { eta_m_h_max: 0.8 };
        let stretched = Validity::ExpansionStretched {
            product: 0.8,
            replacement: Replacement::Wor,
        };
        let flags = [wor.clone(), stretched.clone()];
        let linear = approximation_note(&flags, PredictionPart::Linear).expect("a note");
        assert_eq!(linear, format!("{}; {}", wor.short(), stretched.short()));
        let fokker_planck =
            approximation_note(&flags, PredictionPart::FokkerPlanck).expect("a note");
        assert_eq!(fokker_planck, stretched.short());
        assert_eq!(
            approximation_note(&[wor], PredictionPart::FokkerPlanck),
            None
        );
        assert_eq!(approximation_note(&[], PredictionPart::Linear), None);
    }
}
