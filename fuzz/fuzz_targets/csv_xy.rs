//! `x,y` data files: any text is parsed or refused with a message naming a line.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use neqlab::landscape::csv::parse_xy;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match parse_xy(text, Path::new("data.csv")) {
        Ok(xy) => {
            assert!(xy.x.len() >= 2 && xy.x.len() == xy.y.len());
            assert!(xy.x.iter().chain(&xy.y).all(|v| v.is_finite()));
        }
        Err(error) => assert!(error.to_string().starts_with("data.csv")),
    }
});
