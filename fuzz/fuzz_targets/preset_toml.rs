//! Preset TOML text: parse, save and parse again (same bytes), build within a small memory
//! budget; none of it may panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use neqlab::limits::MemoryBudget;
use neqlab::preset::Preset;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/preset.toml");
    let Ok(preset) = Preset::from_toml(text, path) else {
        return;
    };
    let saved = preset.to_toml();
    let again = Preset::from_toml(&saved, path).expect("a parsed preset parses again when saved");
    assert_eq!(again.to_toml(), saved, "saving twice gives the same bytes");
    let budget = MemoryBudget::with_available_bytes(256 << 20);
    let _ = preset.build_within(path, Some(text), &budget);
});
