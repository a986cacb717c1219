//! Saves survive a kill: a child process saves a preset, an SVG and a PNG figure, a CSV grid
//! and a JSON report over and over, alternating two versions of each, through the library's
//! real save functions; the test kills it at random moments, 200 times, and checks after
//! every kill that each file holds one complete version, never a part.
//!
//! The child is this test binary itself, started with the ignored test
//! [`child_saves_until_killed`] and the folder to write in. It announces every save on its
//! standard output; the parent picks one announcement at random, waits a random 0–40 ms
//! (about one save, so that kills land while drawing, writing, flushing and renaming), and
//! kills it with SIGKILL. Whatever the timing, the check must hold.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use neqlab::export::data::{GridData, grid_csv, save_grid_csv, save_json, to_json};
use neqlab::export::{
    Figure, Marker, Panel, PointSet, encode_png, palette, render_rgb, render_svg_sized, save_figure,
};
use neqlab::preset::{Preset, shipped};
use rand::{RngExt, SeedableRng};

/// Kills.
const TRIES: usize = 200;
/// The folder the child writes in.
const CHILD_ENV: &str = "NEQLAB_ATOMIC_SAVE_CHILD";
/// The child's first version (1 or 2), so that consecutive children write different bytes.
const FIRST_VERSION_ENV: &str = "NEQLAB_ATOMIC_SAVE_FIRST_VERSION";
const FIGURE_SIZE: (u32, u32) = (800, 600);
const GRID_SIDE: usize = 300;

const FILES: [&str; 5] = [
    "preset.toml",
    "figure.svg",
    "figure.png",
    "grid.csv",
    "report.json",
];

fn preset(version: usize) -> Preset {
    let text = shipped("bowl-current").expect("shipped");
    let mut preset = Preset::from_toml(text, Path::new("p.toml")).expect("parses");
    // About 400 kB, so that a write takes a while.
    preset.caption = format!("version {version} ").repeat(40_000);
    preset.dynamics.seed = version as u64;
    preset
}

fn figure(version: usize) -> Figure {
    let points = (0..5_000)
        .map(|k| {
            let t = k as f64 * 0.001 + version as f64;
            [t.sin() * (1.0 + 0.1 * t), t.cos()]
        })
        .collect();
    Figure {
        title: format!("version {version}"),
        caption: String::new(),
        panels: vec![Panel {
            title: "points".into(),
            x_label: "w1".into(),
            y_label: "w2".into(),
            bounds: [-4.0, 4.0, -2.0, 2.0],
            points: vec![PointSet {
                points,
                color: palette::BLUE,
                opacity: 0.3,
                size: 2.0,
                marker: Marker::Dot,
                label: "walkers".into(),
            }],
            ..Panel::default()
        }],
    }
}

fn grid(version: usize) -> (Vec<f64>, Vec<[f64; 2]>) {
    let cells = GRID_SIDE * GRID_SIDE;
    let density = (0..cells)
        .map(|k| (k + version) as f64 / cells as f64)
        .collect();
    let current = (0..cells)
        .map(|k| [k as f64 * 1e-3, version as f64])
        .collect();
    (density, current)
}

fn report(version: usize) -> Vec<f64> {
    (0..200_000)
        .map(|k| (k * (version + 1)) as f64 / 7.0)
        .collect()
}

/// Save `file` in `version` through the library's save functions.
fn save(folder: &Path, file: &str, version: usize) {
    let path = folder.join(file);
    let (width, height) = FIGURE_SIZE;
    match file {
        "preset.toml" => preset(version)
            .save(&path)
            .map(|_| ())
            .expect("preset saved"),
        "figure.svg" | "figure.png" => {
            save_figure(&figure(version), &path, width, height).expect("figure saved")
        }
        "grid.csv" => {
            let (density, current) = grid(version);
            save_grid_csv(&path, &grid_data(&density, &current)).expect("csv saved")
        }
        _ => save_json(&path, &report(version)).expect("json saved"),
    }
}

