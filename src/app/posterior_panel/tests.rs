//! The Posterior tab driven through the real app, its jobs run synchronously inside the
//! frame (no threads, no timing).

use std::path::PathBuf;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use neqlab::preset::Preset;

use super::super::{Backend, NeqlabApp, Tab, load_named};

fn harness_for(name: &str, overrides: &[&str]) -> Harness<'static, NeqlabApp> {
    let (preset, path): (Preset, PathBuf) = load_named(name).expect("shipped preset");
    let overrides: Vec<String> = overrides.iter().map(|s| s.to_string()).collect();
    let preset = preset.with_overrides(&overrides).expect("valid overrides");
    Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        })
}

#[test]
fn sgld_vs_sgworld_opens_on_exact_curves_and_follows_the_batch_size() {
    let mut harness = harness_for("sgld-vs-sgworld", &[]);
    harness.run_steps(2);
    assert_eq!(
        harness.state().tab,
        Tab::Posterior,
        "linear regression opens here"
    );
    harness.get_by_label("Posterior").click();
    harness.run_steps(2);
    let panel = &harness.state().posterior;
    assert!(panel.error.is_none(), "{:?}", panel.error);
    assert!(!panel.computing_exact());
    let report = panel.report.as_ref().expect("exact curves (inline job)");
    assert_eq!((report.n, report.batch), (100, 10));
    assert!(report.rows.len() >= 12, "{} rows", report.rows.len());
    // docs/theory.md section 5: KL_SGLD / KL_SGWORLD ≈ (1 + c_B N)² ≈ (N/B)² = 100 at small η
    // (tests/posterior.rs measures 99 at 1e-3 of the stability limit).
    let (_, ratio) = panel.smallest_eta_ratio().expect("a stable row");
    assert!((50.0..200.0).contains(&ratio), "ratio {ratio}");
    harness.get_by_label_contains("KL SGLD / KL SGWORLD at the smallest η");
    // The law applies here, and the tab says so.
    let balance = report.noise_balance.as_ref().expect("a noise balance");
    assert!(balance.law_applies);
    harness.get_by_label_contains("The (N/B)² law applies");
    harness.get_by_label_contains("(N/B)² = (N/10)² = 100.0");
    assert!(panel.clouds.is_some());
    // B = 20: the curves are recomputed and the ratio follows (N/B)² = 25.
    harness.get_by_label("20").click();
    harness.run_steps(2);
    let panel = &harness.state().posterior;
    assert_eq!(panel.batch, 20);
    let report = panel.report.as_ref().expect("recomputed curves");
    assert_eq!(report.batch, 20);
    let (_, ratio_20) = panel.smallest_eta_ratio().expect("a stable row");
    assert!(
        ratio_20 < ratio / 2.0,
        "B = 10: {ratio}, B = 20: {ratio_20}"
    );
    assert_eq!(panel.clouds.as_ref().map(|c| c.batch), Some(20));
    harness.get_by_label_contains("(N/B)² = (N/20)² = 25.0");
}

/// On the bowl at T = 1 the gradient noise is negligible next to T: the tab shows the
/// measured ratio (about 1) and the theory's, and says the (N/B)² law does not apply instead
/// of showing (N/B)² = 100.
#[test]
fn the_law_is_not_shown_where_it_does_not_apply() {
    let mut harness = harness_for("bowl-current", &["dynamics.temperature=1"]);
    harness.run_steps(2);
    harness.get_by_label("Posterior").click();
    harness.run_steps(2);
    let panel = &harness.state().posterior;
    assert!(panel.error.is_none(), "{:?}", panel.error);
    let (_, ratio) = panel.smallest_eta_ratio().expect("a stable row");
    assert!(ratio < 2.0, "ratio {ratio}");
    let balance = panel
        .report
        .as_ref()
        .and_then(|r| r.noise_balance.clone())
        .expect("a noise balance");
    assert!(!balance.law_applies);
    assert!((balance.predicted_ratio / ratio - 1.0).abs() < 0.1);
    harness.get_by_label_contains("The (N/B)² law does not apply here");
    assert_eq!(
        harness.query_all_by_label_contains("(N/B)² = (N/").count(),
        0,
        "no (N/B)² value where the law does not apply"
    );
}

#[test]
fn a_landscape_that_is_not_quadratic_says_so() {
    let mut harness = harness_for("double-well", &[]);
    harness.run_steps(2);
    harness.get_by_label("Posterior").click();
    harness.run_steps(2);
    assert!(harness.state().posterior.report.is_none());
    harness.get_by_label_contains("needs a quadratic landscape");
}

#[test]
fn a_zero_temperature_says_what_to_change() {
    let mut harness = harness_for("bowl-current", &["dynamics.temperature=0"]);
    harness.run_steps(2);
    harness.get_by_label("Posterior").click();
    harness.run_steps(2);
    assert!(harness.state().posterior.report.is_none());
    harness.get_by_label_contains("needs T > 0");
}
