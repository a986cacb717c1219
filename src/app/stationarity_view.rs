//! Is the simulation stationary yet? The verdict of the stationary model
//! (`StationaryState::stationarity`, docs/theory.md §9.4–§9.5) shown next to the metrics, with
//! the time still needed at the current speed; and the start control (`dynamics.start`: at a
//! point, or sampled from the predicted stationary density, §9.6). This file only draws: the
//! verdict, the relaxation time and the occupations come from the library.

use egui::{Color32, RichText};
use neqlab::preset::{DynamicsSpec, StartSpec};
use neqlab::stationary::{Prediction, RunProgress, StationaryState};
use neqlab::stats::stationarity::{RunLength, Stationarity};
use neqlab::theory::start::StartKind;

use super::worker::Snapshot;

/// Colour of the warning.
const WARNING: Color32 = Color32::from_rgb(230, 120, 20);
/// Colour of the all-clear.
const STATIONARY: Color32 = Color32::from_rgb(40, 160, 80);

/// The verdict on the walkers of `snapshot` against `prediction`, when both are of the same
/// run.
pub fn verdict(snapshot: &Snapshot, prediction: &Prediction) -> Option<Stationarity> {
    let time = snapshot.time as f64;
    let burn_in = snapshot.burn_in as f64;
    let progress = RunProgress {
        length: RunLength {
            burn_in: time.min(burn_in),
            recorded: (time - burn_in).max(0.0),
        },
        walkers: snapshot.walkers - snapshot.diverged,
        start: snapshot.start,
    };
    StationaryState::new(Some(prediction), Some(&snapshot.simulated)).stationarity(&progress)
}

/// Time units the simulation advances per second at its latest speed (`None` before one was
/// measured).
fn units_per_second(snapshot: &Snapshot, prediction: &Prediction) -> Option<f64> {
    let active = snapshot.walkers.saturating_sub(snapshot.diverged) as f64;
    let steps_per_unit = prediction.dynamics.steps_per_unit() as f64;
    let rate = snapshot.walker_steps_per_second / (active * steps_per_unit);
    (rate.is_finite() && rate > 0.0).then_some(rate)
}

/// Two decimals, or an exponent below 0.01.
fn short(x: f64) -> String {
    if x == 0.0 || x.abs() >= 0.01 {
        format!("{x:.2}")
    } else {
        format!("{x:.1e}")
    }
}

/// Seconds (or minutes, hours, years) in words.
fn duration_words(seconds: f64) -> String {
    if !seconds.is_finite() {
        "a very long time".into()
    } else if seconds < 90.0 {
        format!("{seconds:.0} s")
    } else if seconds < 5400.0 {
        format!("{:.0} min", seconds / 60.0)
    } else if seconds < 3.6e7 {
        format!("{:.1} h", seconds / 3600.0)
    } else {
        format!("{:.1e} years", seconds / 3.156e7)
    }
}

/// The stationarity line of the metrics: a warning with the reasons and the time still needed
/// when the run is not stationary, a short all-clear otherwise.
pub fn stationarity_ui(
    ui: &mut egui::Ui,
    snapshot: Option<&Snapshot>,
    prediction: Option<&Prediction>,
) {
    let (Some(snapshot), Some(prediction)) = (snapshot, prediction) else {
        return;
    };
    let Some(verdict) = verdict(snapshot, prediction) else {
        return;
    };
    let unit = snapshot.time_unit.name();
    let recorded = verdict
        .recorded_relaxation_times
        .map(|r| format!("{} relaxation times recorded", short(r)))
        .unwrap_or_else(|| "no relaxation time".into());
    let tau = verdict
        .relaxation_time
        .map(|t| format!("τ = {t:.3e} {unit}s"))
        .unwrap_or_default();
    if verdict.stationary {
        let checked = match snapshot.simulated.occupation.as_ref() {
            Some(counts) if counts.recorded().iter().sum::<u64>() == 0 => {
                ", occupations not checked before recording"
            }
            _ => "",
        };
        ui.colored_label(
            STATIONARY,
            format!(
                "stationary ({} start, {recorded}; {tau}{checked})",
                snapshot.start.name()
            ),
        )
        .on_hover_text(
            "the start is forgotten (burn-in and recording cover enough relaxation times) and, \
             with several minima, the wells are occupied as predicted",
        );
        return;
    }
    let needed = verdict.time_still_needed.map(|units| {
        let at_speed = units_per_second(snapshot, prediction)
            .map(|rate| {
                format!(
                    ", about {} at the current speed",
                    duration_words(units / rate)
                )
            })
            .unwrap_or_default();
        format!("{units:.3e} more {unit}s needed{at_speed}")
    });
    let mut headline = format!("NOT STATIONARY YET: {recorded} ({tau})");
    if let Some(needed) = &needed {
        headline.push_str("; ");
        headline.push_str(needed);
    }
    ui.colored_label(WARNING, RichText::new(headline).strong())
        .on_hover_text(verdict.reasons.join("\n\n"));
    ui.colored_label(
        WARNING,
        "TV, KL and entropy production compare a state that has not relaxed: not stationary",
    );
    if verdict
        .reasons
        .iter()
        .any(|r| r.starts_with("walkers in the well"))
    {
        ui.colored_label(
            WARNING,
            "the wells are not occupied as predicted (hover for the numbers); \
             try start = stationary",
        );
    }
}

/// The start control: `point` (every walker at the landscape's start point, or at the point
/// the preset gives) or `stationary` (a sample of the predicted stationary density).
pub fn start_ui(ui: &mut egui::Ui, dynamics: &mut DynamicsSpec) {
    let current = match dynamics.start {
        Some(StartSpec::Stationary) => StartKind::Stationary,
        _ => StartKind::Point,
    };
    ui.horizontal(|ui| {
        ui.label("start");
        for kind in [StartKind::Point, StartKind::Stationary] {
            let hover = match kind {
                StartKind::Point => "every walker at the start point",
                StartKind::Stationary => {
                    "walkers sampled from the predicted stationary density (the Fokker–Planck \
                     solution, else the linearised Gaussian): comparisons are meaningful from \
                     the first step"
                }
            };
            if ui
                .selectable_label(current == kind, kind.name())
                .on_hover_text(hover)
                .clicked()
                && current != kind
            {
                dynamics.start = match kind {
                    StartKind::Stationary => Some(StartSpec::Stationary),
                    StartKind::Point => None,
                };
            }
        }
    });
}