fn grid_data<'a>(density: &'a [f64], current: &'a [[f64; 2]]) -> GridData<'a> {
    GridData {
        nx: GRID_SIDE,
        ny: GRID_SIDE,
        bounds: [-1.0, 1.0, -1.0, 1.0],
        density,
        current: Some(current),
    }
}

/// The bytes a complete save of `file` in `version` writes.
fn expected_bytes(file: &str, version: usize) -> Vec<u8> {
    let (width, height) = FIGURE_SIZE;
    match file {
        "preset.toml" => preset(version).try_to_toml().expect("toml").into_bytes(),
        "figure.svg" => render_svg_sized(&figure(version), width, height)
            .expect("svg")
            .into_bytes(),
        "figure.png" => {
            let pixels = render_rgb(&figure(version), width, height).expect("pixels");
            encode_png(&pixels, width, height).expect("png")
        }
        "grid.csv" => {
            let (density, current) = grid(version);
            grid_csv(&grid_data(&density, &current))
                .expect("csv")
                .into_bytes()
        }
        _ => to_json(&report(version)).expect("json").into_bytes(),
    }
}

/// Not a test: the child of [`a_killed_save_leaves_the_old_file_or_the_new_one`]. Saves
/// every file in alternating versions until killed, announcing each save.
#[test]
#[ignore = "run by a_killed_save_leaves_the_old_file_or_the_new_one as its child"]
fn child_saves_until_killed() {
    let Some(folder) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let folder = Path::new(&folder);
    let first: usize = std::env::var(FIRST_VERSION_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for round in 0.. {
        for file in FILES {
            println!("saving {file}");
            save(folder, file, 1 + (first - 1 + round) % 2);
        }
    }
}

/// Kills the child if the test fails half-way.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_child(folder: &Path, first_version: usize) -> KillOnDrop {
    let child = Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "child_saves_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, folder)
        .env(FIRST_VERSION_ENV, first_version.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("child starts");
    KillOnDrop(child)
}

fn temporaries(folder: &Path) -> usize {
    std::fs::read_dir(folder)
        .expect("list")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .count()
}

#[cfg(unix)]
#[test]
fn a_killed_save_leaves_the_old_file_or_the_new_one() {
    let folder = tempfile::tempdir().expect("tempdir");
    let versions: Vec<[Vec<u8>; 3]> = FILES
        .iter()
        .map(|file| std::array::from_fn(|v| expected_bytes(file, v)))
        .collect();
    // The old files: version 0, which the child never writes.
    for file in FILES {
        save(folder.path(), file, 0);
    }
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(16);
    let (mut seen, mut mid_write) = ([[0usize; 3]; 5], 0);
    for attempt in 0..TRIES {
        let mut child = spawn_child(folder.path(), 1 + attempt % 2);
        let stdout = child.0.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let announcements = rng.random_range(1..=FILES.len());
        let mut counted = 0;
        while counted < announcements {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("saving ") => counted += 1,
                Some(Ok(_)) => {}
                _ => panic!("the child stopped before it was killed"),
            }
        }
        // Randomises where the kill lands; the check below holds wherever it does.
        std::thread::sleep(Duration::from_micros(rng.random_range(0..40_000)));
        drop(child);
        mid_write += temporaries(folder.path()).min(1);
        for (k, file) in FILES.iter().enumerate() {
            let bytes = std::fs::read(folder.path().join(file)).expect("the target exists");
            let version = versions[k]
                .iter()
                .position(|v| *v == bytes)
                .unwrap_or_else(|| panic!("{file} holds {} bytes of no version", bytes.len()));
            seen[k][version] += 1;
        }
    }
    println!("{TRIES} kills; files seen in versions [old, 1, 2]: {seen:?}");
    println!("kills that left a temporary behind (landed inside a save): {mid_write}");
    // The kills landed in saves of every file: each file was seen in a new version.
    for (k, file) in FILES.iter().enumerate() {
        assert!(seen[k][1] + seen[k][2] > 0, "{file} never saved: {seen:?}");
    }
    // Temporaries of the killed children are removed by the next save of the same file.
    for file in FILES {
        save(folder.path(), file, 1);
    }
    assert_eq!(temporaries(folder.path()), 0);
}
