//! The MNIST pipeline: IDX files in and out, bad input, a short run, cancellation.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use neqlab::jobs::{JobError, JobEvent};
use neqlab::mnist::idx::{encode_idx, read_idx, write_idx};
use neqlab::mnist::{DataSet, Digits, MnistConfig, MnistError, MnistRequest, run};

fn small_digits() -> Digits {
    let bundled = DataSet::bundled().expect("bundled digits");
    bundled.test.truncated(30)
}

/// Write `digits` as the four standard files (train and test the same) into `folder`.
fn write_standard(folder: &Path, digits: &Digits, gzip: bool) {
    let ext = if gzip { ".gz" } else { "" };
    for prefix in ["train", "t10k"] {
        digits
            .write(
                &folder.join(format!("{prefix}-images-idx3-ubyte{ext}")),
                &folder.join(format!("{prefix}-labels-idx1-ubyte{ext}")),
            )
            .expect("write");
    }
}

#[test]
fn idx_files_round_trip_raw_and_gzip() {
    let digits = small_digits();
    for gzip in [false, true] {
        let folder = tempfile::tempdir().expect("tempdir");
        write_standard(folder.path(), &digits, gzip);
        let read = DataSet::read_folder(folder.path()).expect("read back");
        assert_eq!(read.train, digits);
        assert_eq!(read.test, digits);
    }
    // An arbitrary rank-2 array through a file.
    let folder = tempfile::tempdir().expect("tempdir");
    let path = folder.path().join("a.idx.gz");
    let data: Vec<u8> = (0..35).collect();
    write_idx(&path, &[5, 7], &data).expect("write");
    let array = read_idx(&path).expect("read");
    assert_eq!((array.dims, array.data), (vec![5, 7], data));
}

fn error_message(folder: &Path) -> String {
    DataSet::read_folder(folder)
        .expect_err("bad data must be rejected")
        .to_string()
}

#[test]
fn folder_without_idx_files_names_the_folder_and_the_file_it_wants() {
    let folder = tempfile::tempdir().expect("tempdir");
    std::fs::write(folder.path().join("notes.txt"), "hello").expect("write");
    let message = error_message(folder.path());
    assert!(
        message.contains(&folder.path().display().to_string())
            && message.contains("train-images-idx3-ubyte"),
        "{message}"
    );
}

#[test]
fn truncated_raw_file_is_rejected_with_its_name() {
    let folder = tempfile::tempdir().expect("tempdir");
    write_standard(folder.path(), &small_digits(), false);
    let path = folder.path().join("train-images-idx3-ubyte");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() - 100]).expect("truncate");
    let message = error_message(folder.path());
    assert!(
        message.contains("train-images-idx3-ubyte") && message.contains("truncated"),
        "{message}"
    );
}

#[test]
fn truncated_gzip_is_rejected_with_its_name() {
    let folder = tempfile::tempdir().expect("tempdir");
    write_standard(folder.path(), &small_digits(), true);
    let path = folder.path().join("t10k-images-idx3-ubyte.gz");
    let bytes = std::fs::read(&path).expect("read");
    std::fs::write(&path, &bytes[..bytes.len() / 2]).expect("truncate");
    let message = error_message(folder.path());
    assert!(
        message.contains("t10k-images-idx3-ubyte.gz") && message.contains("gzip"),
        "{message}"
    );
}

#[test]
fn wrong_magic_number_is_rejected() {
    let folder = tempfile::tempdir().expect("tempdir");
    write_standard(folder.path(), &small_digits(), false);
    let path = folder.path().join("train-labels-idx1-ubyte");
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[0] = 0x12;
    std::fs::write(&path, &bytes).expect("write");
    let message = error_message(folder.path());
    assert!(
        message.contains("train-labels-idx1-ubyte") && message.contains("magic"),
        "{message}"
    );
}

