//! UI tests of lecture mode, the honest caption and the in-app file dialog, driving the real
//! app with egui_kittest (synchronous backend: nothing depends on timing).

use egui::Key;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use neqlab::dynamics::Algorithm;

use super::dialogs::DialogBackend;
use super::*;

fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
    let (preset, path) = load_named(name).expect("shipped preset");
    Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        })
}

fn slide_name(harness: &Harness<'_, NeqlabApp>) -> String {
    let app = harness.state();
    app.lecture
        .current()
        .map(|s| s.step.preset.to_string())
        .unwrap_or_default()
}

fn shipped_title(name: &str) -> String {
    load_named(name).expect("shipped").0.title
}

#[test]
fn page_keys_step_the_lecture_and_going_back_restores_the_slide() {
    let mut harness = harness_for("bowl-equilibrium");
    harness.run_steps(2);
    assert!(!harness.state().lecture.active);
    // The clicker's PageDown starts the lecture after the current preset's slide.
    harness.key_press(Key::PageDown);
    harness.run_steps(2);
    assert!(harness.state().lecture.active);
    assert_eq!(slide_name(&harness), "bowl-current");
    assert_eq!(harness.state().title, shipped_title("bowl-current"));
    let slides = harness.state().lecture.slides.len();
    harness.get_by_label(&format!("2 / {slides}"));
    // The caption is the slide's lesson.
    let lesson = harness
        .state()
        .lecture
        .current()
        .expect("a slide")
        .step
        .lesson;
    harness.get_by_label(lesson);
    // Change η on this slide (the arrow key), step on and come back.
    harness.key_press(Key::ArrowUp);
    harness.run_steps(2);
    let edited_eta = harness.state().preset.dynamics.eta;
    harness.key_press(Key::PageDown);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "bowl-wor");
    assert_eq!(harness.state().title, shipped_title("bowl-wor"));
    assert_ne!(harness.state().preset.dynamics.eta, edited_eta);
    harness.key_press(Key::PageUp);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "bowl-current");
    assert_eq!(harness.state().preset.dynamics.eta, edited_eta);
    assert_eq!(harness.state().title, shipped_title("bowl-current"));
    harness.get_by_label_contains("modified: η =");
    harness.key_press(Key::PageUp);
    harness.key_press(Key::PageUp);
    harness.run_steps(2);
    // Clamped at the first slide.
    assert_eq!(slide_name(&harness), "bowl-equilibrium");
}

#[test]
fn the_mnist_slide_opens_its_tab_and_names_it_in_the_title() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(1);
    let last = harness.state().lecture.slides.len() - 1;
    let ctx = harness.ctx.clone();
    harness.state_mut().go_to_slide(&ctx, last - 1);
    harness.run_steps(2);
    assert_eq!(harness.state().tab, Tab::StationaryState);
    harness.key_press(Key::PageDown);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "mnist");
    assert_eq!(harness.state().tab, Tab::Mnist);
    let mnist_title = harness
        .state()
        .lecture
        .current()
        .expect("slide")
        .title
        .clone();
    assert_eq!(harness.state().title, mnist_title);
    harness.key_press(Key::PageUp);
    harness.run_steps(2);
    assert_eq!(harness.state().tab, Tab::StationaryState);
    assert_eq!(
        harness.state().title,
        harness.state().lecture.current().expect("slide").title
    );
}

#[test]
fn presets_menu_follows_the_lecture_order() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(1);
    harness.get_by_label("Presets").click();
    harness.run_steps(2);
    let slides = harness.state().lecture.slides.clone();
    let mut previous_top = f32::NEG_INFINITY;
    for (k, slide) in slides.iter().enumerate() {
        let label = format!("{}. {} — {}", k + 1, slide.step.preset, slide.title);
        let top = harness.get_by_label(&label).rect().top();
        assert!(top > previous_top, "{label} is out of order");
        previous_top = top;
    }
}

#[test]
fn a_modified_state_says_what_changed_and_marks_the_caption_as_the_presets() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(2);
    let caption = harness.state().preset.caption.clone();
    harness.get_by_label(&caption);
    let mut edited = harness.state().preset.clone();
    edited.dynamics.algorithm = Algorithm::Sgworld;
    edited.dynamics.temperature = 1.0;
    harness.state_mut().apply_edit(edited);
    harness.run_steps(2);
    harness.get_by_label("modified: SGWORLD, T = 1");
    harness.get_by_label(&format!("(the preset's caption: {caption})"));
    assert!(harness.query_by_label(&caption).is_none());
}

