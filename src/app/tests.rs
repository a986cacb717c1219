//! UI tests: egui_kittest drives the real app with the synchronous backend.

use egui_kittest::Harness;

use super::*;

fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
    let (preset, path) = load_named(name).expect("shipped preset");
    Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        })
}

#[test]
fn starts_on_every_shipped_2d_preset() {
    for (name, text) in preset::SHIPPED {
        let preset = Preset::from_toml(text, Path::new(name)).expect("shipped presets parse");
        if !preset.landscape.is_2d() {
            continue;
        }
        let mut harness = harness_for(name);
        harness.run_steps(3);
        let app = harness.state();
        assert!(app.config_error.is_none(), "{name}: {:?}", app.config_error);
        assert!(app.snapshot.is_some(), "{name}: no snapshot");
        assert!(
            app.prediction.is_some(),
            "{name}: no prediction ({:?})",
            app.solve_error
        );
    }
}
