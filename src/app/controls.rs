//! The control panel: landscape and its parameters, algorithm, replacement, learning rate,
//! batch size, temperature, walkers, step size, seed; play / pause / step / reset.
//!
//! The panel edits a copy of the app's [`Preset`]; the app compares it with the live one and
//! reconfigures when they differ. Landscape parameters are edited generically through the
//! preset's TOML table, so every landscape kind gets its keys without code here.

use egui::RichText;
use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::landscape::{KINDS, LandscapeSpec};
use neqlab::preset::{DynamicsSpec, Preset, SHIPPED};
use neqlab::{fields, limits};

use super::number_field;

/// What the person asked for this frame, besides editing the preset.
#[derive(Default, Debug, Clone, Copy, PartialEq, Eq)]
pub struct ControlActions {
    pub toggle_play: bool,
    pub step: bool,
    pub reset: bool,
}

/// UI-only state of the panel.
#[derive(Default)]
pub struct Controls {
    /// The landscape kind switch failed (no default for that kind).
    kind_error: Option<String>,
}

/// A landscape spec of `kind`: from a shipped preset of that kind, else from the kind's
/// defaults.
pub fn default_spec(kind: &str) -> Result<LandscapeSpec, String> {
    for (name, text) in SHIPPED {
        if let Ok(preset) = Preset::from_toml(text, std::path::Path::new(name))
            && preset.landscape.kind() == kind
        {
            return Ok(preset.landscape);
        }
    }
    toml::from_str::<LandscapeSpec>(&format!("kind = \"{kind}\""))
        .map_err(|e| format!("no defaults for landscape kind {kind}: {e}"))
}

