//! Hostile input on the command line: huge sizes, NaN and infinite values, files that are
//! not what they claim (an IDX header announcing 10⁹ images, gzip bombs, `/dev/zero` as a
//! preset or a data file, binary garbage, deeply nested TOML). Each case must end with one
//! clear message and exit status 1: never a panic (101) or an abort (a signal).
//!
//! The cases that refuse a size run under an address-space limit of 1 GiB (`ulimit -v`), and
//! several ask for terabytes: had anything large been allocated before the refusal, the
//! allocation would fail and the process abort instead of printing the message.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output};

use flate2::Compression;
use flate2::write::GzEncoder;

/// Address-space limit of the refused cases, in KiB (1 GiB).
const ADDRESS_SPACE_KIB: u64 = 1 << 20;

/// Run `neqlab ARGS` with `NEQLAB_MEMORY_BYTES` set when given, under the address-space
/// limit where `sh` is available.
fn neqlab_with(arguments: &[&str], memory: Option<&str>) -> Output {
    let binary = env!("CARGO_BIN_EXE_neqlab");
    let mut command = if cfg!(unix) {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(
                "ulimit -v {ADDRESS_SPACE_KIB} && exec \"$0\" \"$@\""
            ))
            .arg(binary);
        c
    } else {
        Command::new(binary)
    };
    command.args(arguments).env("RAYON_NUM_THREADS", "2");
    match memory {
        Some(bytes) => command.env("NEQLAB_MEMORY_BYTES", bytes),
        None => command.env_remove("NEQLAB_MEMORY_BYTES"),
    };
    command.output().expect("the binary runs")
}

fn neqlab(arguments: &[&str]) -> Output {
    neqlab_with(arguments, None)
}

/// Exit status 1 and one `error:` line containing every needle.
#[track_caller]
fn assert_refused(output: &Output, needles: &[&str]) -> String {
    let message = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(
        output.status.code(),
        Some(1),
        "expected a clean refusal (exit 1), got {:?}: {message}",
        output.status
    );
    assert!(
        message.starts_with("error: ") && !message.contains("panicked"),
        "{message}"
    );
    assert_eq!(message.trim_end().lines().count(), 1, "one line: {message}");
    for needle in needles {
        assert!(
            message.contains(needle),
            "`{needle}` missing from: {message}"
        );
    }
    message
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compress")
}