#[test]
fn the_in_app_dialog_saves_and_opens_presets_without_a_desktop() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut harness = harness_for("bowl-current");
    harness.state_mut().dialogs.backend = DialogBackend::InApp;
    harness.state_mut().dialogs.start_folder = Some(folder.path().to_path_buf());
    harness.run_steps(1);
    harness.get_by_label("Presets").click();
    harness.run_steps(2);
    harness.get_by_label("Save preset…").click();
    harness.run_steps(3);
    assert!(harness.state().dialogs.is_open());
    harness.get_by_label("Save").click();
    harness.run_steps(3);
    assert!(!harness.state().dialogs.is_open());
    let saved = folder.path().join("neqlab-preset.toml");
    let preset = Preset::load(&saved, &[]).expect("the saved preset loads");
    assert_eq!(preset, harness.state().preset);

    // Open another preset through the same dialog.
    let other = folder.path().join("other.toml");
    std::fs::write(
        &other,
        neqlab::preset::shipped("bowl-wor").expect("shipped"),
    )
    .expect("written");
    harness.get_by_label("Presets").click();
    harness.run_steps(2);
    harness.get_by_label("Open preset…").click();
    harness.run_steps(3);
    harness.get_by_label("🗋 other.toml").click();
    harness.run_steps(1);
    harness.get_by_label("Open").click();
    harness.run_steps(3);
    assert_eq!(harness.state().preset_path, other);
    assert_eq!(harness.state().title, shipped_title("bowl-wor"));
}

#[test]
fn sgd_without_replacement_at_the_default_eta_is_marked_approximate() {
    let mut harness = harness_for("bowl-current");
    harness.run_steps(3);
    assert_eq!(
        harness
            .query_all_by_label_contains("theory approximate")
            .count(),
        0
    );
    let mut edited = harness.state().preset.clone();
    edited.dynamics.replacement = Some(neqlab::dynamics::Replacement::Wor);
    harness.state_mut().apply_edit(edited);
    harness.run_steps(4);
    // The prediction panel says it in words; the metrics and the fluctuation theorems mark
    // their theory values.
    harness.get_by_label_contains("SGD without replacement at T = 0");

    assert_eq!(
        harness
            .query_all_by_label_contains("≈ theory approximate: ")
            .count(),
        2
    );
    // Both marks give the reason, as the prediction's sentence does.
    assert_eq!(
        harness
            .query_all_by_label_contains("leading order in η·M·h")
            .count(),
        3
    );
}

fn time(harness: &Harness<'_, NeqlabApp>) -> u64 {
    harness.state().snapshot.as_ref().map_or(0, |s| s.time)
}

/// Play past the burn-in (so that the statistics count) and a few frames more, then pause,
/// and return the time reached.
fn play_a_little(harness: &mut Harness<'_, NeqlabApp>) -> u64 {
    let until = time(harness).max(harness.state().preset.dynamics.burn_in) + 1;
    harness.key_press(Key::Space);
    for _ in 0..1000 {
        harness.run_steps(1);
        if time(harness) > until {
            break;
        }
    }
    harness.run_steps(2);
    harness.key_press(Key::Space);
    harness.run_steps(2);
    let reached = time(harness);
    assert!(reached > 0, "the walkers moved");
    reached
}

/// Going back a slide finds its walkers and statistics where they were left, measured against
/// the prediction they were measured with (shown again, not solved anew); the slide in
/// between started walkers of its own.
#[test]
fn going_back_a_slide_continues_its_walkers_where_they_were() {
    let mut harness = harness_for("bowl-equilibrium");
    harness.run_steps(2);
    harness.key_press(Key::PageDown);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "bowl-current");
    let left = play_a_little(&mut harness);
    let prediction = harness.state().prediction.clone().expect("solved");
    let entropy_samples = |harness: &Harness<'_, NeqlabApp>| {
        let snapshot = harness.state().snapshot.clone().expect("a snapshot");
        let entropy = snapshot.simulated.entropy.clone().expect("measured");
        entropy.stats.ift[0].trajectories
    };
    let measured = entropy_samples(&harness);
    assert!(measured > 0);
    harness.key_press(Key::PageDown);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "bowl-wor");
    assert!(
        time(&harness) < left,
        "the next slide starts its own walkers"
    );
    harness.key_press(Key::PageUp);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "bowl-current");
    assert_eq!(
        time(&harness),
        left,
        "the walkers go on from where they were"
    );
    assert_eq!(
        entropy_samples(&harness),
        measured,
        "and so do the statistics"
    );
    let app = harness.state();
    assert!(Arc::ptr_eq(
        app.prediction.as_ref().expect("shown"),
        &prediction
    ));
    assert_eq!(app.prediction_generation, app.generation);
    assert!(app.solve_due.is_none(), "nothing to solve again");
    // Playing on adds to the same statistics.
    let more = play_a_little(&mut harness);
    assert!(more > left);
    assert!(entropy_samples(&harness) > measured);
}

/// Only the last [`worker::MAX_PARKED`] slides' walkers are kept: a slide left longer ago
/// starts afresh (with its settings as left), and is solved again.
#[test]
fn a_slide_left_long_ago_starts_afresh() {
    let mut harness = harness_for("bowl-equilibrium");
    harness.run_steps(2);
    let ctx = harness.ctx.clone();
    harness.state_mut().go_to_slide(&ctx, 0);
    harness.run_steps(2);
    play_a_little(&mut harness);
    for index in 1..=worker::MAX_PARKED {
        harness.state_mut().go_to_slide(&ctx, index);
        harness.run_steps(2);
    }
    harness.state_mut().go_to_slide(&ctx, 0);
    harness.run_steps(2);
    assert_eq!(slide_name(&harness), "bowl-equilibrium");
    assert_eq!(time(&harness), 0, "new walkers, not yet played");
    let app = harness.state();
    assert!(app.prediction.is_some());
    assert_eq!(app.prediction_generation, app.generation);
}