/// The 2-D landscape kinds the app can show: every kind in `KINDS` and every kind a shipped
/// preset uses, when it is two-dimensional.
pub fn kinds_2d() -> Vec<&'static str> {
    let shipped = SHIPPED.iter().filter_map(|(name, text)| {
        Preset::from_toml(text, std::path::Path::new(name))
            .ok()
            .map(|p| p.landscape.kind())
    });
    let mut kinds: Vec<&'static str> = Vec::new();
    for kind in KINDS.iter().copied().chain(shipped) {
        if !kinds.contains(&kind) && default_spec(kind).map(|s| s.is_2d()).unwrap_or(false) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Divisors of `n` (batch sizes that sweep every example without replacement).
pub fn divisors(n: usize) -> Vec<usize> {
    (1..=n).filter(|b| n.is_multiple_of(*b)).collect()
}

impl Controls {
    /// Draw the panel; edits land in `preset`. `n_examples` is `N` of the current landscape.
    pub fn ui(
        &mut self,
        ui: &mut egui::Ui,
        preset: &mut Preset,
        n_examples: Option<usize>,
        playing: bool,
    ) -> ControlActions {
        let mut actions = ControlActions::default();
        ui.horizontal(|ui| {
            let label = if playing { "Pause" } else { "Play" };
            if ui.button(label).on_hover_text("Space").clicked() {
                actions.toggle_play = true;
            }
            if ui
                .button("Step")
                .on_hover_text("One update while paused")
                .clicked()
            {
                actions.step = true;
            }
            if ui
                .button("Reset")
                .on_hover_text("R: new walkers, fresh statistics")
                .clicked()
            {
                actions.reset = true;
            }
        });
        ui.separator();
        self.landscape_ui(ui, preset);
        ui.separator();
        self.dynamics_ui(ui, preset, n_examples);
        ui.separator();
        simulation_ui(ui, preset);
        actions
    }

    fn landscape_ui(&mut self, ui: &mut egui::Ui, preset: &mut Preset) {
        ui.heading("Landscape");
        let current = preset.landscape.kind();
        egui::ComboBox::from_label("landscape kind")
            .selected_text(current)
            .show_ui(ui, |ui| {
                for kind in kinds_2d() {
                    if ui.selectable_label(kind == current, kind).clicked() && kind != current {
                        match default_spec(kind) {
                            Ok(spec) => {
                                preset.landscape = spec;
                                preset.dynamics.start = None;
                                preset.fp.bounds = None;
                                self.kind_error = None;
                            }
                            Err(e) => self.kind_error = Some(e),
                        }
                    }
                }
            });
        if let Some(error) = &self.kind_error {
            ui.colored_label(ui.visuals().error_fg_color, error);
        }
        landscape_parameters_ui(ui, preset);
    }

    fn dynamics_ui(&mut self, ui: &mut egui::Ui, preset: &mut Preset, n_examples: Option<usize>) {
        ui.heading("Dynamics");
        let d = &mut preset.dynamics;
        let replacement = algorithm_ui(ui, d);
        ui.label("learning rate η");
        number_field::real_slider(ui, "η", fields::ETA, 1e-9..=10.0, true, &mut d.eta);
        batch_ui(ui, d, n_examples, replacement);
        let langevin = d.algorithm.is_langevin();
        ui.add_enabled_ui(langevin, |ui| {
            number_field::real_slider(
                ui,
                "temperature T",
                fields::TEMPERATURE,
                0.0..=10.0,
                false,
                &mut d.temperature,
            );
        })
        .response
        .on_disabled_hover_text("SGD adds no Langevin noise; choose SGLD or SGWORLD");
    }
}

/// The algorithm and its batch schedule; returns the replacement in effect.
fn algorithm_ui(ui: &mut egui::Ui, d: &mut DynamicsSpec) -> Replacement {
    ui.horizontal(|ui| {
        for algorithm in Algorithm::ALL {
            if ui
                .selectable_label(d.algorithm == algorithm, algorithm.label())
                .clicked()
                && d.algorithm != algorithm
            {
                d.algorithm = algorithm;
                d.replacement = match algorithm.fixed_replacement() {
                    Some(fixed) => Some(fixed),
                    None => d.replacement.or(Some(Replacement::Wr)),
                };
                if algorithm.is_langevin() && d.temperature <= 0.0 {
                    d.temperature = 1.0;
                }
            }
        }
    });
    let fixed = d.algorithm.fixed_replacement();
    let replacement = fixed.or(d.replacement).unwrap_or(Replacement::Wr);
    let why = match d.algorithm {
        Algorithm::Sgld => "SGLD is defined with replacement: every step draws a fresh batch",
        Algorithm::Sgworld => {
            "SGWORLD is defined without replacement: every epoch sweeps one random permutation"
        }
        Algorithm::Sgd => "",
    };
    ui.horizontal(|ui| {
        for (value, label) in [
            (Replacement::Wr, "with replacement"),
            (Replacement::Wor, "without replacement"),
        ] {
            let response = ui
                .add_enabled(
                    fixed.is_none(),
                    egui::RadioButton::new(replacement == value, label),
                )
                .on_disabled_hover_text(why);
            if response.clicked() {
                d.replacement = Some(value);
            }
        }
    });
    replacement
}

/// Batch size, with the divisors of N marked without replacement.
fn batch_ui(
    ui: &mut egui::Ui,
    d: &mut DynamicsSpec,
    n_examples: Option<usize>,
    replacement: Replacement,
) {
    let n = n_examples.unwrap_or(d.batch.max(1)).max(1);
    let rule = number_field::at_most(fields::BATCH, n as u64, "at most N");
    number_field::count_slider(ui, "batch B", rule, 1..=n as u64, false, &mut d.batch);
    if replacement == Replacement::Wr {
        ui.label(RichText::new(format!("N = {n} examples")).small().weak());
        return;
    }
    let dropped = n % d.batch.max(1);
    if dropped > 0 {
        ui.colored_label(
            ui.visuals().warn_fg_color,
            format!("B does not divide N = {n}: {dropped} examples are dropped from every epoch"),
        );
    }
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new("divisors of N:").small());
        for b in divisors(n) {
            if ui
                .selectable_label(d.batch == b, RichText::new(b.to_string()).small())
                .clicked()
            {
                d.batch = b;
            }
        }
    });
}

