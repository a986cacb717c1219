//! UI tests: egui_kittest drives the real app. The synchronous backend steps the walkers once
//! per frame while playing and solves predictions at once, so nothing depends on timing.

use egui::accesskit::Role;
use egui::{Key, Modifiers};
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT as _, Queryable as _};
use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::preset;

use super::*;

fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
    let (preset, path) = load_named(name).expect("shipped preset");
    harness_with(preset, path)
}

fn harness_with(preset: Preset, path: PathBuf) -> Harness<'static, NeqlabApp> {
    Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        })
}

fn time(harness: &Harness<'_, NeqlabApp>) -> u64 {
    harness.state().snapshot.as_ref().map_or(0, |s| s.time)
}

#[test]
fn starts_on_every_shipped_2d_preset() {
    let mut started = 0;
    for (name, text) in preset::SHIPPED {
        let preset = Preset::from_toml(text, Path::new(name)).expect("shipped presets parse");
        if !preset.landscape.is_2d() {
            continue;
        }
        let mut harness = harness_for(name);
        harness.run_steps(3);
        let app = harness.state();
        assert!(app.config_error.is_none(), "{name}: {:?}", app.config_error);
        let snapshot = app.snapshot.as_ref().expect("a snapshot");
        assert_eq!(snapshot.generation, app.generation, "{name}");
        assert!(
            app.prediction.is_some(),
            "{name}: no prediction ({:?})",
            app.solve_error
        );
        // The caption line is on screen.
        harness.get_by_label(&preset.title);
        started += 1;
    }
    assert!(started >= 1, "no 2-D preset is shipped");
}

#[test]
fn play_advances_the_step_counter() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(2);
    assert!(!harness.state().playing, "tests start paused");
    let before = time(&harness);
    harness.get_by_label("Play").click();
    harness.run_steps(5);
    let after = time(&harness);
    let units = harness.state().preset.view.units_per_frame;
    assert!(after >= before + 3 * units, "time {before} -> {after}");
    // Pause stops it; Step advances exactly one update.
    harness.get_by_label("Pause").click();
    harness.run_steps(2);
    let paused = time(&harness);
    harness.run_steps(3);
    assert_eq!(time(&harness), paused);
    harness.get_by_label("Step").click();
    harness.run_steps(2);
    assert_eq!(time(&harness), paused + units);
    // Space toggles play.
    harness.key_press(Key::Space);
    harness.run_steps(3);
    assert!(time(&harness) > paused + units);
}

#[test]
fn switching_to_sgworld_locks_without_replacement() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(2);
    assert!(
        !harness
            .get_by_label("with replacement")
            .accesskit_node()
            .is_disabled()
    );
    harness.get_by_label("SGWORLD").click();
    harness.run_steps(3);
    let app = harness.state();
    assert_eq!(app.preset.dynamics.algorithm, Algorithm::Sgworld);
    assert_eq!(app.preset.dynamics.replacement, Some(Replacement::Wor));
    let experiment = app.experiment.as_ref().expect("valid configuration");
    assert_eq!(experiment.dynamics.replacement, Replacement::Wor);
    assert!(
        harness
            .get_by_label("with replacement")
            .accesskit_node()
            .is_disabled()
    );
    assert!(
        harness
            .get_by_label("without replacement")
            .accesskit_node()
            .is_disabled()
    );
    // Back to SGD unlocks it.
    harness.get_by_label("SGD").click();
    harness.run_steps(2);
    assert!(
        !harness
            .get_by_label("with replacement")
            .accesskit_node()
            .is_disabled()
    );
}

