//! The MNIST tab driven through the real app: a tiny run synchronously (the job runs inside
//! the frame's poll, no threads, no timing), and a cancelled run on the job thread (blocking
//! on the job's events, never sleeping).

use std::path::PathBuf;
use std::time::Duration;

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use neqlab::preset::Preset;

use super::super::{Backend, NeqlabApp, Tab, load_named};
use super::{JobStatus, MnistPanel};

/// Only a hang reaches it.
const HANG: Duration = Duration::from_secs(120);

fn mnist_tab() -> Harness<'static, NeqlabApp> {
    let (preset, path): (Preset, PathBuf) = load_named("bowl-current").expect("shipped preset");
    let mut harness = Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        });
    harness.run_steps(2);
    harness.get_by_label("MNIST").click();
    harness.run_steps(2);
    assert_eq!(harness.state().tab, Tab::Mnist);
    harness
}

/// A few hundred digits, two training epochs, and just enough stationary epochs for the
/// analysis (without replacement it needs 10 (k + 5) = 90 recorded epochs).
fn tiny_mnist(config: &mut neqlab::mnist::MnistConfig) {
    config.train_n = 300;
    config.test_n = 100;
    config.eta = None;
    config.eta_mean_loss = Some(0.12);
    config.prior_precision = 10.0;
    config.batch = 25;
    config.train_epochs = 2;
    config.pca_epochs = 10;
    config.snapshots = 50;
    config.record_epochs = 100;
}

#[test]
fn mnist_tab_runs_a_tiny_job_and_shows_the_report() {
    let mut harness = mnist_tab();
    tiny_mnist(&mut harness.state_mut().mnist.config);
    harness.run_steps(1);
    // The learning rate is held per mean loss, and the tab says what η it gives.
    harness.get_by_label_contains("gives η = 4.000e-4 on the summed loss");
    harness.get_by_label("Start").click();
    harness.run_steps(1);
    assert_eq!(harness.state().mnist.status, JobStatus::Running);
    // The next frame's poll runs the whole job.
    harness.run_steps(2);
    let panel = &harness.state().mnist;
    assert_eq!(panel.status, JobStatus::Finished, "{:?}", panel.status);
    assert!(!panel.is_running());
    let report = panel.report.as_ref().expect("a report");
    assert_eq!((report.train_n, report.test_n), (300, 100));
    assert!((report.eta - 4e-4).abs() < 1e-15, "{}", report.eta);
    assert!(report.test_accuracy > 0.3, "{}", report.test_accuracy);
    assert_eq!(report.stationary.len(), 2);
    assert_eq!(
        report.stationary[0].test_predictions.len(),
        neqlab::mnist::PREDICTED_TEST_DIGITS
    );
    // Training (2) + directions (10) + recording (100) epochs of each of the two runs.
    assert_eq!(panel.history.len(), 2 + 2 * 110);
    let accuracy = format!("test accuracy {:.1}%", 100.0 * report.test_accuracy);
    assert!(harness.get_all_by_label_contains(&accuracy).count() >= 1);
    assert!(harness.get_all_by_label("finished").count() >= 1);
    assert!(harness.get_all_by_label_contains("DFT slope").count() >= 1);
    assert!(
        harness
            .get_all_by_label_contains("without replacement")
            .count()
            >= 1
    );
}

/// Switching how the learning rate is held keeps the step of the current data set.
#[test]
fn holding_the_rate_per_summed_loss_keeps_the_step() {
    let mut harness = mnist_tab();
    tiny_mnist(&mut harness.state_mut().mnist.config);
    harness.run_steps(1);
    harness.get_by_label("per summed loss (η)").click();
    harness.run_steps(2);
    let config = &harness.state().mnist.config;
    assert_eq!(config.eta_mean_loss, None);
    let eta = config.eta.expect("η held");
    assert!((eta - 0.12 / 300.0).abs() < 1e-15, "{eta}");
    harness.get_by_label("per mean loss (η N)").click();
    harness.run_steps(2);
    let config = &harness.state().mnist.config;
    assert_eq!(config.eta, None);
    assert!((config.eta_mean_loss.expect("held") - 0.12).abs() < 1e-12);
}

/// Drain the job's events, blocking until some arrive.
fn wait_for_events(panel: &mut MnistPanel) {
    let events = panel
        .job
        .as_mut()
        .map(|job| job.wait(HANG))
        .unwrap_or_default();
    assert!(!events.is_empty(), "the job said nothing within {HANG:?}");
    for event in events {
        panel.handle(event);
    }
}

#[test]
fn mnist_job_on_its_thread_cancels_promptly() {
    let mut harness = mnist_tab();
    {
        let panel = &mut harness.state_mut().mnist;
        *panel = MnistPanel::with_backend(Backend::Threaded);
        tiny_mnist(&mut panel.config);
        panel.config.train_epochs = 100_000;
    }
    harness.get_by_label("Start").click();
    harness.run_steps(1);
    // Wait for the first epoch so the job is surely inside its loop.
    wait_for_events(&mut harness.state_mut().mnist);
    assert!(!harness.state().mnist.history.is_empty());
    harness.get_by_label("Cancel").click();
    harness.run_steps(1);
    // The job checks the flag before every batch: a few more epochs' updates at most.
    for _ in 0..50 {
        if !harness.state().mnist.is_running() {
            break;
        }
        wait_for_events(&mut harness.state_mut().mnist);
    }
    harness.run_steps(1);
    let panel = &harness.state().mnist;
    assert_eq!(panel.status, JobStatus::Cancelled, "{:?}", panel.status);
    assert!(panel.history.len() < 100, "{} epochs", panel.history.len());
    harness.get_by_label("cancelled");
    // The 2-D tab still works afterwards.
    harness.get_by_label("Stationary state").click();
    harness.run_steps(2);
    assert_eq!(harness.state().tab, Tab::StationaryState);
}

/// A folder without IDX files: the loader's error is shown, the bundled digits stay.
#[test]
fn a_folder_without_idx_files_is_refused_with_a_message() {
    let mut harness = mnist_tab();
    let folder = tempfile::tempdir().expect("tempdir");
    let ctx = harness.ctx.clone();
    harness
        .state_mut()
        .mnist
        .load_folder(&ctx, folder.path().to_path_buf());
    harness.run_steps(2);
    let panel = &harness.state().mnist;
    let error = panel.data_error.as_ref().expect("an error");
    assert!(error.contains("train-images-idx3-ubyte"), "{error}");
    assert!(!panel.is_loading());
    harness.get_by_label_contains("Cannot use that folder");
}
