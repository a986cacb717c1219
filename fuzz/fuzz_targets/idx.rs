//! IDX files, raw and gzip: the first byte picks raw bytes, or the rest gzip-compressed (so
//! that the fuzzer reaches the decompressed header without forging CRCs), or raw bytes that
//! start like gzip. Decoded arrays are paired into digits as the MNIST loader does.
#![no_main]

use std::io::Write;
use std::path::Path;

use flate2::Compression;
use flate2::write::GzEncoder;
use libfuzzer_sys::fuzz_target;
use neqlab::limits::MemoryBudget;
use neqlab::mnist::Digits;
use neqlab::mnist::idx::{IdxArray, parse_idx_within};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let bytes = match mode % 3 {
        0 => rest.to_vec(),
        1 => {
            let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
            if encoder.write_all(rest).is_err() {
                return;
            }
            match encoder.finish() {
                Ok(bytes) => bytes,
                Err(_) => return,
            }
        }
        _ => [&[0x1f, 0x8b][..], rest].concat(),
    };
    let path = Path::new("train-images-idx3-ubyte");
    let budget = MemoryBudget::with_available_bytes(128 << 20);
    let Ok(array) = parse_idx_within(&bytes, path, &budget) else {
        return;
    };
    let expected: usize = array.dims.iter().product();
    assert_eq!(array.data.len(), expected);
    // Labels from the image bytes themselves, as many as the header's first dimension.
    let count = array.dims.first().copied().unwrap_or(0);
    let labels = IdxArray {
        dims: vec![count],
        data: array
            .data
            .iter()
            .cycle()
            .take(count)
            .map(|b| b % 12)
            .collect(),
    };
    if let Ok(digits) = Digits::from_arrays(array, path, labels, Path::new("labels"), 10) {
        assert!(digits.pixels_per_image() > 0);
        assert_eq!(
            digits.pixels.len(),
            digits.len() * digits.pixels_per_image()
        );
    }
});
