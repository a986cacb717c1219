//! Reading and writing the files a person names: bounded reads and atomic saves.
//!
//! - [`read_bounded`] reads at most a given number of bytes, so that a file named by mistake
//!   (a 40 GB download, `/dev/zero`, a pipe that never ends) is refused with a message instead
//!   of filling the memory. Regular files are refused from their size before anything is read.
//! - [`write_atomically`] is the one function every user save goes through (presets, figures,
//!   CSV, JSON, IDX): the bytes go to a temporary file in the target's folder, are flushed to
//!   the disk (`fsync`), and the temporary is renamed over the target. A rename within one
//!   file system is atomic, so whenever the process is killed the target holds either its old
//!   contents or the complete new ones, never a part. Temporaries left behind by killed
//!   processes are removed by the next save of the same file.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Why a bounded read failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file cannot be opened or read. (The io::Error is part of the message and not a
    /// `#[source]`, so that error chains do not print it twice.)
    #[error("{path}: cannot read: {error}", path = path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is larger than the reader accepts.
    #[error(
        "{path}: the file holds {size} bytes or more; at most {limit} bytes are read for {what}",
        path = path.display(),
        size = crate::limits::group_digits(*size_bytes),
        limit = crate::limits::group_digits(*limit_bytes)
    )]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// Bytes found (at least this many).
        size_bytes: u64,
        /// The most bytes this reader accepts for this kind of file.
        limit_bytes: u64,
        /// What the file should be ("a preset", "an IDX file", ...).
        what: &'static str,
    },
    /// The file is not UTF-8 text.
    #[error("{path}: not UTF-8 text (byte {offset} is not valid UTF-8); is this {what}?", path = path.display())]
    NotText {
        /// The file.
        path: PathBuf,
        /// The 0-based byte offset of the first byte that is not valid UTF-8.
        offset: usize,
        /// What the file should be ("a preset", "a data file", ...).
        what: &'static str,
    },
}

impl ReadError {
    /// The file the error is about.
    pub fn path(&self) -> &Path {
        match self {
            Self::Io { path, .. } | Self::TooLarge { path, .. } | Self::NotText { path, .. } => {
                path
            }
        }
    }
}

/// Largest amount read from anything that is not a regular file (a pipe, a device), whose
/// size cannot be known before reading: 64 MiB (the largest standard MNIST file is 47 MB).
pub const STREAM_LIMIT_BYTES: u64 = 64 << 20;