#[test]
fn mismatched_counts_name_both_files() {
    let folder = tempfile::tempdir().expect("tempdir");
    let digits = small_digits();
    write_standard(folder.path(), &digits, false);
    let labels = folder.path().join("t10k-labels-idx1-ubyte");
    write_idx(&labels, &[29], &digits.labels[..29]).expect("write");
    let message = error_message(folder.path());
    assert!(
        message.contains("t10k-images-idx3-ubyte")
            && message.contains("t10k-labels-idx1-ubyte")
            && message.contains("30 images")
            && message.contains("29 labels"),
        "{message}"
    );
}

#[test]
fn mislabelled_files_are_rejected() {
    // Labels outside 0..10.
    let folder = tempfile::tempdir().expect("tempdir");
    let mut digits = small_digits();
    write_standard(folder.path(), &digits, false);
    digits.labels[7] = 11;
    write_idx(
        &folder.path().join("train-labels-idx1-ubyte"),
        &[30],
        &digits.labels,
    )
    .expect("write");
    let message = error_message(folder.path());
    assert!(
        message.contains("train-labels-idx1-ubyte")
            && message.contains("label 11")
            && message.contains("example 7"),
        "{message}"
    );
    // Images and labels swapped.
    let folder = tempfile::tempdir().expect("tempdir");
    let digits = small_digits();
    write_standard(folder.path(), &digits, false);
    std::fs::write(
        folder.path().join("train-images-idx3-ubyte"),
        encode_idx(&[30], &digits.labels, false).expect("encode"),
    )
    .expect("write");
    let message = error_message(folder.path());
    assert!(
        message.contains("train-images-idx3-ubyte") && message.contains("label file"),
        "{message}"
    );
}

/// A few hundred digits and a few epochs.
fn quick_config() -> MnistConfig {
    MnistConfig {
        train_n: 500,
        test_n: 200,
        eta: Some(4e-4),
        eta_mean_loss: None,
        prior_precision: 10.0,
        batch: 25,
        train_epochs: 8,
        pca_epochs: 10,
        snapshots: 50,
        record_epochs: 100,
        ..MnistConfig::default()
    }
}

/// The job learns (500 digits and 8 epochs reach about 80% on 200 held-out digits; chance
/// is 10%, the threshold 60%), reports every field the CLI prints, and analyses both
/// replacement schemes.
#[test]
fn short_run_learns_and_reports() {
    let data = DataSet::bundled().expect("bundled");
    let cancel = AtomicBool::new(false);
    let epochs = std::sync::Mutex::new(0usize);
    let report = run(&quick_config(), &data, &cancel, &|_| {
        *epochs.lock().expect("lock") += 1
    })
    .expect("run");
    assert_eq!((report.train_n, report.test_n), (500, 200));
    assert!(report.test_accuracy > 0.6, "{}", report.test_accuracy);
    // The stationary mean of the weights classifies at least about as well as one moment
    // of the fluctuating weights (200 test digits: one digit is 0.5%).
    assert!(
        report.averaged_test_accuracy > 0.6,
        "{}",
        report.averaged_test_accuracy
    );
    assert_eq!(report.ift.len(), 5);
    assert_eq!(report.stationary.len(), 2);
    assert_eq!(report.stationary[0].time_unit, "step");
    assert_eq!(report.stationary[1].time_unit, "epoch");
    // WR records 20 steps per epoch (500 / 25); WOR one sample per epoch plus every step.
    assert_eq!(report.stationary[0].recorded_units, 100 * 20);
    assert!(report.stationary[0].analysis_per_step.is_none());
    assert_eq!(report.stationary[1].recorded_units, 100);
    let per_step = report.stationary[1]
        .analysis_per_step
        .as_ref()
        .expect("WOR analysed every step too");
    assert_eq!(per_step.samples, 100 * 20);
    // 8 training epochs, then 10 + 100 stationary epochs for each of two schemes.
    assert_eq!(*epochs.lock().expect("lock"), 8 + 2 * 110);
    let json = serde_json::to_value(&report).expect("json");
    for key in [
        "train_n",
        "test_n",
        "test_accuracy",
        "examples_per_second",
        "projection_dim",
        "ep_rate",
        "ift",
        "dft_slope",
        "seconds",
    ] {
        assert!(json.get(key).is_some(), "missing {key}");
    }
}

