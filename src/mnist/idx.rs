//! The IDX file format of MNIST (and of Fashion-MNIST, KMNIST, EMNIST, ...), raw or gzip.
//!
//! An IDX file is a big-endian header followed by the data:
//!
//! | bytes | meaning |
//! |---|---|
//! | 0–1 | zero |
//! | 2 | element type: `0x08` unsigned byte (the only type MNIST uses, and the only one read here) |
//! | 3 | rank `r` (3 for images, 1 for labels) |
//! | 4 .. 4 + 4r | the `r` dimensions, 32-bit big-endian |
//! | then | `∏ dims` elements, row-major |
//!
//! So image files start with the magic number `0x00000803` and label files with
//! `0x00000801`. Files whose first two bytes are the gzip signature `1f 8b` are decompressed
//! first, whatever their name. Every error names the file and what is wrong with it.
//!
//! Nothing is allocated from the header before it is checked: the header is read first (from
//! the decompressing stream for gzip), the data size it announces is compared with the memory
//! this machine has ([`crate::limits`]), and only then is exactly that much allocated and
//! filled; a stream that holds less or more is refused. A header that claims 10⁹ images, or
//! a small gzip file that would inflate beyond its header's size (a "gzip bomb"), costs
//! nothing. Raw files are refused from their size before they are read.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;

use crate::files::{ReadError, read_bounded};
use crate::limits::{LimitError, MemoryBudget, MemoryDemand, group_digits};

/// The element type code of unsigned bytes.
const UNSIGNED_BYTE: u8 = 0x08;

/// Something wrong with an IDX file or a folder of them.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    // The io::Error is part of the message and deliberately not a `#[source]`, so that
    // error chains (`{:#}`) do not print it twice.
    /// The file could not be opened or read.
    #[error("{path}: cannot read: {error}")]
    Read {
        /// The file being read.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The file is larger than this machine's memory allows.
    #[error(transparent)]
    File(#[from] ReadError),
    /// The header announces more data than this machine's memory allows.
    #[error("{path}: the header announces {shape} bytes: {limit}")]
    TooLarge {
        /// The file whose header was read.
        path: PathBuf,
        /// The announced dimensions and their product in bytes, e.g.
        /// `1 000 000 000 × 28 × 28 = 784 000 000 000`.
        shape: String,
        /// The memory check that refused it.
        limit: LimitError,
    },
    /// The file could not be written.
    #[error("{path}: cannot write: {error}")]
    Write {
        /// The file being written.
        path: PathBuf,
        /// What the operating system said.
        error: std::io::Error,
    },
    /// The gzip stream is corrupt or ends early.
    #[error("{path}: broken gzip stream (truncated or corrupt download?): {error}")]
    Gzip {
        /// The gzip file.
        path: PathBuf,
        /// What the decompressor said.
        error: std::io::Error,
    },
    /// The header is not an IDX header, or not the one expected.
    #[error("{path}: {message}")]
    Header {
        /// The file whose header is wrong.
        path: PathBuf,
        /// What is wrong with it (magic number, element type, rank, overflowing dimensions, images without pixels, ...).
        message: String,
    },
    /// Fewer data bytes than the header announces.
    #[error(
        "{path}: the header announces {expected} data bytes but the file holds only {found} (truncated or not an IDX file)",
        expected = group_digits(*expected as u64),
        found = group_digits(*found as u64)
    )]
    Truncated {
        /// The short file.
        path: PathBuf,
        /// Data bytes announced by the header (the product of its dimensions).
        expected: usize,
        /// Data bytes actually present after the header.
        found: usize,
    },
    /// More data bytes than the header announces.
    #[error(
        "{path}: the header announces {expected} data bytes but the file holds more{found} (not an IDX file, or a damaged header?)",
        expected = group_digits(*expected as u64),
        found = found.map(|f| format!(": {}", group_digits(f as u64))).unwrap_or_default()
    )]
    TooLong {
        /// The long file.
        path: PathBuf,
        /// Data bytes announced by the header (the product of its dimensions).
        expected: usize,
        /// The bytes found, when known (raw files).
        found: Option<usize>,
    },
    /// Image and label files that do not describe the same examples.
    #[error("{images} holds {n_images} images but {labels} holds {n_labels} labels")]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// The label file.
        labels: PathBuf,
        /// Images in the image file (its first dimension).
        n_images: usize,
        /// Labels in the label file (its only dimension).
        n_labels: usize,
    },
    /// A label outside `0..classes`.
    #[error("{path}: label {label} of example {index} is not a class 0..{classes}")]
    Label {
        /// The label file.
        path: PathBuf,
        /// The 0-based example whose label is out of range.
        index: usize,
        /// The label found.
        label: u8,
        /// The number of classes allowed (labels run over `0..classes`).
        classes: usize,
    },
    /// A folder lacking one of the standard files.
    #[error(
        "{folder}: no {what} file found (looked for {candidates}); expected the standard MNIST names, raw or .gz"
    )]
    Missing {
        /// The folder searched.
        folder: PathBuf,
        /// Which file is missing: "training images", "test labels", ...
        what: &'static str,
        /// The file names tried, comma-separated.
        candidates: String,
    },
}

