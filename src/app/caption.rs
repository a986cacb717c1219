//! The header under the menu: the title, the lecture counter, the caption (the preset's, or
//! the slide's lesson) and, when the settings depart from the preset, what changed, so that
//! a caption never describes settings that are no longer on screen.

use neqlab::preset::Preset;

use super::NeqlabApp;

/// The settings of `current` that differ from `original`, in a few words each
/// ("SGWORLD", "T = 1", "η = 0.0316"); the `[view]` table, title and caption do not count
/// (they change what is drawn, not the dynamics the caption describes).
pub fn modifications(original: &Preset, current: &Preset) -> Vec<String> {
    let flat = |preset: &Preset| {
        let mut entries = Vec::new();
        if let Ok(table) = toml::Table::try_from(preset) {
            flatten("", &toml::Value::Table(table), &mut entries);
        }
        entries
            .retain(|(key, _)| !(key.starts_with("view.") || key == "title" || key == "caption"));
        entries
    };
    let before = flat(original);
    let after = flat(current);
    let mut changes = Vec::new();
    for (key, value) in &after {
        if before.iter().any(|(k, v)| k == key && v == value) {
            continue;
        }
        changes.push(describe(key, Some(value)));
    }
    for (key, _) in &before {
        if !after.iter().any(|(k, _)| k == key) {
            changes.push(describe(key, None));
        }
    }
    changes
}

/// `table.key` paths and their leaf values.
fn flatten(prefix: &str, value: &toml::Value, out: &mut Vec<(String, toml::Value)>) {
    match value {
        toml::Value::Table(table) => {
            for (key, value) in table {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                flatten(&path, value, out);
            }
        }
        leaf => out.push((prefix.to_string(), leaf.clone())),
    }
}

/// One change in the words of the controls.
fn describe(key: &str, value: Option<&toml::Value>) -> String {
    let Some(value) = value else {
        return format!("{key} at its default");
    };
    let text = match value {
        toml::Value::Float(x) => format_value(*x),
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match key {
        "dynamics.algorithm" => text.to_uppercase(),
        "dynamics.replacement" => match text.as_str() {
            "wor" => "without replacement".into(),
            _ => "with replacement".into(),
        },
        "dynamics.temperature" => format!("T = {text}"),
        "dynamics.eta" => format!("η = {text}"),
        "dynamics.batch" => format!("B = {text}"),
        "dynamics.walkers" => format!("{text} walkers"),
        _ => format!("{key} = {text}"),
    }
}

/// A number with four significant digits and no trailing zeros (`0.0316`, `1`, `2.5e-5`).
pub fn format_value(x: f64) -> String {
    neqlab::export::figure::format_significant(x, 4, 4, 1e-3..1e5)
}

impl NeqlabApp {
    /// The title line, the caption and what has changed, then the notices.
    pub(super) fn caption_ui(&mut self, ui: &mut egui::Ui) {
        let changes = modifications(&self.original, &self.preset);
        let lesson = self
            .lecture
            .current()
            .filter(|_| self.lecture.active)
            .map(|slide| (self.lecture.counter(), slide.step.lesson));
        ui.horizontal_wrapped(|ui| {
            if let Some((counter, _)) = &lesson {
                ui.label(egui::RichText::new(counter).heading().strong())
                    .on_hover_text("Lecture: PageDown next slide, PageUp previous");
            }
            ui.heading(&self.title);
            let caption = match &lesson {
                Some((_, lesson)) => lesson.to_string(),
                None => self.preset.caption.clone(),
            };
            if changes.is_empty() {
                if !caption.is_empty() {
                    ui.label(caption);
                }
            } else {
                ui.colored_label(
                    ui.visuals().warn_fg_color,
                    format!("modified: {}", changes.join(", ")),
                );
                if !caption.is_empty() {
                    ui.label(
                        egui::RichText::new(format!("(the preset's caption: {caption})"))
                            .italics()
                            .weak(),
                    );
                }
            }
        });
        self.notices_ui(ui);
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use neqlab::dynamics::Algorithm;

    use super::*;

    fn bowl() -> Preset {
        let text = neqlab::preset::shipped("bowl-current").expect("shipped");
        Preset::from_toml(text, Path::new("bowl-current")).expect("parses")
    }

    #[test]
    fn lists_what_departs_from_the_preset_in_the_controls_words() {
        let original = bowl();
        assert!(modifications(&original, &original).is_empty());
        let mut edited = original.clone();
        edited.dynamics.algorithm = Algorithm::Sgworld;
        edited.dynamics.temperature = 1.0;
        edited.view.arrows = !edited.view.arrows;
        assert_eq!(modifications(&original, &edited), vec!["SGWORLD", "T = 1"]);
        edited.dynamics.eta = 0.031_622_776_601_683_79;
        assert!(modifications(&original, &edited).contains(&"η = 0.03162".to_string()));
    }

    #[test]
    fn numbers_read_short() {
        assert_eq!(format_value(1.0), "1");
        assert_eq!(format_value(0.05), "0.05");
        assert_eq!(format_value(1.584893192461), "1.585");
        assert_eq!(format_value(2.5e-5), "2.5e-5");
        assert_eq!(format_value(20000.0), "20000");
    }
}