/// A message names `key` as "key: why" (the run's checks) or "key = value: why" (the field
/// rules of `neqlab::fields`).
fn names_key(message: &str, key: &str) -> bool {
    message.starts_with(&format!("{key}: ")) || message.starts_with(&format!("{key} = "))
}

#[test]
fn invalid_settings_name_the_key() {
    let data = DataSet::bundled().expect("bundled");
    let cancel = AtomicBool::new(false);
    let bad = MnistConfig {
        batch: 0,
        ..quick_config()
    };
    let message = run(&bad, &data, &cancel, &|_| {})
        .expect_err("batch 0")
        .to_string();
    assert!(names_key(&message, "mnist.batch"), "{message}");
    let bad = MnistConfig {
        projection_dim: 0,
        ..quick_config()
    };
    let message = run(&bad, &data, &cancel, &|_| {})
        .expect_err("k = 0")
        .to_string();
    assert!(message.contains("mnist.projection_dim"), "{message}");
}

#[test]
fn cancelled_before_start_returns_cancelled() {
    let data = DataSet::bundled().expect("bundled");
    let cancel = AtomicBool::new(true);
    assert!(matches!(
        run(&quick_config(), &data, &cancel, &|_| {}),
        Err(MnistError::Cancelled)
    ));
}

/// Start a run far too long to finish on the `mnist` job thread, wait for its first
/// progress update, cancel, and check that it ends as cancelled (not finished). The run
/// checks the flag before every batch; the timeouts only guard against a hang and are not a
/// speed assertion. The measured latency is printed (`--nocapture`).
#[test]
fn background_job_cancels_promptly() {
    let data = Arc::new(DataSet::bundled().expect("bundled"));
    let config = MnistConfig {
        train_epochs: 100_000,
        ..quick_config()
    };
    let total = config.total_epochs();
    let mut job = neqlab::mnist::job::spawn(|| {}).expect("spawn");
    job.request(MnistRequest { config, data });
    let first = job.wait(Duration::from_secs(120));
    assert!(
        matches!(first.first(), Some(JobEvent::Update(p)) if p.epoch == 1),
        "{first:?}"
    );
    let progress = job.progress().expect("progress reported");
    assert!(progress.fraction > 0.0 && progress.fraction <= 2.0 / total as f64);
    assert!(
        progress.phase.starts_with("training (WR): epoch"),
        "{progress:?}"
    );
    let cancelled_at = Instant::now();
    job.cancel();
    let last = loop {
        let events = job.wait(Duration::from_secs(120));
        assert!(!events.is_empty(), "no final event");
        if let Some(JobEvent::Finished(result)) = events.into_iter().last() {
            break result;
        }
    };
    let latency = cancelled_at.elapsed();
    assert!(matches!(last, Err(JobError::Cancelled)), "{last:?}");
    assert!(!job.is_running());
    eprintln!("cancel latency: {:.1} ms", latency.as_secs_f64() * 1e3);
}