/// An IDX array of unsigned bytes: its dimensions and its row-major data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// The dimensions from the header, outermost first (`[n, rows, cols]` for images).
    pub dims: Vec<usize>,
    /// The `∏ dims` elements, row-major (last index fastest).
    pub data: Vec<u8>,
}

/// Decode IDX bytes (raw or gzip); `path` labels errors.
pub fn parse_idx(bytes: &[u8], path: &Path) -> Result<IdxArray, IdxError> {
    parse_idx_within(bytes, path, &MemoryBudget::of_this_machine())
}

/// [`parse_idx`] against a given memory budget.
pub fn parse_idx_within(
    bytes: &[u8],
    path: &Path,
    budget: &MemoryBudget,
) -> Result<IdxArray, IdxError> {
    if bytes.starts_with(&GZIP_MAGIC) {
        return decode_gzip(bytes, path, budget);
    }
    let header = read_header(&mut &bytes[..], path, false)?;
    check_raw_length(&header, bytes.len(), path)?;
    Ok(IdxArray {
        data: bytes[header.start..].to_vec(),
        dims: header.dims,
    })
}

/// The first two bytes of every gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// What the header says.
struct Header {
    dims: Vec<usize>,
    /// Header bytes: `4 + 4 · rank`.
    start: usize,
    /// Data bytes announced: `∏ dims`.
    expected: usize,
}

/// Read up to `buffer.len()` bytes, stopping early only at the end of the stream.
fn fill(reader: &mut impl Read, buffer: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match reader.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(k) => filled += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

fn gzip_error(path: &Path) -> impl Fn(std::io::Error) -> IdxError + '_ {
    move |error| IdxError::Gzip {
        path: path.to_path_buf(),
        error,
    }
}