/// Walkers, burn-in, seed, the size of one Step (playing runs as fast as the machine
/// allows), view switches.
fn simulation_ui(ui: &mut egui::Ui, preset: &mut Preset) {
    ui.heading("Simulation");
    let max_walkers = limits::max_walkers(2, Some(preset.fp.grid), true, number_field::budget());
    let walkers = number_field::at_most(
        fields::WALKERS,
        max_walkers as u64,
        "what fits in this machine's memory",
    );
    let d = &mut preset.dynamics;
    number_field::count_slider(ui, "walkers", walkers, 1..=100_000, true, &mut d.walkers);
    number_field::count_slider(
        ui,
        "burn-in",
        fields::BURN_IN,
        0..=10_000,
        true,
        &mut d.burn_in,
    );
    super::stationarity_view::start_ui(ui, d);
    number_field::count(ui, "seed:", fields::SEED, &mut d.seed);
    let v = &mut preset.view;
    number_field::count_slider(
        ui,
        "step size (units per Step)",
        fields::UNITS_PER_FRAME,
        1..=2000,
        true,
        &mut v.units_per_frame,
    );
    ui.checkbox(&mut v.arrows, "current arrows");
    ui.checkbox(&mut v.show_walkers, "show walkers");
    number_field::count_slider(ui, "trails", fields::TRAILS, 0..=20, false, &mut v.trails);
}

/// Edit every key of the `[landscape]` table except `kind`.
fn landscape_parameters_ui(ui: &mut egui::Ui, preset: &mut Preset) {
    let Ok(mut table) = toml::Table::try_from(&preset.landscape) else {
        return;
    };
    let mut changed = false;
    let keys: Vec<String> = table.keys().filter(|k| *k != "kind").cloned().collect();
    egui::Grid::new("landscape-parameters")
        .num_columns(2)
        .show(ui, |ui| {
            for key in keys {
                let Some(value) = table.get_mut(&key) else {
                    continue;
                };
                ui.label(&key);
                ui.horizontal(|ui| {
                    changed |= value_ui(ui, &key, value, &key);
                });
                ui.end_row();
            }
        });
    if changed && let Ok(spec) = toml::Value::Table(table).try_into::<LandscapeSpec>() {
        preset.landscape = spec;
    }
}

/// One value of the landscape table; `name` is its accessible name (`key` or `key[i]`).
fn value_ui(ui: &mut egui::Ui, key: &str, value: &mut toml::Value, name: &str) -> bool {
    match value {
        toml::Value::Float(x) => {
            let mut rule =
                fields::real_field(&format!("landscape.{key}")).unwrap_or(fields::LANDSCAPE_NUMBER);
            if key.contains("angle") {
                (rule.min, rule.max) = (-180.0, 180.0);
            }
            number_field::real_named(ui, "", name, rule, x)
        }
        toml::Value::Integer(i) => {
            let rule = fields::count_field(&format!("landscape.{key}")).unwrap_or(
                if key.contains("seed") {
                    fields::DATA_SEED
                } else {
                    fields::LANDSCAPE_COUNT
                },
            );
            number_field::count_named(ui, "", name, rule, i)
        }
        toml::Value::Boolean(b) => ui.checkbox(b, key).changed(),
        toml::Value::String(s) => ui
            .add(egui::TextEdit::singleline(s).desired_width(120.0))
            .accessible_name(name)
            .lost_focus(),
        toml::Value::Array(items) => {
            let mut changed = false;
            for (i, item) in items.iter_mut().enumerate() {
                changed |= value_ui(ui, key, item, &format!("{name}[{i}]"));
            }
            changed
        }
        _ => {
            ui.label("…");
            false
        }
    }
}