/// The same job run synchronously: the whole run happens inside `poll`, every epoch's
/// progress arrives in order, then the report.
#[test]
fn inline_job_reports_every_epoch_then_the_report() {
    let data = Arc::new(DataSet::bundled().expect("bundled"));
    let config = MnistConfig {
        compare: false,
        ..quick_config()
    };
    let total = config.total_epochs();
    let mut job = neqlab::mnist::job::inline();
    job.request(MnistRequest { config, data });
    let events = job.poll();
    assert_eq!(
        events.len(),
        total + 1,
        "one update per epoch, then the end"
    );
    assert!(matches!(&events[0], JobEvent::Update(p) if p.epoch == 1));
    let Some(JobEvent::Finished(Ok(report))) = events.last() else {
        panic!("a report: {:?}", events.last());
    };
    assert_eq!(report.stationary.len(), 1);
    assert_eq!(job.progress().map(|p| p.fraction), Some(1.0));
    // A request cancelled before it runs never starts.
    job.request(MnistRequest {
        config: quick_config(),
        data: Arc::new(DataSet::bundled().expect("bundled")),
    });
    job.cancel();
    assert!(matches!(
        job.poll().as_slice(),
        [JobEvent::Finished(Err(JobError::Cancelled))]
    ));
}

/// Every key `neqlab mnist --json` printed before the job mechanism and the per-mean-loss
/// learning rate arrived: scripts read them, so they stay (new keys may be added).
#[test]
fn cli_mnist_json_keys_are_pinned() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_neqlab"))
        .args(["mnist", "--json"])
        .args(
            [
                "train_n=300",
                "test_n=100",
                "eta=4e-4",
                "prior_precision=10",
                "batch=25",
                "train_epochs=2",
                "pca_epochs=10",
                "snapshots=50",
                "record_epochs=100",
            ]
            .iter()
            .flat_map(|s| ["--set".to_string(), format!("mnist.{s}")]),
        )
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("json");
    let has_keys = |value: &serde_json::Value, keys: &[&str], what: &str| {
        for key in keys {
            assert!(
                value.get(key).is_some(),
                "{what} lost the key {key}: {value}"
            );
        }
    };
    has_keys(
        &json,
        &[
            "activation",
            "algorithm",
            "batch",
            "dft_slope",
            "ep_rate",
            "eta",
            "eta_mean_loss",
            "examples_per_second",
            "hidden",
            "ift",
            "parameters",
            "prior_precision",
            "projection_dim",
            "replacement",
            "seconds",
            "source",
            "stationary",
            "temperature",
            "test_accuracy",
            "test_n",
            "train_accuracy",
            "train_epochs",
            "train_n",
            "trained_test_accuracy",
            "training_seconds",
        ],
        "the report",
    );
    assert_eq!(json["eta"], 4e-4);
    let eta_mean_loss = json["eta_mean_loss"].as_f64().expect("a number");
    assert!(
        (eta_mean_loss - 4e-4 * 300.0).abs() < 1e-12,
        "{eta_mean_loss}"
    );
    assert_eq!(
        (json["algorithm"].as_str(), json["replacement"].as_str()),
        (Some("sgd"), Some("wr"))
    );
    let stationary = json["stationary"].as_array().expect("stationary runs");
    assert_eq!(stationary.len(), 2);
    for (k, run) in stationary.iter().enumerate() {
        has_keys(
            run,
            &[
                "algorithm",
                "analysis",
                "principal_variances",
                "record_stride",
                "recorded_units",
                "replacement",
                "seconds",
                "snapshots",
                "test_accuracy",
                "test_predictions",
                "time_unit",
                "train_accuracy",
            ],
            "a stationary run",
        );
        let analyses = if k == 1 {
            vec![&run["analysis"], &run["analysis_per_step"]]
        } else {
            vec![&run["analysis"]]
        };
        for analysis in analyses {
            has_keys(
                analysis,
                &[
                    "circulation",
                    "covariance",
                    "dft_k",
                    "dft_slope",
                    "dft_slope_stderr",
                    "diffusion",
                    "dim",
                    "ep_rate",
                    "ep_rate_formula",
                    "ep_rate_stderr",
                    "ift",
                    "ift_effective",
                    "ift_stderr",
                    "samples",
                ],
                "an analysis",
            );
        }
    }
    assert_eq!(stationary[0]["time_unit"], "step");
    assert_eq!(stationary[1]["time_unit"], "epoch");
}
