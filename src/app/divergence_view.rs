//! Divergence on screen: how many walkers diverged and from which step, in the status lines
//! under the menu (every tab).
//!
//! The simulation worker watches its ensemble with [`neqlab::divergence::DivergenceWatch`]
//! and publishes the [`neqlab::divergence::DivergenceRecord`] in every snapshot; this view
//! only words it (the library's sentence, `DivergenceRecord::message`) and colours it: a
//! warning while some walkers still run, an error when none does.

use super::worker::Snapshot;

/// The divergence sentence of `snapshot`, if any walker diverged.
pub fn message(snapshot: &Snapshot) -> Option<String> {
    snapshot
        .divergence
        .message(snapshot.walkers, snapshot.time_unit, snapshot.eta)
}

/// Draw the divergence line of `snapshot` (nothing when no walker diverged).
pub fn ui(ui: &mut egui::Ui, snapshot: Option<&Snapshot>) {
    let Some(snapshot) = snapshot else {
        return;
    };
    let Some(text) = message(snapshot) else {
        return;
    };
    let colour = if snapshot.divergence.diverged_walkers >= snapshot.walkers {
        ui.visuals().error_fg_color
    } else {
        ui.visuals().warn_fg_color
    };
    ui.colored_label(colour, text);
}

#[cfg(test)]
mod tests {
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable as _;
    use neqlab::preset::Preset;

    use super::super::{Backend, NeqlabApp, load_named};

    fn harness_with(preset: Preset, path: std::path::PathBuf) -> Harness<'static, NeqlabApp> {
        Harness::builder()
            .with_size(egui::Vec2::new(1600.0, 1000.0))
            .build_eframe(move |cc| {
                NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
            })
    }

    /// Step the app `updates` times with one time unit per update.
    fn step(harness: &mut Harness<'static, NeqlabApp>, updates: usize) {
        for _ in 0..updates {
            harness.state_mut().set_playing(false);
            harness
                .state_mut()
                .simulation
                .send(super::super::Command::Step);
            harness.run_steps(1);
        }
    }

    #[test]
    fn diverging_walkers_are_counted_on_screen_with_their_first_step() {
        let (mut preset, path) = load_named("bowl-current").expect("shipped preset");
        // η h = 0.9 · 4 = 3.6 > 2 along the stiff direction: |1 − η h| = 2.6 per step, so
        // every walker leaves the escape radius after a few dozen steps; the exact step
        // depends on where it starts, so the view is checked against the worker's own count.
        preset.dynamics.eta = 0.9;
        preset.view.units_per_frame = 1;
        let mut harness = harness_with(preset, path);
        harness.run_steps(2);
        assert!(harness.query_by_label_contains("(the first in").is_none());
        let mut first_seen = None;
        for _ in 0..400 {
            step(&mut harness, 1);
            let snapshot = harness.state().snapshot.clone().expect("a snapshot");
            if snapshot.diverged > 0 && first_seen.is_none() {
                first_seen = Some(snapshot.time);
            }
            if snapshot.diverged == snapshot.walkers {
                break;
            }
        }
        let first_seen = first_seen.expect("walkers diverge at η h = 3.6");
        let snapshot = harness.state().snapshot.clone().expect("a snapshot");
        // The record agrees with the ensemble's own count, and its first step is the one in
        // which the first walker left: after the previous update, at or before this one.
        assert_eq!(snapshot.divergence.diverged_walkers, snapshot.diverged);
        let first_unit = snapshot.divergence.first_unit.expect("a first step");
        assert_eq!(first_unit + 1, first_seen, "one unit per update");
        let text = super::message(&snapshot).expect("a sentence");
        harness.run_steps(1);
        harness.get_by_label(&text);
        println!("η = 0.9 on bowl-current\t{text}");
        assert!(
            text.contains(&format!("step {first_seen}"))
                || text.contains(&format!("epoch {first_seen}")),
            "{text}"
        );
    }
}