#[test]
fn moving_the_learning_rate_resets_and_solves_again() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(3);
    let generation = harness.state().generation;
    let before = harness
        .state()
        .prediction
        .clone()
        .expect("a first prediction");
    let eta = harness.state().preset.dynamics.eta;
    harness
        .get_by_role_and_label(Role::Slider, "η")
        .set_value_accesskit(eta * 0.5);
    harness.run_steps(3);
    let app = harness.state();
    assert!(
        (app.preset.dynamics.eta - 0.5 * eta).abs() < 1e-9 * eta,
        "{}",
        app.preset.dynamics.eta
    );
    assert!(app.generation > generation);
    let prediction = app.prediction.as_ref().expect("a new prediction");
    assert!(!Arc::ptr_eq(prediction, &before), "solved again");
    assert_eq!(prediction.dynamics.eta, app.preset.dynamics.eta);
    assert_eq!(app.prediction_generation, app.generation);
    // A real Fokker–Planck solve on the 128×128 grid, normalised.
    let density = &prediction
        .fokker_planck()
        .expect("a Fokker–Planck solution")
        .solution
        .density;
    assert_eq!(density.len(), 128 * 128);
    assert!((density.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    assert!(prediction.linear.as_ref().expect("linear theory").cov[0] > 0.0);
    let snapshot = app.snapshot.as_ref().expect("snapshot");
    assert_eq!(snapshot.generation, app.generation, "old walkers shown");
    assert_eq!(
        snapshot.time, 0,
        "the new walkers start afresh while paused"
    );

    // The arrow keys step η by a tenth of a decade.
    let before = harness.state().preset.dynamics.eta;
    harness.key_press(Key::ArrowRight);
    harness.run_steps(2);
    let ratio = harness.state().preset.dynamics.eta / before;
    assert!((ratio - 10f64.powf(0.1)).abs() < 1e-12, "{ratio}");
}

#[test]
fn opening_a_broken_preset_shows_an_error_in_the_window() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let broken = folder.path().join("broken.toml");
    std::fs::write(&broken, "title = \"x\"\n[landscape\nkind = 3\n").expect("write");
    let mut harness = harness_for("bowl-current");
    harness.run_steps(2);
    let ctx = harness.ctx.clone();
    harness.state_mut().open_preset_file(&ctx, &broken);
    harness.run_steps(2);
    harness.get_by_label_contains("Cannot open preset");
    harness.get_by_label_contains("broken.toml");
    // The previous experiment keeps running.
    assert!(harness.state().experiment.is_some());

    // A missing file names itself too.
    let missing = folder.path().join("missing.toml");
    harness.state_mut().open_preset_file(&ctx, &missing);
    harness.run_steps(2);
    harness.get_by_label_contains("missing.toml");

    // A well-formed preset whose batch exceeds N opens, and says why it cannot run.
    let mut preset = harness.state().preset.clone();
    preset.dynamics.batch = 100_000;
    let too_big = folder.path().join("too-big.toml");
    std::fs::write(&too_big, preset.to_toml()).expect("write");
    harness.state_mut().open_preset_file(&ctx, &too_big);
    harness.run_steps(2);
    harness.get_by_label_contains("dynamics.batch");
}

#[test]
fn a_failed_save_shows_an_error_and_a_good_one_round_trips() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut harness = harness_for("bowl-current");
    harness.run_steps(2);
    let impossible = folder.path().join("no-such-folder").join("x.toml");
    harness
        .state_mut()
        .export_to(&impossible, ExportKind::Preset);
    harness.run_steps(2);
    harness.get_by_label_contains("Cannot save preset");
    let good = folder.path().join("saved.toml");
    harness.state_mut().export_to(&good, ExportKind::Preset);
    let saved = Preset::load(&good, &[]).expect("saved preset loads");
    assert_eq!(saved, harness.state().preset);
}

#[test]
fn divergence_is_reported_not_a_crash() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(2);
    // η h = 5 · 4 = 20 > 2: the stiff direction is unstable.
    let field = harness.get_by_label("η:");
    field.focus();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.get_by_label("η:").type_text("5");
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    assert_eq!(harness.state().preset.dynamics.eta, 5.0);
    harness.get_by_label("Play").click();
    harness.run_steps(20);
    harness.get_by_label_contains("every walker diverged");
    // Text that is not a number is refused with a message.
    harness.get_by_label("η:").focus();
    harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
    harness.get_by_label("η:").type_text("fast");
    harness.key_press(Key::Enter);
    harness.run_steps(2);
    harness.get_by_label_contains("dynamics.eta = fast: not a number");
    assert_eq!(harness.state().preset.dynamics.eta, 5.0);
}

