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

/// Every key path of a JSON value (`sim.ift[].mean` for the fields of list elements).
fn key_paths(
    value: &serde_json::Value,
    prefix: &str,
    out: &mut std::collections::BTreeSet<String>,
) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                let path = format!("{prefix}{key}");
                key_paths(inner, &format!("{path}."), out);
                out.insert(path);
            }
        }
        serde_json::Value::Array(items) => {
            if let Some(first) = items.first().filter(|v| v.is_object()) {
                key_paths(first, &format!("{}[].", prefix.trim_end_matches('.')), out);
            }
        }
        _ => {}
    }
}

/// Keys every `neqlab run --json` report has (pinned from the output of commit 32db3f5).
const RUN_KEYS: &[&str] = &[
    "algorithm",
    "batch",
    "burn_in",
    "diverged_walkers",
    "dropped_per_epoch",
    "eta",
    "landscape",
    "replacement",
    "seconds",
    "seed",
    "sim",
    "sim.area",
    "sim.cov",
    "sim.diffusion_sampled",
    "sim.distance_to_mean",
    "sim.distance_to_minimum",
    "sim.ep_model",
    "sim.ep_rate",
    "sim.ep_rate_error",
    "sim.ift",
    "sim.ift[].error",
    "sim.ift[].mean",
    "sim.ift[].trajectories",
    "sim.ift[].units",
    "sim.mean",
    "sim.samples",
    "steps",
    "temperature",
    "theory",
    "theory.circulation",
    "theory.cov",
    "theory.diffusion",
    "theory.ep_rate",
    "theory.hessian",
    "theory.mean",
    "theory.minimum",
    "theory.time_unit",
    "theory_seconds",
    "time_unit",
    "walker_steps_per_second",
    "walkers",
];

/// The keys of a 2-D Fokker–Planck comparison.
const FP_KEYS: &[&str] = &[
    "fp",
    "fp.bounds",
    "fp.grid",
    "fp.min_density",
    "fp.negative_cells",
    "fp.outside_fraction",
    "fp.solve_seconds",
    "fp.tv_vs_sim",
];

/// Scripts read `neqlab run --json`: its keys and its strings stay as they were (pinned from
/// the output of commit 32db3f5, 64 walkers × 40 units after 10 of burn-in); later work may
/// only add keys.
#[test]
fn run_json_keeps_its_keys_and_strings() {
    // (preset, keys beyond RUN_KEYS, algorithm, replacement, time unit, ep_model)
    let cases: [(&str, &[&str], [&str; 4]); 5] = [
        (
            "bowl-current",
            &[FP_KEYS, &["sim.dft_slope", "sim.dft_slope_error"]].concat(),
            ["sgd", "wr", "step", "linearised"],
        ),
        (
            "bowl-wor",
            &["fp_error", "theory.permutations", "theory_note"],
            ["sgd", "wor", "epoch", "linearised"],
        ),
        (
            "double-well",
            &[
                FP_KEYS,
                &["fp.ep_rate", "sim.dft_slope", "sim.dft_slope_error"],
            ]
            .concat(),
            ["sgd", "wr", "step", "fokker-planck"],
        ),
        (
            "regression-net",
            &["sim.dft_slope", "sim.dft_slope_error"],
            ["sgd", "wr", "step", "linearised"],
        ),
        (
            "sgworld-equilibrium",
            &[FP_KEYS, &["theory.permutations"]].concat(),
            ["sgworld", "wor", "epoch", "linearised"],
        ),
    ];
    for (name, extra, strings) in cases {
        let output = neqlab(
            &[
                "run",
                name,
                "--json",
                "--set",
                "dynamics.steps=40",
                "--set",
                "dynamics.walkers=64",
                "--set",
                "dynamics.burn_in=10",
            ],
            None,
        );
        assert!(output.status.success(), "{name}: {}", stderr(&output));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).expect("JSON");
        let mut keys = std::collections::BTreeSet::new();
        key_paths(&json, "", &mut keys);
        for key in RUN_KEYS.iter().chain(extra.iter()) {
            assert!(
                keys.contains(*key),
                "{name}: key {key} missing from {keys:?}"
            );
        }
        let [algorithm, replacement, unit, model] = strings;
        assert_eq!(json["algorithm"], algorithm, "{name}");
        assert_eq!(json["replacement"], replacement, "{name}");
        assert_eq!(json["time_unit"], unit, "{name}");
        assert_eq!(json["theory"]["time_unit"], unit, "{name}");
        assert_eq!(json["sim"]["ep_model"], model, "{name}");
    }
}