/// Read and check the header from `reader` (after decompression when `decompressed`).
fn read_header(
    reader: &mut impl Read,
    path: &Path,
    decompressed: bool,
) -> Result<Header, IdxError> {
    let header = |message: String| IdxError::Header {
        path: path.to_path_buf(),
        message,
    };
    let what = if decompressed {
        "decompresses to"
    } else {
        "holds"
    };
    let mut magic_bytes = [0u8; 4];
    let got = fill(reader, &mut magic_bytes).map_err(gzip_error(path))?;
    if got < 4 {
        return Err(header(format!(
            "{what} only {got} bytes: too short for an IDX header"
        )));
    }
    let magic = u32::from_be_bytes(magic_bytes);
    if magic_bytes[..2] == GZIP_MAGIC && decompressed {
        return Err(header(
            "compressed twice (a gzip file inside a gzip file); decompress it once".into(),
        ));
    }
    if magic_bytes[0] != 0 || magic_bytes[1] != 0 {
        return Err(header(format!(
            "wrong magic number 0x{magic:08x}: an IDX file starts with two zero bytes (0x0000080r for bytes of rank r)"
        )));
    }
    if magic_bytes[2] != UNSIGNED_BYTE {
        return Err(header(format!(
            "magic number 0x{magic:08x}: element type 0x{:02x} is not supported (only unsigned bytes, 0x08)",
            magic_bytes[2]
        )));
    }
    let rank = magic_bytes[3] as usize;
    if rank == 0 {
        return Err(header(format!(
            "magic number 0x{magic:08x}: rank 0 is not an array"
        )));
    }
    let start = 4 + 4 * rank;
    let mut dim_bytes = vec![0u8; 4 * rank];
    let got = fill(reader, &mut dim_bytes).map_err(gzip_error(path))?;
    if got < dim_bytes.len() {
        return Err(header(format!(
            "the header of a rank-{rank} array needs {start} bytes, the file {what} {}",
            4 + got
        )));
    }
    let dims: Vec<usize> = dim_bytes
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect();
    let expected = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| header(format!("dimensions {dims:?} overflow")))?;
    Ok(Header {
        dims,
        start,
        expected,
    })
}

/// A raw file must hold exactly the announced data after its header.
fn check_raw_length(header: &Header, total: usize, path: &Path) -> Result<(), IdxError> {
    let found = total - header.start;
    match found.cmp(&header.expected) {
        std::cmp::Ordering::Less => Err(IdxError::Truncated {
            path: path.to_path_buf(),
            expected: header.expected,
            found,
        }),
        std::cmp::Ordering::Greater => Err(IdxError::TooLong {
            path: path.to_path_buf(),
            expected: header.expected,
            found: Some(found),
        }),
        std::cmp::Ordering::Equal => Ok(()),
    }
}

/// Refuse a header whose data (besides `held_bytes` already in memory) does not fit.
fn check_memory(
    header: &Header,
    held_bytes: usize,
    path: &Path,
    budget: &MemoryBudget,
) -> Result<(), IdxError> {
    let data = header.expected as f64;
    MemoryDemand::new(data + held_bytes as f64)
        .grows_with("IDX data", data, "bytes", data, 1.0)
        .check(budget)
        .map_err(|limit| IdxError::TooLarge {
            path: path.to_path_buf(),
            shape: format!(
                "{} = {}",
                header
                    .dims
                    .iter()
                    .map(|&d| group_digits(d as u64))
                    .collect::<Vec<_>>()
                    .join(" × "),
                group_digits(header.expected as u64)
            ),
            limit,
        })
}

/// Decompress a gzip IDX stream: header first, then exactly the announced data.
fn decode_gzip(bytes: &[u8], path: &Path, budget: &MemoryBudget) -> Result<IdxArray, IdxError> {
    let mut decoder = GzDecoder::new(bytes);
    let header = read_header(&mut decoder, path, true)?;
    check_memory(&header, bytes.len(), path, budget)?;
    let mut data = vec![0u8; header.expected];
    let found = fill(&mut decoder, &mut data).map_err(gzip_error(path))?;
    if found < header.expected {
        return Err(IdxError::Truncated {
            path: path.to_path_buf(),
            expected: header.expected,
            found,
        });
    }
    let mut probe = [0u8; 1];
    if fill(&mut decoder, &mut probe).map_err(gzip_error(path))? > 0 {
        return Err(IdxError::TooLong {
            path: path.to_path_buf(),
            expected: header.expected,
            found: None,
        });
    }
    Ok(IdxArray {
        dims: header.dims,
        data,
    })
}