#[test]
fn every_2d_landscape_kind_is_offered() {
    let kinds = controls::kinds_2d();
    for (name, text) in preset::SHIPPED {
        let preset = Preset::from_toml(text, Path::new(name)).expect("shipped presets parse");
        if preset.landscape.is_2d() {
            assert!(
                kinds.contains(&preset.landscape.kind()),
                "{name}: {kinds:?}"
            );
        }
    }
    assert!(
        !kinds.contains(&"regression-net"),
        "the 7-weight net has no 2-D view"
    );
}

#[test]
fn exports_the_view_as_figure_and_data_and_asks_before_replacing() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let (mut preset, path) = load_named("bowl-current").expect("shipped preset");
    preset.dynamics.burn_in = 0;
    let mut harness = harness_with(preset, path);
    harness.get_by_label("Play").click();
    harness.run_steps(6);
    let title = harness.state().preset.title.clone();

    let svg = folder.path().join("view.svg");
    harness.state_mut().export_to(&svg, ExportKind::Figure);
    let text = std::fs::read_to_string(&svg).expect("the SVG is written");
    roxmltree::Document::parse(&text).expect("the SVG is XML");
    for needle in [
        title.as_str(),
        "Simulation",
        "Fokker",
        "probability density",
    ] {
        assert!(text.contains(needle), "`{needle}` missing from the SVG");
    }
    let png = folder.path().join("view.png");
    harness.state_mut().export_to(&png, ExportKind::Figure);
    let bytes = std::fs::read(&png).expect("the PNG is written");
    assert_eq!(&bytes[1..4], b"PNG");

    let csv = folder.path().join("grid.csv");
    harness
        .state_mut()
        .export_to(&csv, ExportKind::SimulationGrid);
    let text = std::fs::read_to_string(&csv).expect("the CSV is written");
    let snapshot = harness.state().snapshot.clone().expect("snapshot");
    let grid = &snapshot
        .simulated
        .grid
        .as_ref()
        .expect("a histogram")
        .field
        .grid;
    assert!(
        text.starts_with("x,y,density,current_x,current_y"),
        "{}",
        &text[..40]
    );
    assert_eq!(text.lines().count(), grid.nx * grid.ny + 1);
    let predicted = folder.path().join("prediction.csv");
    harness
        .state_mut()
        .export_to(&predicted, ExportKind::PredictionGrid);
    assert!(predicted.exists());
    let json = folder.path().join("statistics.json");
    harness.state_mut().export_to(&json, ExportKind::Statistics);
    let value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("JSON written"))
            .expect("JSON parses");
    assert_eq!(value["algorithm"], "sgd");
    assert!(value["sim"]["cov"].is_array());

    // An existing file waits for confirmation: Cancel keeps it, Replace writes it.
    std::fs::write(&csv, "keep me").expect("write");
    let held = harness
        .state_mut()
        .export_menu
        .request(csv.clone(), ExportKind::SimulationGrid);
    assert!(held.is_none());
    harness.run_steps(2);
    harness.get_by_label("Cancel").click();
    harness.run_steps(2);
    assert_eq!(std::fs::read_to_string(&csv).expect("read"), "keep me");
    assert!(!harness.state().export_menu.is_confirming());
    let held = harness
        .state_mut()
        .export_menu
        .request(csv.clone(), ExportKind::SimulationGrid);
    assert!(held.is_none());
    harness.run_steps(2);
    harness.get_by_label("Replace").click();
    harness.run_steps(2);
    assert!(
        std::fs::read_to_string(&csv)
            .expect("read")
            .starts_with("x,y,")
    );

    // A folder that does not exist: a message, nothing written.
    let impossible = folder.path().join("missing").join("view.svg");
    harness
        .state_mut()
        .export_to(&impossible, ExportKind::Figure);
    harness.run_steps(2);
    harness.get_by_label_contains("Cannot export");
    assert!(!impossible.exists());
}
/// The app and `neqlab figure` build the same arrow model for the same preset and seed: the
/// app's panels (stepped update by update after a reset on the final grid) and the figure's
/// `both` panels (run in one go) draw arrows at the same places with the same lengths, on
/// one scale, and the figure keeps exactly the app's significant simulated arrows.
#[test]
fn app_and_figure_draw_the_same_arrows() {
    let overrides = [
        "dynamics.walkers=400",
        "dynamics.steps=200",
        "dynamics.burn_in=100",
        "view.units_per_frame=50",
    ]
    .map(String::from);
    let (preset, path) = load_named("bowl-current").expect("shipped preset");
    let preset = preset.with_overrides(&overrides).expect("overrides");
    let mut harness = harness_with(preset.clone(), path.clone());
    harness.run_steps(2);
    assert!(harness.state().prediction.is_some(), "solved inline");
    // Fresh walkers on the prediction's grid, then exactly burn-in + steps units.
    harness.state_mut().simulation.send(Command::Reset);
    for _ in 0..(100 + 200) / 50 {
        harness.state_mut().simulation.send(Command::Step);
    }
    harness.run_steps(1);
    assert_eq!(time(&harness), 300);
    let app = harness.state().view_arrows();

    let experiment = preset.build(&path, None).expect("experiment");
    let kind = neqlab::export::PanelKind::Both;
    let figure =
        neqlab::export::preset_figure(&preset, &experiment, kind, &mut |_| {}).expect("figure");
    let drawn = |panel: usize| -> Vec<([f64; 2], [f64; 2])> {
        figure.panels[panel]
            .arrows
            .as_ref()
            .map(|field| field.arrows.iter().map(|a| (a.at, a.vector)).collect())
            .unwrap_or_default()
    };
    let significant = |arrows: &[neqlab::stationary::CurrentArrow]| -> Vec<([f64; 2], [f64; 2])> {
        arrows
            .iter()
            .filter(|a| a.significant)
            .map(|a| (a.tail, a.vector))
            .collect()
    };
    let scale = app.scale.expect("a scale");
    // The sums behind the simulated current run in another order (6 slices of 50 units
    // against one of 300), so lengths agree to round-off, not to the bit.
    let close = |a: &[([f64; 2], [f64; 2])], b: &[([f64; 2], [f64; 2])], what: &str| {
        assert_eq!(
            a.len(),
            b.len(),
            "{what}: {} against {} arrows",
            a.len(),
            b.len()
        );
        assert!(!a.is_empty(), "{what}: no arrows");
        for ((tail, vector), (other_tail, other_vector)) in a.iter().zip(b) {
            for k in 0..2 {
                let size = vector[0].hypot(vector[1]);
                assert!(
                    (tail[k] - other_tail[k]).abs() <= 1e-9 * size,
                    "{what}: {tail:?} {other_tail:?}"
                );
                assert!(
                    (vector[k] - other_vector[k]).abs() <= 1e-9 * size,
                    "{what}: {vector:?} {other_vector:?}"
                );
            }
        }
    };
    close(&significant(&app.simulated), &drawn(0), "simulation");
    close(&significant(&app.predicted), &drawn(1), "prediction");
    // One scale's τ in the figure's legend and under the app's plots.
    let legend = figure.panels[1]
        .arrows
        .as_ref()
        .expect("arrows")
        .label
        .clone();
    assert_eq!(
        legend,
        neqlab::export::grid_panels::arrow_legend_compact(&scale)
    );
    let full = neqlab::export::grid_panels::arrow_legend(&scale);
    harness.get_by_label(&format!("Arrows: {full}"));
}
