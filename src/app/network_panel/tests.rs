//! The Network tab driven through the real app: a short run synchronously (inside the next
//! frame), a long one on the job thread cancelled (blocking on the job's events, never
//! sleeping).

use std::path::PathBuf;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use neqlab::preset::Preset;

use super::super::{Backend, NeqlabApp, Tab, load_named};
use super::{NetworkPanel, RunStatus};

fn network_tab() -> Harness<'static, NeqlabApp> {
    let (preset, path): (Preset, PathBuf) = load_named("bowl-current").expect("shipped preset");
    let mut harness = Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        });
    harness.run_steps(2);
    harness.get_by_label("Network").click();
    harness.run_steps(2);
    assert_eq!(harness.state().tab, Tab::Network);
    harness
}

#[test]
fn network_tab_runs_a_short_run() {
    let mut harness = network_tab();
    {
        let preset = harness
            .state_mut()
            .network
            .preset
            .as_mut()
            .expect("the shipped network preset loads");
        preset.dynamics.walkers = 8;
        preset.dynamics.steps = 3000;
        preset.dynamics.burn_in = 500;
    }
    harness.get_by_label("Run").click();
    harness.run_steps(2);
    let panel = &harness.state().network;
    assert!(
        matches!(panel.status, RunStatus::Done { .. }),
        "{:?}",
        panel.status
    );
    let result = panel.result.as_ref().expect("a result");
    let d = result.dim();
    assert_eq!(d, 7);
    for matrix in [
        &result.cov_sim,
        &result.cov_theory,
        &result.area_sim,
        &result.circulation,
    ] {
        assert_eq!(matrix.len(), d * d);
        assert!(matrix.iter().all(|v| v.is_finite()));
    }
    assert!(result.cov_sim.iter().any(|v| *v != 0.0));
    assert_eq!(result.variance_ratios.len(), d);
    assert!(result.cov_difference.is_finite() && result.area_difference.is_finite());
    let sim = result.report.sim.as_ref().expect("statistics");
    let ift = sim.ift.as_ref().expect("IFT values");
    assert_eq!(ift.len(), 5);
    assert!(
        ift.iter()
            .all(|p| p.mean.is_finite() && p.error.is_finite())
    );
    assert_eq!(result.curve.len(), result.band.len());
    assert!(result.band.iter().all(|b| b[1] <= b[2]));
    // The numbers are on screen.
    harness.get_by_label_contains("IFT k = 1..5");
    harness.get_by_label_contains("diagonal sim/theory");
}

#[test]
fn network_cancel_stops_a_long_run() {
    let mut harness = network_tab();
    {
        let panel = &mut harness.state_mut().network;
        *panel = NetworkPanel::with_backend(Backend::Threaded);
    }
    harness.get_by_label("Run").click();
    harness.run_steps(1);
    assert_eq!(harness.state().network.status, RunStatus::Running);
    harness.get_by_label("Cancel").click();
    harness.run_steps(1);
    // Block on the job's answer (no sleeps; the timeout only guards against a hang).
    let panel = &mut harness.state_mut().network;
    while panel.status == RunStatus::Running {
        let events = panel.job.wait(Duration::from_secs(120));
        assert!(!events.is_empty(), "the network job said nothing");
        for event in events {
            if let neqlab::jobs::JobEvent::Finished(result) = event {
                panel.finish(result);
            }
        }
    }
    let status = harness.state().network.status.clone();
    let RunStatus::Cancelled { progress } = status else {
        panic!("not cancelled: {status:?}");
    };
    assert!(progress < 1.0);
    assert!(harness.state().network.result.is_none());
    harness.run_steps(1);
    harness.get_by_label_contains("Cancelled after");
}