/// An IDX header of unsigned bytes with these dimensions (no data).
fn idx_header(dims: &[u32]) -> Vec<u8> {
    let mut bytes = vec![0, 0, 0x08, dims.len() as u8];
    for d in dims {
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes
}

#[test]
fn huge_sizes_are_refused_before_allocating() {
    let output = neqlab(&[
        "run",
        "bowl-current",
        "--set",
        "dynamics.walkers=1000000000",
    ]);
    assert_refused(
        &output,
        &[
            "dynamics.walkers = 1 000 000 000 needs ~",
            "at most ~",
            "walkers",
        ],
    );
    // The same with a float, and with the memory set by the environment.
    let output = neqlab_with(
        &["run", "bowl-current", "--set", "dynamics.walkers=1e9"],
        Some("2GB"),
    );
    assert_refused(&output, &["NEQLAB_MEMORY_BYTES allows 2.0 GB", "walkers"]);
    let output = neqlab(&["run", "bowl-current", "--set", "landscape.n=1000000000000"]);
    assert_refused(
        &output,
        &["landscape.n = 1 000 000 000 000 needs ~", "examples"],
    );
    let output = neqlab_with(
        &["run", "double-well", "--set", "fp.grid=1024"],
        Some("500MB"),
    );
    assert_refused(&output, &["fp.grid = 1 024 needs ~", "cells per axis"]);
    let output = neqlab(&["run", "bowl-current", "--set", "fp.grid=100000"]);
    assert_refused(&output, &["fp.grid = 100 000: too large", "1 024"]);
    let output = neqlab(&["bench", "--walkers", "18446744073709551615"]);
    assert_refused(
        &output,
        &["--walkers = 18 446 744 073 709 551 615: too large"],
    );
    let output = neqlab(&["bench", "--walkers", "1000000000000", "--repeats", "1"]);
    assert_refused(&output, &["--walkers = 1 000 000 000 000 needs ~"]);
    let output = neqlab(&["bench", "--walkers", "0"]);
    assert_refused(&output, &["--walkers = 0: too small"]);
    let output = neqlab(&[
        "posterior",
        "sgld-vs-sgworld",
        "--simulate",
        "--set",
        "dynamics.walkers=10000000000",
    ]);
    assert_refused(&output, &["dynamics.walkers = 10 000 000 000 needs ~"]);
    let output = neqlab(&[
        "posterior",
        "sgld-vs-sgworld",
        "--permutations",
        "1000000000000",
    ]);
    assert_refused(
        &output,
        &["posterior.permutations = 1 000 000 000 000: too large"],
    );
    let output = neqlab(&["mnist", "--set", "mnist.hidden=1000000"]);
    assert_refused(&output, &["mnist.hidden = 1 000 000: too large"]);
    let output = neqlab_with(&["mnist", "--set", "mnist.hidden=4096"], Some("4GB"));
    assert_refused(&output, &["mnist.hidden = 4 096 needs ~"]);
    let output = neqlab(&["mnist", "--set", "mnist.record_epochs=1000000000000"]);
    assert_refused(
        &output,
        &["mnist.record_epochs = 1 000 000 000 000: too large"],
    );
}

#[test]
fn non_numbers_and_impossible_values_are_named() {
    let cases: [(&str, &[&str]); 9] = [
        ("dynamics.eta=nan", &["dynamics.eta = NaN: not a number"]),
        ("dynamics.eta=inf", &["dynamics.eta = inf: must be finite"]),
        (
            "dynamics.eta=-1",
            &["dynamics.eta = -1: must not be negative"],
        ),
        (
            "dynamics.temperature=-inf",
            &["dynamics.temperature = -inf"],
        ),
        (
            "dynamics.walkers=-5",
            &[
                "--set dynamics.walkers=-5",
                "dynamics.walkers = -5: must not be negative",
            ],
        ),
        (
            "dynamics.steps=1e30",
            &[
                "--set dynamics.steps=1e30",
                "dynamics.steps = 1e30: too large",
            ],
        ),
        (
            "dynamics.walkers=",
            &["--set dynamics.walkers=", "dynamics.walkers: empty"],
        ),
        (
            "dynamics.seed=9223372036854775808",
            &["dynamics.seed = 9 223 372 036 854 775 808: too large"],
        ),
        (
            "fp.bounds=[0, nan, 0, 1]",
            &["fp.bounds = NaN: not a number"],
        ),
    ];
    for (argument, needles) in cases {
        let output = neqlab(&["run", "bowl-current", "--set", argument]);
        assert_refused(&output, needles);
    }
    let output = neqlab(&["figure", "bowl-current", "--out", "x.png", "--width", "0"]);
    assert_refused(&output, &["figure size 0×1000 px"]);
    let output = neqlab(&[
        "figure",
        "bowl-current",
        "--out",
        "x.svg",
        "--arrow-gain=nan",
    ]);
    assert_refused(&output, &["--arrow-gain NaN"]);
    let output = neqlab(&["posterior", "sgld-vs-sgworld", "--etas", "nan,1"]);
    assert_refused(&output, &["positive and finite, got NaN"]);
    let output = neqlab(&["mnist", "--set", "mnist.eta=inf"]);
    assert_refused(&output, &["mnist.eta = inf: must be finite"]);
}

#[test]
fn files_that_are_not_what_they_claim_are_refused() {
    let folder = tempfile::tempdir().expect("tempdir");
    let folder_path = path_str(folder.path());
    // A folder, binary garbage, a device that never ends.
    assert_refused(&neqlab(&["run", folder_path]), &["is a folder"]);
    let garbage = folder.path().join("garbage.toml");
    std::fs::write(&garbage, [0u8, 0xff, 0xfe, 7, 0, 13]).expect("write");
    assert_refused(&neqlab(&["run", path_str(&garbage)]), &["not UTF-8"]);
    if Path::new("/dev/zero").exists() {
        assert_refused(
            &neqlab(&["run", "/dev/zero"]),
            &["/dev/zero", "at most 1 048 576 bytes are read for a preset"],
        );
        assert_refused(
            &neqlab(&["mnist", "--preset", "/dev/zero"]),
            &["/dev/zero", "bytes are read for a preset"],
        );
    }
    // A preset file larger than any preset, stored sparsely (no disk used).
    let sparse = folder.path().join("huge.toml");
    std::fs::File::create(&sparse)
        .and_then(|f| f.set_len(10_000_000_000))
        .expect("sparse file");
    assert_refused(
        &neqlab(&["run", path_str(&sparse)]),
        &["10 000 000 000 bytes or more"],
    );
    // Deeply nested arrays: a parse error, not a stack overflow.
    let nested = folder.path().join("nested.toml");
    let depth = 100_000;
    std::fs::write(
        &nested,
        format!("title = {}{}", "[".repeat(depth), "]".repeat(depth)),
    )
    .expect("write");
    assert_refused(&neqlab(&["run", path_str(&nested)]), &["nested.toml"]);
}

/// A regression-net preset reading `data` from `path`.
fn preset_with_data(folder: &Path, data: &str) -> std::path::PathBuf {
    let preset = folder.join("net.toml");
    let text = neqlab::preset::shipped("regression-net")
        .expect("shipped")
        .replacen(
            "[landscape]\nkind = \"regression-net\"\n",
            &format!("[landscape]\nkind = \"regression-net\"\ndata = \"{data}\"\n"),
            1,
        )
        .replace("data_seed = 1\n", "");
    assert!(text.contains("data = "), "the shipped preset changed shape");
    std::fs::write(&preset, text).expect("write");
    preset
}

#[test]
fn data_files_too_large_for_memory_are_refused_from_their_size() {
    let folder = tempfile::tempdir().expect("tempdir");
    let huge = folder.path().join("huge.csv");
    std::fs::File::create(&huge)
        .and_then(|f| f.set_len(100_000_000_000))
        .expect("sparse file");
    let preset = preset_with_data(folder.path(), path_str(&huge));
    assert_refused(
        &neqlab(&["run", path_str(&preset)]),
        &["huge.csv", "100 000 000 000 bytes or more"],
    );
    if Path::new("/dev/zero").exists() {
        let preset = preset_with_data(folder.path(), "/dev/zero");
        assert_refused(
            &neqlab_with(&["run", path_str(&preset)], Some("100MB")),
            &["/dev/zero", "bytes or more"],
        );
    }
}

/// A folder with the four standard MNIST files, the training images replaced by `images`.
fn mnist_folder(images: &[u8], images_name: &str) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("tempdir");
    let digits = neqlab::mnist::DataSet::bundled()
        .expect("bundled")
        .test
        .truncated(20);
    for prefix in ["train", "t10k"] {
        digits
            .write(
                &folder.path().join(format!("{prefix}-images-idx3-ubyte")),
                &folder.path().join(format!("{prefix}-labels-idx1-ubyte")),
            )
            .expect("write");
    }
    std::fs::remove_file(folder.path().join("train-images-idx3-ubyte")).expect("remove");
    std::fs::write(folder.path().join(images_name), images).expect("write");
    folder
}

