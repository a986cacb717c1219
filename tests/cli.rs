//! The command line, end to end: every shipped preset runs headless, bad input gives one
//! clear message naming the file and the line or key, and never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use neqlab::preset::{Preset, SHIPPED};

fn neqlab(arguments: &[&str], threads: Option<usize>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_neqlab"));
    command.args(arguments);
    if let Some(threads) = threads {
        command.env("RAYON_NUM_THREADS", threads.to_string());
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Run `neqlab run` on a preset written to a temporary file; returns the output and the path.
fn run_text(text: &str, folder: &Path) -> (Output, PathBuf) {
    let path = folder.join("broken.toml");
    std::fs::write(&path, text).expect("write preset");
    let output = neqlab(&["run", path.to_str().expect("utf-8 path")], None);
    (output, path)
}

fn assert_clean_failure(output: &Output, needles: &[&str]) {
    let message = stderr(output);
    assert!(!output.status.success(), "should fail: {message}");
    assert!(!message.contains("panicked"), "panic: {message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
}

#[test]
fn every_shipped_preset_runs_headless() {
    for (name, text) in SHIPPED {
        Preset::from_toml(text, Path::new(name)).expect("shipped presets parse");
        let output = neqlab(
            &[
                "run",
                name,
                "--json",
                "--set",
                "dynamics.steps=20",
                "--set",
                "dynamics.walkers=64",
                "--set",
                "dynamics.burn_in=0",
            ],
            None,
        );
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let json: serde_json::Value =
            serde_json::from_slice(&output.stdout).expect("one JSON object");
        for key in [
            "landscape",
            "algorithm",
            "replacement",
            "eta",
            "batch",
            "temperature",
            "walkers",
            "steps",
            "time_unit",
            "diverged_walkers",
            "walker_steps_per_second",
            "sim",
        ] {
            assert!(json.get(key).is_some(), "{name}: key {key} missing");
        }
        for key in ["mean", "cov", "area"] {
            assert!(json["sim"].get(key).is_some(), "{name}: sim.{key} missing");
        }
    }
}

#[test]
fn same_seed_same_numbers_with_one_and_two_threads() {
    let arguments = [
        "run",
        "bowl-current",
        "--json",
        "--set",
        "dynamics.steps=300",
        "--set",
        "dynamics.walkers=500",
    ];
    let sim = |threads| {
        let output = neqlab(&arguments, Some(threads));
        assert!(output.status.success(), "{}", stderr(&output));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        json["sim"].to_string()
    };
    assert_eq!(sim(1), sim(2));
}

#[test]
fn human_table_names_the_run() {
    let output = neqlab(
        &[
            "run",
            "bowl-current",
            "--set",
            "dynamics.steps=50",
            "--set",
            "dynamics.walkers=100",
        ],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("covariance")
            && table.contains("stochastic area")
            && table.contains("diverged"),
        "{table}"
    );
}

#[test]
fn divergence_is_reported_not_an_error() {
    let output = neqlab(
        &[
            "run",
            "bowl-current",
            "--json",
            "--set",
            "dynamics.eta=3.0",
            "--set",
            "dynamics.walkers=64",
            "--set",
            "dynamics.steps=200",
        ],
        None,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
    assert_eq!(json["diverged_walkers"], 64);
}

const GOOD: &str = r#"title = "t"
[landscape]
kind = "bowl"
hessian = [1.0, 4.0]
noise = [1.0, 0.1]
[dynamics]
algorithm = "sgd"
eta = 0.02
batch = 10
walkers = 10
steps = 10
"#;

#[test]
fn bad_presets_fail_with_file_and_line_or_key() {
    let folder = tempfile::tempdir().expect("tempdir");
    let cases: [(String, &[&str]); 9] = [
        (
            GOOD.replace("batch = 10", "batch = = 10"),
            &["broken.toml", "line 9"],
        ),
        (
            GOOD.replace("batch = 10", "batch = 10\nbach = 3"),
            &["broken.toml", "line 10", "bach"],
        ),
        (
            GOOD.replace("eta = 0.02", "eta = \"big\""),
            &["broken.toml", "line 8", "eta"],
        ),
        (
            GOOD.replace("batch = 10", "batch = 0"),
            &["broken.toml:9", "dynamics.batch"],
        ),
        (
            GOOD.replace("batch = 10", "batch = 101"),
            &["broken.toml:9", "dynamics.batch", "N = 100"],
        ),
        (
            GOOD.replace("eta = 0.02", "eta = -0.02"),
            &["broken.toml:8", "dynamics.eta"],
        ),
        (
            GOOD.replace(
                "algorithm = \"sgd\"",
                "algorithm = \"sgld\"\ntemperature = -1.0",
            ),
            &["broken.toml", "dynamics.temperature"],
        ),
        (
            GOOD.replace(
                "algorithm = \"sgd\"",
                "algorithm = \"sgld\"\nreplacement = \"wor\"",
            ),
            &["broken.toml", "dynamics.replacement", "sgworld"],
        ),
        (
            GOOD.replace("kind = \"bowl\"", "kind = \"bowel\""),
            &["broken.toml", "bowel"],
        ),
    ];
    for (text, needles) in cases {
        let (output, _) = run_text(&text, folder.path());
        assert_clean_failure(&output, needles);
    }
    let output = neqlab(&["run", "no-such-preset.toml"], None);
    assert_clean_failure(&output, &["no-such-preset.toml"]);
    let output = neqlab(&["run", "bowl-current", "--set", "dynamics.etta=1"], None);
    assert_clean_failure(&output, &["etta"]);
}