/// Read at most `limit_bytes` bytes of `path`: a regular file larger than that is refused from
/// its size, before anything is read; anything else (a pipe, a device) is read up to one byte
/// past `limit_bytes` or [`STREAM_LIMIT_BYTES`], whichever is smaller, and refused there.
/// `what` names the expected contents in messages ("a preset").
pub fn read_bounded(
    path: &Path,
    limit_bytes: u64,
    what: &'static str,
) -> Result<Vec<u8>, ReadError> {
    let io = |error| ReadError::Io {
        path: path.to_path_buf(),
        error,
    };
    let file = File::open(path).map_err(io)?;
    let metadata = file.metadata().map_err(io)?;
    if metadata.is_dir() {
        return Err(io(std::io::Error::new(
            std::io::ErrorKind::IsADirectory,
            "is a folder, not a file",
        )));
    }
    let too_large = |size_bytes, limit_bytes| ReadError::TooLarge {
        path: path.to_path_buf(),
        size_bytes,
        limit_bytes,
        what,
    };
    if metadata.is_file() && metadata.len() > limit_bytes {
        return Err(too_large(metadata.len(), limit_bytes));
    }
    let limit_bytes = if metadata.is_file() {
        limit_bytes
    } else {
        limit_bytes.min(STREAM_LIMIT_BYTES)
    };
    let capacity = if metadata.is_file() {
        metadata.len()
    } else {
        0
    };
    // The capacity is at most `limit_bytes` here; a regular file that grows while it is read
    // is caught by the `take` below like a pipe.
    let mut bytes = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    file.take(limit_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    if bytes.len() as u64 > limit_bytes {
        return Err(too_large(bytes.len() as u64, limit_bytes));
    }
    Ok(bytes)
}

/// [`read_bounded`] for UTF-8 text.
pub fn read_text_bounded(
    path: &Path,
    limit_bytes: u64,
    what: &'static str,
) -> Result<String, ReadError> {
    let bytes = read_bounded(path, limit_bytes, what)?;
    String::from_utf8(bytes).map_err(|error| ReadError::NotText {
        path: path.to_path_buf(),
        offset: error.utf8_error().valid_up_to(),
        what,
    })
}

/// Distinguishes the temporaries of one process (several threads may save at once).
static TEMPORARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// The prefix and suffix of the temporaries of `name`: `.NAME.` and `.tmp`.
fn temporary_affixes(name: &str) -> (String, &'static str) {
    (format!(".{name}."), ".tmp")
}

/// Write `contents` to `path` atomically: a new temporary file in the same folder, its bytes
/// flushed to the disk, then renamed over `path` (and the folder flushed so that the rename
/// itself is durable). On any error the temporary is removed and `path` is untouched.
///
/// When `path` is a symbolic link the file it points to is replaced, not the link. An existing
/// target's permissions are kept.
pub fn write_atomically(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let path = resolve_link(path)?;
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file")
        })?
        .to_string_lossy()
        .into_owned();
    remove_stale_temporaries(&folder, &name);
    let (prefix, suffix) = temporary_affixes(&name);
    let temporary = folder.join(format!(
        "{prefix}{}.{}{suffix}",
        std::process::id(),
        TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = write_then_rename(&temporary, &path, contents);
    if result.is_err() {
        let _ = std::fs::remove_file(&temporary);
    }
    result?;
    sync_folder(&folder);
    Ok(())
}

fn write_then_rename(temporary: &Path, path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(temporary)?;
    if let Ok(metadata) = std::fs::metadata(path) {
        // Keep the target's permissions; failing to copy them is not worth failing the save.
        let _ = file.set_permissions(metadata.permissions());
    }
    file.write_all(contents)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(temporary, path)
}

/// The file a symbolic link points to (followed to the end), or `path` itself.
fn resolve_link(path: &Path) -> std::io::Result<PathBuf> {
    match std::fs::symlink_metadata(path) {
        Ok(metadata) if metadata.file_type().is_symlink() => match std::fs::canonicalize(path) {
            Ok(target) => Ok(target),
            // A dangling link: write where it points.
            Err(_) => {
                let target = std::fs::read_link(path)?;
                Ok(match path.parent() {
                    Some(parent) if target.is_relative() => parent.join(target),
                    _ => target,
                })
            }
        },
        _ => Ok(path.to_path_buf()),
    }
}

/// Flush the folder's entry list, so that a completed rename survives a power cut. Not every
/// platform can open folders; failing here loses nothing a kill could.
fn sync_folder(folder: &Path) {
    if let Ok(handle) = File::open(folder) {
        let _ = handle.sync_all();
    }
}

/// Remove `.NAME.PID.N.tmp` files in `folder` whose process no longer runs (Linux: no
/// `/proc/PID`), i.e. temporaries of saves that were killed half-way.
fn remove_stale_temporaries(folder: &Path, name: &str) {
    if !Path::new("/proc/self").exists() {
        return;
    }
    let (prefix, suffix) = temporary_affixes(name);
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(rest) = file_name
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|f| f.strip_suffix(suffix))
        else {
            continue;
        };
        let Some((pid, counter)) = rest.split_once('.') else {
            continue;
        };
        if pid.parse::<u32>().is_err() || counter.parse::<u64>().is_err() {
            continue;
        }
        if !Path::new("/proc").join(pid).exists() {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temporary() {
        let folder = tempfile::tempdir().expect("tempdir");
        let target = folder.path().join("p.toml");
        write_atomically(&target, b"one").expect("write");
        write_atomically(&target, b"two").expect("write");
        assert_eq!(std::fs::read(&target).expect("read"), b"two");
        assert_eq!(std::fs::read_dir(folder.path()).expect("list").count(), 1);
        let missing = folder.path().join("missing").join("p.toml");
        assert!(write_atomically(&missing, b"x").is_err());
        assert!(write_atomically(folder.path(), b"x").is_err());
        assert_eq!(std::fs::read_dir(folder.path()).expect("list").count(), 1);
    }

    #[test]
    fn stale_temporaries_of_dead_processes_are_removed() {
        let folder = tempfile::tempdir().expect("tempdir");
        let target = folder.path().join("f.csv");
        // PID 0 is never a user process: no /proc/0. Our own PID is alive.
        let stale = folder.path().join(".f.csv.0.7.tmp");
        let alive = folder
            .path()
            .join(format!(".f.csv.{}.999999.tmp", std::process::id()));
        let unrelated = folder.path().join(".g.csv.0.1.tmp");
        for path in [&stale, &alive, &unrelated] {
            std::fs::write(path, "partial").expect("write");
        }
        write_atomically(&target, b"new").expect("write");
        assert_eq!(std::fs::read(&target).expect("read"), b"new");
        if Path::new("/proc/self").exists() {
            assert!(!stale.exists());
        }
        assert!(alive.exists() && unrelated.exists());
    }

    #[cfg(unix)]
    #[test]
    fn symbolic_links_and_permissions_are_kept() {
        use std::os::unix::fs::PermissionsExt;
        let folder = tempfile::tempdir().expect("tempdir");
        let real = folder.path().join("real.json");
        std::fs::write(&real, "old").expect("write");
        std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o640)).expect("chmod");
        let link = folder.path().join("link.json");
        std::os::unix::fs::symlink(&real, &link).expect("symlink");
        write_atomically(&link, b"new").expect("write");
        assert!(
            std::fs::symlink_metadata(&link)
                .expect("link")
                .file_type()
                .is_symlink()
        );
        assert_eq!(std::fs::read(&real).expect("read"), b"new");
        let mode = std::fs::metadata(&real).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o640);
    }

    #[test]
    fn bounded_reads_refuse_large_files_and_endless_devices() {
        let folder = tempfile::tempdir().expect("tempdir");
        let path = folder.path().join("big.toml");
        std::fs::write(&path, vec![b'a'; 2000]).expect("write");
        assert_eq!(
            read_bounded(&path, 2000, "a preset").expect("fits").len(),
            2000
        );
        let message = read_bounded(&path, 1999, "a preset")
            .expect_err("too large")
            .to_string();
        assert!(
            message.contains("2 000 bytes") && message.contains("at most 1 999"),
            "{message}"
        );
        if Path::new("/dev/zero").exists() {
            let message = read_bounded(Path::new("/dev/zero"), 1 << 20, "a preset")
                .expect_err("endless")
                .to_string();
            assert!(message.contains("1 048 577 bytes or more"), "{message}");
            // A stream is never read beyond 64 MiB, whatever the caller allows.
            let message = read_bounded(Path::new("/dev/zero"), u64::MAX, "a data file")
                .expect_err("endless")
                .to_string();
            assert!(message.contains("at most 67 108 864 bytes"), "{message}");
        }
        let message = read_bounded(folder.path(), 10, "a preset")
            .expect_err("folder")
            .to_string();
        assert!(message.contains("folder"), "{message}");
        std::fs::write(&path, [b'a', 0xff, b'b']).expect("write");
        let message = read_text_bounded(&path, 10, "a preset")
            .expect_err("binary")
            .to_string();
        assert!(message.contains("byte 1"), "{message}");
    }
}
