//! The number-entry widget of every number a person can type in the app.
//!
//! A field shows its value formatted for reading (`1.58e-2`, `20 000`), and the exact value
//! while it is being edited (and on hover). When it loses focus (or Enter is pressed) the text
//! is parsed and checked by the library's rule for that field ([`neqlab::fields`]): an
//! accepted value is applied; a refused one (empty, not a number, NaN, infinite, negative,
//! fractional where a count is needed, too large, beyond the memory of this machine) leaves
//! the value as it was and shows the rule's message under the field until the next accepted
//! edit. Sliders beside a field are drawn without their own text entry, over a range inside
//! the same rule ([`count_slider`], [`real_slider`]).
//!
//! The widget keeps its text and message in egui's temporary memory under an id made from
//! its label, so a call site is one call.

use std::sync::OnceLock;

use neqlab::fields::{CountField, RealField};
use neqlab::limits::{MemoryBudget, group_digits};

/// Width of a number field, in points.
const FIELD_WIDTH: f32 = 90.0;

/// A value as people read it: three significant digits, scientific notation outside
/// `[0.1, 10⁴)` (`1.58e-2`, `0.5`, `12.3`, `2500`, `1e6`).
pub fn format_real(x: f64) -> String {
    neqlab::export::figure::format_significant(x, 3, 3, 0.1..1e4)
}

/// A whole number that can live in a count field.
pub trait Count: Copy {
    /// The value as `u64` (negative values, which no rule accepts, as 0).
    fn to_u64(self) -> u64;
    /// The value from an accepted `u64` (rules keep counts far below every type's maximum;
    /// anything beyond saturates).
    fn from_u64(value: u64) -> Self;
}

impl Count for u64 {
    fn to_u64(self) -> u64 {
        self
    }
    fn from_u64(value: u64) -> Self {
        value
    }
}

impl Count for usize {
    fn to_u64(self) -> u64 {
        self as u64
    }
    fn from_u64(value: u64) -> Self {
        usize::try_from(value).unwrap_or(usize::MAX)
    }
}

impl Count for i64 {
    fn to_u64(self) -> u64 {
        u64::try_from(self).unwrap_or(0)
    }
    fn from_u64(value: u64) -> Self {
        i64::try_from(value).unwrap_or(i64::MAX)
    }
}

/// The text being typed into one field and the message of the last refused value.
#[derive(Clone, Default)]
struct FieldState {
    text: String,
    /// The value the text was last set from (to notice changes made elsewhere).
    shown_for: Option<String>,
    /// Whether the text holds the exact value (while editing) rather than the formatted one.
    exact: bool,
    /// Whether the person changed the text since it was last set from the value (only
    /// edited text is parsed: a field that merely loses focus applies nothing).
    edited: bool,
    error: Option<String>,
}

/// One field: `exact` is the value's exact text, `shown` its formatted text, `parse` checks
/// typed text. Returns the accepted text's value when one was applied.
fn field_ui<T>(
    ui: &mut egui::Ui,
    label: &str,
    name: &str,
    exact: String,
    shown: String,
    hover: String,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    let id = ui.make_persistent_id(("number-field", name));
    let edit_id = id.with("edit");
    let mut state: FieldState = ui.data(|d| d.get_temp(id)).unwrap_or_default();
    let focused = ui.memory(|m| m.has_focus(edit_id));
    let changed_elsewhere = state.shown_for.as_deref() != Some(exact.as_str());
    if changed_elsewhere {
        state.error = None;
    }
    if focused && !state.exact && state.error.is_none() {
        // Editing starts from the exact value.
        state.text = exact.clone();
        state.exact = true;
        state.edited = false;
    } else if !focused && (changed_elsewhere || state.error.is_none()) {
        state.text = shown;
        state.exact = false;
        state.edited = false;
    }
    state.shown_for = Some(exact.clone());
    let mut accepted = None;
    ui.horizontal(|ui| {
        let label = (!label.is_empty()).then(|| ui.label(label));
        let mut response = ui.add(
            egui::TextEdit::singleline(&mut state.text)
                .id(edit_id)
                .desired_width(FIELD_WIDTH),
        );
        response = match label {
            Some(label) => response.labelled_by(label.id),
            None => response.accessible_name(name),
        };
        let response = response.on_hover_text(hover);
        state.edited |= response.changed();
        if response.lost_focus() {
            if state.edited {
                state.edited = false;
                match parse(state.text.trim()) {
                    Ok(value) => {
                        accepted = Some(value);
                        state.error = None;
                        // The caller applies it; the next frame shows it formatted.
                        state.shown_for = None;
                    }
                    Err(message) => state.error = Some(message),
                }
            }
            state.exact = false;
        }
    });
    if let Some(error) = &state.error {
        ui.colored_label(ui.visuals().error_fg_color, error);
    }
    ui.data_mut(|d| d.insert_temp(id, state));
    accepted
}

/// A real-number field checked by `rule`, labelled `label`; returns whether `value` changed.
pub fn real(ui: &mut egui::Ui, label: &str, rule: RealField, value: &mut f64) -> bool {
    real_named(ui, label, label, rule, value)
}