/// Read an IDX file, raw or gzip. Raw files larger than the memory allows are refused from
/// their size; the data of raw files is not copied.
pub fn read_idx(path: &Path) -> Result<IdxArray, IdxError> {
    read_idx_within(path, &MemoryBudget::of_this_machine())
}

/// [`read_idx`] against a given memory budget.
pub fn read_idx_within(path: &Path, budget: &MemoryBudget) -> Result<IdxArray, IdxError> {
    let limit = budget.usable_bytes().max(0.0) as u64;
    let mut bytes = read_bounded(
        path,
        limit,
        "an IDX file on this machine (80% of the available memory)",
    )?;
    if bytes.starts_with(&GZIP_MAGIC) {
        return decode_gzip(&bytes, path, budget);
    }
    let header = read_header(&mut &bytes[..], path, false)?;
    check_raw_length(&header, bytes.len(), path)?;
    bytes.drain(..header.start);
    Ok(IdxArray {
        dims: header.dims,
        data: bytes,
    })
}

/// Encode an array of unsigned bytes as IDX, gzip-compressed when `gzip` is set.
///
/// Panics never; returns the bytes. `dims` must multiply to `data.len()`.
pub fn encode_idx(dims: &[usize], data: &[u8], gzip: bool) -> Result<Vec<u8>, String> {
    if dims.is_empty() || dims.len() > 255 {
        return Err(format!(
            "an IDX array needs rank 1 to 255, got {}",
            dims.len()
        ));
    }
    if dims.iter().product::<usize>() != data.len() {
        return Err(format!(
            "dimensions {dims:?} do not match {} data bytes",
            data.len()
        ));
    }
    let mut bytes = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    bytes.extend_from_slice(&[0, 0, UNSIGNED_BYTE, dims.len() as u8]);
    for &d in dims {
        let d = u32::try_from(d).map_err(|_| format!("dimension {d} exceeds 2^32 − 1"))?;
        bytes.extend_from_slice(&d.to_be_bytes());
    }
    bytes.extend_from_slice(data);
    if !gzip {
        return Ok(bytes);
    }
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder
        .write_all(&bytes)
        .and_then(|()| encoder.finish())
        .map_err(|e| e.to_string())
}

/// Write an IDX file atomically; gzip-compressed when the name ends in `.gz`.
pub fn write_idx(path: &Path, dims: &[usize], data: &[u8]) -> Result<(), IdxError> {
    let gzip = path.extension().is_some_and(|e| e == "gz");
    let bytes = encode_idx(dims, data, gzip).map_err(|message| IdxError::Header {
        path: path.to_path_buf(),
        message,
    })?;
    crate::files::write_atomically(path, &bytes).map_err(|error| IdxError::Write {
        path: path.to_path_buf(),
        error,
    })
}

/// Labelled images: `n` images of `rows × cols` bytes and their labels `0..classes`.
#[derive(Clone, Debug, PartialEq)]
pub struct Digits {
    /// Pixel rows per image (28 for MNIST).
    pub rows: usize,
    /// Pixel columns per image (28 for MNIST).
    pub cols: usize,
    /// Row-major grey levels 0–255, image after image (`n · rows · cols` bytes).
    pub pixels: Vec<u8>,
    /// One class per image, in `0..classes` (the digit 0–9 for MNIST).
    pub labels: Vec<u8>,
}

impl Digits {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Pixels per image.
    pub fn pixels_per_image(&self) -> usize {
        self.rows * self.cols
    }

