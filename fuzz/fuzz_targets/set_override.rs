//! `--set` arguments (one per line) on a shipped preset, then the build, and for small
//! settings the run itself, as `neqlab run NAME --set ...` does; none of it may panic.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use neqlab::limits::MemoryBudget;
use neqlab::preset::{Preset, SHIPPED};

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let (name, toml) = SHIPPED[choice as usize % SHIPPED.len()];
    let path = Path::new(name);
    let Ok(preset) = Preset::from_toml(toml, path) else {
        return;
    };
    let overrides: Vec<String> = text.split('\n').take(8).map(str::to_string).collect();
    let Ok(changed) = preset.with_overrides(&overrides) else {
        return;
    };
    let budget = MemoryBudget::with_available_bytes(256 << 20);
    let Ok(experiment) = changed.build_within(path, Some(toml), &budget) else {
        return;
    };
    let d = &changed.dynamics;
    let small = d.walkers <= 64
        && d.steps.saturating_add(d.burn_in) <= 64
        && changed.fp.grid <= 24
        && experiment.landscape.n_examples() <= 400
        && experiment.dynamics.steps_per_unit() <= 50;
    if small {
        let _ = neqlab::run::simulate(&changed, &experiment, &mut |_| {});
    }
});