/// A real-number field beside a label drawn elsewhere (a grid's first column): `name` is its
/// accessible name; an empty `label` draws none.
pub fn real_named(
    ui: &mut egui::Ui,
    label: &str,
    name: &str,
    rule: RealField,
    value: &mut f64,
) -> bool {
    let hover = format!("{} = {}: {}", rule.key, value, rule.accepted());
    let accepted = field_ui(
        ui,
        label,
        name,
        value.to_string(),
        format_real(*value),
        hover,
        |text| rule.parse(text).map_err(|e| e.to_string()),
    );
    apply(accepted, value)
}

/// A whole-number field checked by `rule`, labelled `label`; returns whether `value` changed.
pub fn count<T: Count + PartialEq>(
    ui: &mut egui::Ui,
    label: &str,
    rule: CountField,
    value: &mut T,
) -> bool {
    count_named(ui, label, label, rule, value)
}

/// A whole-number field beside a label drawn elsewhere (see [`real_named`]).
pub fn count_named<T: Count + PartialEq>(
    ui: &mut egui::Ui,
    label: &str,
    name: &str,
    rule: CountField,
    value: &mut T,
) -> bool {
    let current = value.to_u64();
    let hover = format!("{} = {current}: {}", rule.key, rule.accepted());
    let accepted = field_ui(
        ui,
        label,
        name,
        current.to_string(),
        group_digits(current),
        hover,
        |text| rule.parse(text).map_err(|e| e.to_string()),
    );
    apply(accepted.map(T::from_u64), value)
}

fn apply<T: PartialEq>(accepted: Option<T>, value: &mut T) -> bool {
    match accepted {
        Some(v) if v != *value => {
            *value = v;
            true
        }
        _ => false,
    }
}

/// A slider over `range` (clipped to `rule`) without its own text entry, then a field for
/// typing; returns whether `value` changed. A value outside the slider's range (from a preset)
/// is left alone until the slider is dragged.
pub fn count_slider<T: Count + PartialEq>(
    ui: &mut egui::Ui,
    label: &str,
    rule: CountField,
    range: std::ops::RangeInclusive<u64>,
    logarithmic: bool,
    value: &mut T,
) -> bool {
    let low = rule.clamp(*range.start());
    let high = rule.clamp(*range.end()).max(low);
    let mut dragged = value.to_u64();
    let slid = ui
        .add(
            egui::Slider::new(&mut dragged, low..=high)
                .logarithmic(logarithmic)
                .clamping(egui::SliderClamping::Never)
                .show_value(false)
                .text(label),
        )
        .changed();
    let mut changed = false;
    if slid && let Ok(v) = rule.check(dragged) {
        changed |= apply(Some(T::from_u64(v)), value);
    }
    changed |= count(ui, &format!("{label}:"), rule, value);
    changed
}

/// A slider over `range` (clipped to `rule`) without its own text entry, then a field for
/// typing; returns whether `value` changed.
pub fn real_slider(
    ui: &mut egui::Ui,
    label: &str,
    rule: RealField,
    range: std::ops::RangeInclusive<f64>,
    logarithmic: bool,
    value: &mut f64,
) -> bool {
    let low = range.start().max(rule.min);
    let high = range.end().min(rule.max).max(low);
    let mut dragged = *value;
    let slid = ui
        .add(
            egui::Slider::new(&mut dragged, low..=high)
                .logarithmic(logarithmic)
                .clamping(egui::SliderClamping::Never)
                .show_value(false)
                .text(label),
        )
        .changed();
    let mut changed = false;
    if slid && let Ok(v) = rule.check(dragged) {
        changed |= apply(Some(v), value);
    }
    changed |= real(ui, &format!("{label}:"), rule, value);
    changed
}

/// This machine's memory budget, read once.
pub fn budget() -> &'static MemoryBudget {
    static BUDGET: OnceLock<MemoryBudget> = OnceLock::new();
    BUDGET.get_or_init(MemoryBudget::of_this_machine)
}

/// `rule` with its maximum lowered to `max` (a memory limit, `N` for a batch), saying why.
pub fn at_most(rule: CountField, max: u64, reason: &'static str) -> CountField {
    if max < rule.max {
        CountField {
            max: max.max(rule.min),
            reason,
            ..rule
        }
    } else {
        rule
    }
}

#[cfg(test)]
mod tests {
    use egui::{Key, Modifiers};
    use egui_kittest::Harness;
    use egui_kittest::kittest::{NodeT as _, Queryable as _};

    use super::super::{Backend, NeqlabApp, load_named};
    use super::*;

    fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
        let (preset, path) = load_named(name).expect("shipped preset");
        Harness::builder()
            .with_size(egui::Vec2::new(1600.0, 1000.0))
            .build_eframe(move |cc| {
                NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
            })
    }

    /// Replace the text of the field labelled `label` by `text` and press Enter.
    fn type_into(harness: &mut Harness<'static, NeqlabApp>, label: &str, text: &str) {
        harness.get_by_label(label).focus();
        harness.run_steps(1);
        harness.key_press_modifiers(Modifiers::COMMAND, Key::A);
        harness.key_press(Key::Backspace);
        if !text.is_empty() {
            harness.get_by_label(label).type_text(text);
        }
        harness.key_press(Key::Enter);
        harness.run_steps(2);
    }

    #[test]
    fn typed_nan_inf_empty_negative_and_huge_values_are_refused_with_the_rules_message() {
        let mut harness = harness_for("sgld-currents");
        harness.run_steps(2);
        let before = harness.state().preset.clone();
        let cases = [
            ("walkers:", "nan", "dynamics.walkers = nan: not a number"),
            ("walkers:", "", "dynamics.walkers: empty"),
            (
                "walkers:",
                "-5",
                "dynamics.walkers = -5: must not be negative",
            ),
            ("walkers:", "2.5", "dynamics.walkers = 2.5:"),
            ("walkers:", "1e12", "what fits in this machine's memory"),
            ("η:", "inf", "dynamics.eta = inf: must be finite"),
            ("η:", "0", "dynamics.eta = 0: too small"),
            (
                "temperature T:",
                "-1",
                "dynamics.temperature = -1: must not be negative",
            ),
            ("seed:", "1e30", "dynamics.seed = 1e30: too large"),
            ("burn-in:", "1e13", "dynamics.burn_in = 1e13: too large"),
        ];
        for (label, text, message) in cases {
            type_into(&mut harness, label, text);
            let shown = harness
                .get_by_label_contains(message)
                .accesskit_node()
                .value();
            println!("{label} {text:?}\t{}", shown.unwrap_or_default());
            assert_eq!(
                harness.state().preset,
                before,
                "{label} {text:?} was applied"
            );
        }
        // A good value is applied and clears the message; the field shows it formatted.
        type_into(&mut harness, "walkers:", "2 000");
        assert_eq!(harness.state().preset.dynamics.walkers, 2000);
        assert!(
            harness
                .query_by_label_contains("dynamics.walkers = 1e12")
                .is_none()
        );
        type_into(&mut harness, "η:", "0.015848931924611134");
        assert_eq!(harness.state().preset.dynamics.eta, 0.015848931924611134);
        harness.run_steps(1);
        let shown = harness.get_by_label("η:").accesskit_node().value();
        assert_eq!(shown.as_deref(), Some("1.58e-2"));
    }

    #[test]
    fn numbers_are_shown_with_three_significant_digits() {
        assert_eq!(format_real(0.015848931924611134), "1.58e-2");
        assert_eq!(format_real(0.5), "0.5");
        assert_eq!(format_real(12.345), "12.3");
        assert_eq!(format_real(2500.0), "2500");
        assert_eq!(format_real(1e6), "1e6");
        assert_eq!(format_real(-3.0e-9), "-3e-9");
        assert_eq!(format_real(0.0), "0");
        assert_eq!(format_real(1.0), "1");
        assert_eq!(format_real(f64::NAN), "NaN");
    }

    #[test]
    fn a_lowered_maximum_names_its_reason() {
        let rule = at_most(neqlab::fields::WALKERS, 1000, "memory of this machine");
        let error = rule.parse("2000").expect_err("above the memory limit");
        assert!(
            error.to_string().contains("memory of this machine"),
            "{error}"
        );
        assert_eq!(rule.parse("1 000"), Ok(1000));
        // A limit above the rule's own keeps the rule.
        assert_eq!(
            at_most(neqlab::fields::TRAILS, 10_000, "x"),
            neqlab::fields::TRAILS
        );
    }

    #[test]
    fn the_mnist_and_network_tabs_refuse_bad_numbers_too() {
        let mut harness = harness_for("bowl-current");
        harness.run_steps(2);
        harness.get_by_label("MNIST").click();
        harness.run_steps(2);
        let before = harness.state().mnist.config.clone();
        for (label, text, message) in [
            ("hidden", "inf", "mnist.hidden = inf: too large"),
            (
                "hidden",
                "5000",
                "too large; type a whole number from 1 to 4 096",
            ),
            ("batch", "1e9", "at most the training digits"),
            (
                "η N:",
                "-0.1",
                "mnist.eta_mean_loss = -0.1: must not be negative",
            ),
            ("recorded epochs", "", "mnist.record_epochs: empty"),
        ] {
            type_into(&mut harness, label, text);
            let shown = harness
                .get_by_label_contains(message)
                .accesskit_node()
                .value();
            assert_eq!(harness.state().mnist.config, before, "{label} {text:?}");
            println!("MNIST {label} {text:?}\t{}", shown.unwrap_or_default());
        }
        type_into(&mut harness, "hidden", "64");
        assert_eq!(harness.state().mnist.config.hidden, 64);

        harness.get_by_label("Network").click();
        harness.run_steps(2);
        for (label, text, message) in [
            ("walkers:", "NaN", "dynamics.walkers = NaN: not a number"),
            ("steps:", "1e30", "dynamics.steps = 1e30: too large"),
        ] {
            type_into(&mut harness, label, text);
            let shown = harness
                .get_by_label_contains(message)
                .accesskit_node()
                .value();
            println!("Network {label} {text:?}\t{}", shown.unwrap_or_default());
        }
    }
}