    /// The grey levels of example `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let p = self.pixels_per_image();
        &self.pixels[i * p..(i + 1) * p]
    }

    /// The first `n` examples (all of them when `n` is 0 or too large).
    pub fn truncated(mut self, n: usize) -> Self {
        if n > 0 && n < self.len() {
            self.pixels.truncate(n * self.pixels_per_image());
            self.labels.truncate(n);
        }
        self
    }

    /// Pair decoded image and label arrays, checking ranks, counts and labels.
    pub fn from_arrays(
        images: IdxArray,
        images_path: &Path,
        labels: IdxArray,
        labels_path: &Path,
        classes: usize,
    ) -> Result<Self, IdxError> {
        if images.dims.len() != 3 {
            return Err(IdxError::Header {
                path: images_path.to_path_buf(),
                message: format!(
                    "expected images (rank 3, magic 0x00000803), found a rank-{} array{}",
                    images.dims.len(),
                    if images.dims.len() == 1 {
                        " (a label file?)"
                    } else {
                        ""
                    }
                ),
            });
        }
        if labels.dims.len() != 1 {
            return Err(IdxError::Header {
                path: labels_path.to_path_buf(),
                message: format!(
                    "expected labels (rank 1, magic 0x00000801), found a rank-{} array{}",
                    labels.dims.len(),
                    if labels.dims.len() == 3 {
                        " (an image file?)"
                    } else {
                        ""
                    }
                ),
            });
        }
        if images.dims[1] == 0 || images.dims[2] == 0 {
            return Err(IdxError::Header {
                path: images_path.to_path_buf(),
                message: format!(
                    "images of {}×{} pixels: an image needs at least one pixel",
                    images.dims[1], images.dims[2]
                ),
            });
        }
        if images.dims[0] != labels.dims[0] {
            return Err(IdxError::CountMismatch {
                images: images_path.to_path_buf(),
                labels: labels_path.to_path_buf(),
                n_images: images.dims[0],
                n_labels: labels.dims[0],
            });
        }
        if let Some((index, &label)) = labels
            .data
            .iter()
            .enumerate()
            .find(|&(_, &l)| l as usize >= classes)
        {
            return Err(IdxError::Label {
                path: labels_path.to_path_buf(),
                index,
                label,
                classes,
            });
        }
        Ok(Self {
            rows: images.dims[1],
            cols: images.dims[2],
            pixels: images.data,
            labels: labels.data,
        })
    }

    /// Read an image file and a label file.
    pub fn read(images_path: &Path, labels_path: &Path, classes: usize) -> Result<Self, IdxError> {
        let images = read_idx(images_path)?;
        let labels = read_idx(labels_path)?;
        Self::from_arrays(images, images_path, labels, labels_path, classes)
    }

    /// Write the images and labels as IDX files (gzip when a name ends in `.gz`).
    pub fn write(&self, images_path: &Path, labels_path: &Path) -> Result<(), IdxError> {
        write_idx(
            images_path,
            &[self.len(), self.rows, self.cols],
            &self.pixels,
        )?;
        write_idx(labels_path, &[self.len()], &self.labels)
    }
}

/// A training set and a held-out test set.
#[derive(Clone, Debug, PartialEq)]
pub struct DataSet {
    /// The examples the network is trained on (MNIST: 60 000).
    pub train: Digits,
    /// The held-out examples accuracy is measured on (MNIST: 10 000).
    pub test: Digits,
    /// Where the data came from, for reports.
    pub source: String,
}

/// The standard stems of the four MNIST files; Fashion-MNIST and others use the same.
const STEMS: [(&str, &str); 4] = [
    ("training images", "train-images-idx3-ubyte"),
    ("training labels", "train-labels-idx1-ubyte"),
    ("test images", "t10k-images-idx3-ubyte"),
    ("test labels", "t10k-labels-idx1-ubyte"),
];

/// Find one standard file in `folder`: `stem`, `stem.gz`, or the dotted spelling
/// (`train-images.idx3-ubyte`) some mirrors use, each raw or gzip.
fn find_standard(folder: &Path, what: &'static str, stem: &str) -> Result<PathBuf, IdxError> {
    let dotted = stem.replacen("-idx", ".idx", 1);
    let candidates = [
        stem.to_string(),
        format!("{stem}.gz"),
        dotted.clone(),
        format!("{dotted}.gz"),
    ];
    candidates
        .iter()
        .map(|name| folder.join(name))
        .find(|path| path.is_file())
        .ok_or_else(|| IdxError::Missing {
            folder: folder.to_path_buf(),
            what,
            candidates: candidates.join(", "),
        })
}