#[test]
fn idx_headers_claiming_more_than_memory_are_refused_before_allocating() {
    // 10⁹ images of 28 × 28: 784 GB announced, gzip-compressed header only.
    let claim = idx_header(&[1_000_000_000, 28, 28]);
    let folder = mnist_folder(&gzip(&claim), "train-images-idx3-ubyte.gz");
    let output = neqlab(&["mnist", "--idx", path_str(folder.path())]);
    assert_refused(
        &output,
        &[
            "train-images-idx3-ubyte.gz",
            "1 000 000 000 × 28 × 28 = 784 000 000 000 bytes",
            "needs ~784 GB",
        ],
    );
    // The same header in a raw file: refused from the file's length, nothing read beyond.
    let folder = mnist_folder(&claim, "train-images-idx3-ubyte");
    let output = neqlab(&["mnist", "--idx", path_str(folder.path())]);
    assert_refused(&output, &["784 000 000 000 data bytes", "holds only 0"]);
    // A gzip bomb: a legitimate header (20 images), then 512 MB of zeros in about 0.5 MB.
    // Only the announced 15 680 bytes (and one more) are inflated before it is refused.
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(&idx_header(&[20, 28, 28]))
        .expect("compress");
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..512 {
        encoder.write_all(&zeros).expect("compress");
    }
    let bomb = encoder.finish().expect("compress");
    assert!(bomb.len() < 1 << 20, "{} bytes", bomb.len());
    let folder = mnist_folder(&bomb, "train-images-idx3-ubyte.gz");
    let output = neqlab(&["mnist", "--idx", path_str(folder.path())]);
    assert_refused(
        &output,
        &["announces 15 680 data bytes but the file holds more"],
    );
    // A header within the machine's memory but beyond the budget given.
    let claim = idx_header(&[100_000_000, 1, 1]);
    let folder = mnist_folder(&gzip(&claim), "train-images-idx3-ubyte.gz");
    let output = neqlab_with(&["mnist", "--idx", path_str(folder.path())], Some("50MB"));
    assert_refused(
        &output,
        &["100 000 000 × 1 × 1", "NEQLAB_MEMORY_BYTES allows 50 MB"],
    );
    // Compressed twice.
    let folder = mnist_folder(&gzip(&gzip(&claim)), "train-images-idx3-ubyte.gz");
    let output = neqlab(&["mnist", "--idx", path_str(folder.path())]);
    assert_refused(&output, &["compressed twice"]);
    // Images of zero pixels.
    let mut empty = idx_header(&[20, 0, 28]);
    empty.extend_from_slice(&[]);
    let folder = mnist_folder(&empty, "train-images-idx3-ubyte");
    let output = neqlab(&["mnist", "--idx", path_str(folder.path())]);
    assert_refused(&output, &["images of 0×28 pixels"]);
}
