//! Hostile files opened in the app (issue 16): a corrupt or hostile preset, a preset whose CSV
//! data file is broken, an IDX folder whose header claims a billion images. Each shows its
//! message in the window and changes nothing else: the state before equals the state after.

use std::path::{Path, PathBuf};

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use neqlab::preset::Preset;

use super::{Backend, NeqlabApp, Tab, load_named};

fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
    let (preset, path) = load_named(name).expect("shipped preset");
    let mut harness = Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        });
    harness.run_steps(2);
    harness
}

/// Everything a preset opened in the app could change.
#[derive(Debug, PartialEq)]
struct AppState {
    preset: Preset,
    preset_path: PathBuf,
    generation: u64,
    config_error: Option<String>,
    tab: Tab,
    arrow_gain: f64,
    landscape: Option<String>,
}

fn state(app: &NeqlabApp) -> AppState {
    AppState {
        preset: app.preset.clone(),
        preset_path: app.preset_path.clone(),
        generation: app.generation,
        config_error: app.config_error.clone(),
        tab: app.tab,
        arrow_gain: app.arrow_gain,
        landscape: app
            .experiment
            .as_ref()
            .map(|e| e.landscape.kind().to_string()),
    }
}

/// A preset of the shipped `regression-net-2d` reading its data from `data`.
fn net_preset_with_data(folder: &Path, data: &Path) -> PathBuf {
    let (preset, _) = load_named("regression-net-2d").expect("shipped preset");
    let mut table: toml::Table = toml::from_str(&preset.to_toml()).expect("a preset is TOML");
    if let Some(toml::Value::Table(landscape)) = table.get_mut("landscape") {
        landscape.remove("data_seed");
        landscape.insert(
            "data".into(),
            toml::Value::String(data.display().to_string()),
        );
    }
    let path = folder.join(format!(
        "net-{}.toml",
        data.file_name().map_or("x".into(), |n| n.to_string_lossy())
    ));
    std::fs::write(&path, toml::to_string(&table).expect("TOML")).expect("write");
    path
}

#[test]
fn a_hostile_preset_or_data_file_shows_its_message_and_changes_nothing() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let dir = folder.path();
    let garbage = dir.join("garbage.toml");
    std::fs::write(&garbage, b"\x00\xff\xfe\x07\x00\x0d").expect("write");
    let nested = dir.join("nested.toml");
    let depth = 100_000;
    std::fs::write(
        &nested,
        format!("title = {}{}\n", "[".repeat(depth), "]".repeat(depth)),
    )
    .expect("write");
    let (mut huge, _) = load_named("bowl-current").expect("shipped preset");
    huge.dynamics.walkers = 1_000_000_000_000;
    let too_many = dir.join("too-many-walkers.toml");
    std::fs::write(&too_many, huge.to_toml()).expect("write");
    let bad_csv = dir.join("bad.csv");
    std::fs::write(&bad_csv, "x,y\n0.1,0.2\n0.3,nan\n").expect("write");
    let one_row = dir.join("one-row.csv");
    std::fs::write(&one_row, "x,y\n0.1,0.2\n").expect("write");
    // 100 GB of holes: refused by its size, before anything is read.
    let huge_csv = dir.join("huge.csv");
    std::fs::File::create(&huge_csv)
        .and_then(|f| f.set_len(100 << 30))
        .expect("a sparse file");
    let cases: Vec<(PathBuf, &str)> = vec![
        (garbage.clone(), "garbage.toml"),
        (PathBuf::from("/dev/zero"), "/dev/zero"),
        (nested, "nested.toml"),
        (too_many, "dynamics.walkers"),
        (net_preset_with_data(dir, &bad_csv), "bad.csv"),
        (net_preset_with_data(dir, &one_row), "one-row.csv"),
        (net_preset_with_data(dir, &huge_csv), "huge.csv"),
        (
            net_preset_with_data(dir, Path::new("/dev/zero")),
            "/dev/zero",
        ),
        (
            net_preset_with_data(dir, &dir.join("missing.csv")),
            "missing.csv",
        ),
    ];
    let mut harness = harness_for("bowl-current");
    let before = state(harness.state());
    let ctx = harness.ctx.clone();
    for (path, named) in cases {
        harness.state_mut().open_preset_file(&ctx, &path);
        harness.run_steps(2);
        let notice = harness
            .state()
            .notices
            .last()
            .map(|n| n.text.clone())
            .unwrap_or_default();
        assert!(
            notice.starts_with("Cannot open preset") && notice.contains(named),
            "{}: {notice}",
            path.display()
        );
        harness.get_by_label(&notice);
        assert_eq!(state(harness.state()), before, "{}", path.display());
        // For the table of hostile cases (`--nocapture`).
        println!("{}\t{notice}", path.display());
    }
}

/// Write an IDX file: magic `0 0 8 ndims`, big-endian dimensions, then `data`.
fn idx(path: &Path, dims: &[u32], data: &[u8]) {
    let mut bytes = vec![0, 0, 8, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    std::fs::write(path, bytes).expect("write");
}

/// An MNIST folder of `n` blank digits; the training images claim `claimed` of them.
fn idx_folder(path: &Path, n: u32, claimed: u32) {
    std::fs::create_dir_all(path).expect("folder");
    let images = vec![0u8; n as usize * 784];
    let labels: Vec<u8> = (0..n).map(|k| (k % 10) as u8).collect();
    idx(
        &path.join("train-images-idx3-ubyte"),
        &[claimed, 28, 28],
        &images,
    );
    idx(&path.join("train-labels-idx1-ubyte"), &[n], &labels);
    idx(&path.join("t10k-images-idx3-ubyte"), &[n, 28, 28], &images);
    idx(&path.join("t10k-labels-idx1-ubyte"), &[n], &labels);
}

#[test]
fn a_hostile_idx_folder_shows_its_message_and_keeps_the_data_in_use() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let good = folder.path().join("good");
    idx_folder(&good, 20, 20);
    let claims = folder.path().join("claims-a-billion");
    idx_folder(&claims, 20, 1_000_000_000);
    let mut harness = harness_for("bowl-current");
    harness.get_by_label("MNIST").click();
    harness.run_steps(2);
    let ctx = harness.ctx.clone();
    harness.state_mut().mnist.load_folder(&ctx, good.clone());
    harness.run_steps(3);
    let in_use = format!("Data: {} (20 train / 20 test)", good.display());
    harness.get_by_label(&in_use);
    let config = harness.state().mnist.config.clone();
    let app_before = state(harness.state());

    harness.state_mut().mnist.load_folder(&ctx, claims.clone());
    harness.run_steps(3);
    let error = harness
        .state()
        .mnist
        .data_error
        .clone()
        .expect("the folder is refused");
    assert!(error.contains("train-images-idx3-ubyte"), "{error}");
    println!("{}\tCannot use that folder: {error}", claims.display());
    harness.get_by_label_contains("Cannot use that folder");
    // The data in use, the settings and the rest of the app are as before.
    harness.get_by_label(&in_use);
    assert_eq!(harness.state().mnist.config, config);
    assert_eq!(state(harness.state()), app_before);
}