impl DataSet {
    /// Read the four standard files (`train-images-idx3-ubyte[.gz]`, ...) from a folder.
    pub fn read_folder(folder: &Path) -> Result<Self, IdxError> {
        if !folder.is_dir() {
            return Err(IdxError::Read {
                path: folder.to_path_buf(),
                error: std::io::Error::new(std::io::ErrorKind::NotFound, "not a folder"),
            });
        }
        let mut paths = Vec::with_capacity(4);
        for (what, stem) in STEMS {
            paths.push(find_standard(folder, what, stem)?);
        }
        let train = Digits::read(&paths[0], &paths[1], 10)?;
        let test = Digits::read(&paths[2], &paths[3], 10)?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(IdxError::Header {
                path: paths[2].clone(),
                message: format!(
                    "test images are {}×{} but training images are {}×{}",
                    test.rows, test.cols, train.rows, train.cols
                ),
            });
        }
        Ok(Self {
            train,
            test,
            source: folder.display().to_string(),
        })
    }

    /// The bundled subset of real MNIST digits (8000 train, 2000 test; `assets/mnist/`),
    /// compiled into the binary so a run needs no download.
    pub fn bundled() -> Result<Self, IdxError> {
        let decode = |bytes: &[u8], name: &str| parse_idx(bytes, &bundled_path(name));
        let train = Digits::from_arrays(
            decode(BUNDLED[0], STEMS[0].1)?,
            &bundled_path(STEMS[0].1),
            decode(BUNDLED[1], STEMS[1].1)?,
            &bundled_path(STEMS[1].1),
            10,
        )?;
        let test = Digits::from_arrays(
            decode(BUNDLED[2], STEMS[2].1)?,
            &bundled_path(STEMS[2].1),
            decode(BUNDLED[3], STEMS[3].1)?,
            &bundled_path(STEMS[3].1),
            10,
        )?;
        Ok(Self {
            train,
            test,
            source: "bundled MNIST subset (assets/mnist)".into(),
        })
    }
}

fn bundled_path(stem: &str) -> PathBuf {
    PathBuf::from(format!("assets/mnist/{stem}.gz"))
}

const BUNDLED: [&[u8]; 4] = [
    include_bytes!("../../assets/mnist/train-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist/train-labels-idx1-ubyte.gz"),
    include_bytes!("../../assets/mnist/t10k-images-idx3-ubyte.gz"),
    include_bytes!("../../assets/mnist/t10k-labels-idx1-ubyte.gz"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_subset_is_real_mnist_shaped() {
        let data = DataSet::bundled().expect("bundled data decode");
        assert_eq!((data.train.len(), data.test.len()), (8000, 2000));
        assert_eq!((data.train.rows, data.train.cols), (28, 28));
        // Every class is present in both sets with roughly its MNIST frequency (~10%).
        for set in [&data.train, &data.test] {
            let mut counts = [0usize; 10];
            for &l in &set.labels {
                counts[l as usize] += 1;
            }
            for c in counts {
                let share = c as f64 / set.len() as f64;
                assert!((0.06..0.15).contains(&share), "{counts:?}");
            }
        }
    }

    #[test]
    fn encode_parse_round_trip_raw_and_gzip() {
        let data: Vec<u8> = (0..2 * 3 * 4).map(|i| (i * 7) as u8).collect();
        for gzip in [false, true] {
            let bytes = encode_idx(&[2, 3, 4], &data, gzip).expect("encode");
            let array = parse_idx(&bytes, Path::new("x")).expect("parse");
            assert_eq!(array.dims, vec![2, 3, 4]);
            assert_eq!(array.data, data);
        }
        assert!(encode_idx(&[2, 3], &data, false).is_err());
    }
}
