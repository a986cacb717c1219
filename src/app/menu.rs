//! The menu bar, the caption line with notices, and the keys: what the person asks of the app
//! besides the controls.

use std::path::PathBuf;

use egui::{Key, Modifiers, ViewportCommand};
use neqlab::preset::{self, Preset};

use super::dialogs::{DialogKind, DialogRequest};
use super::export_menu::ExportKind;
use super::lecture_mode::SlideContent;
use super::{AppDialog, NeqlabApp, Tab};

/// The keys, as the menu bar shows them.
pub const KEY_HINT: &str =
    "Space: play/pause   R: reset   arrows: η   PageDown/PageUp: slides   F11: presentation";

impl NeqlabApp {
    pub(super) fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.text_edit_focused() || self.dialogs.is_open() {
            return;
        }
        // The lecture's keys are taken before any scroll area sees them.
        let (next, previous) = ctx.input_mut(|i| {
            (
                i.consume_key(Modifiers::NONE, Key::PageDown),
                i.consume_key(Modifiers::NONE, Key::PageUp),
            )
        });
        let (space, r, up, down, f11) = ctx.input(|i| {
            (
                i.key_pressed(Key::Space),
                i.key_pressed(Key::R),
                i.key_pressed(Key::ArrowUp) || i.key_pressed(Key::ArrowRight),
                i.key_pressed(Key::ArrowDown) || i.key_pressed(Key::ArrowLeft),
                i.key_pressed(Key::F11),
            )
        });
        if next || previous {
            let offset = if next { 1 } else { -1 };
            if let Some(index) = self.lecture.target(offset, &self.preset_path) {
                self.go_to_slide(ctx, index);
            }
        }
        if space {
            self.set_playing(!self.playing);
        }
        if r {
            self.reset();
        }
        if up || down {
            let mut edited = self.preset.clone();
            let factor = 10f64.powf(0.1);
            edited.dynamics.eta *= if up { factor } else { 1.0 / factor };
            self.apply_edit(edited);
        }
        if f11 {
            self.set_presentation(ctx, !self.presentation);
        }
    }

    pub(super) fn set_presentation(&mut self, ctx: &egui::Context, on: bool) {
        self.presentation = on;
        // The audience sees the views; the presenter steps with the keys.
        self.show_controls = !on;
        ctx.set_zoom_factor(if on { 1.35 } else { 1.0 });
        ctx.set_theme(if on {
            egui::Theme::Light
        } else {
            egui::Theme::Dark
        });
        ctx.send_viewport_cmd(ViewportCommand::Fullscreen(on));
    }

    pub(super) fn menu_ui(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("Presets", |ui| self.presets_menu_ui(ui, &ctx));
            ui.menu_button("Lecture", |ui| self.lecture_menu_ui(ui, &ctx));
            ui.menu_button("Export", |ui| {
                if let Some(kind) = self.export_menu.menu_ui(ui) {
                    self.request_dialog(&ctx, kind.dialog(), AppDialog::Export);
                }
            });
            ui.menu_button("View", |ui| {
                let mut on = self.presentation;
                if ui.checkbox(&mut on, "Presentation mode (F11)").clicked() {
                    self.set_presentation(&ctx, on);
                }
                ui.checkbox(&mut self.show_controls, "Controls panel");
                let mut edited = self.preset.clone();
                ui.checkbox(&mut edited.view.arrows, "Current arrows");
                ui.checkbox(&mut edited.view.show_walkers, "Walkers");
                self.apply_edit(edited);
                ui.horizontal(|ui| {
                    ui.label("Arrow magnification");
                    for gain in [1.0, 3.0, 10.0, 30.0] {
                        ui.selectable_value(&mut self.arrow_gain, gain, format!("×{gain}"));
                    }
                });
            });
            ui.separator();
            ui.selectable_value(&mut self.tab, Tab::StationaryState, "Stationary state");
            ui.selectable_value(&mut self.tab, Tab::Posterior, "Posterior");
            ui.selectable_value(&mut self.tab, Tab::Mnist, "MNIST");
            ui.selectable_value(&mut self.tab, Tab::Network, "Network");
            ui.selectable_value(&mut self.tab, Tab::Map, "Map");
            ui.separator();
            // The whole hint where it fits, else a short label that shows it on hover.
            let hint = egui::RichText::new(KEY_HINT).weak();
            let width = egui::WidgetText::from(hint.clone())
                .into_galley(
                    ui,
                    Some(egui::TextWrapMode::Extend),
                    f32::INFINITY,
                    egui::TextStyle::Body,
                )
                .size()
                .x;
            if ui.available_width() >= width {
                ui.label(hint);
            } else {
                ui.label(egui::RichText::new("Keys…").weak())
                    .on_hover_text(KEY_HINT);
            }
        });
    }

    /// The shipped presets, the lecture's first and in its order, then open and save.
    fn presets_menu_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        let slides = self.lecture.slides.clone();
        for (number, slide) in slides.iter().enumerate() {
            let label = format!("{}. {} — {}", number + 1, slide.step.preset, slide.title);
            if ui.button(label).clicked() {
                ui.close();
                self.lecture.active = false;
                match &slide.content {
                    SlideContent::Landscape(preset) => {
                        self.load_preset(ctx, (**preset).clone(), slide.path());
                    }
                    SlideContent::Mnist => {
                        self.tab = Tab::Mnist;
                        self.set_title(ctx, slide.title.clone());
                    }
                }
            }
        }
        let others: Vec<&(&str, &str)> = preset::SHIPPED
            .iter()
            .filter(|(name, _)| !slides.iter().any(|s| s.step.preset == *name))
            .collect();
        if !others.is_empty() {
            ui.separator();
        }
        for (name, text) in others {
            let label = PathBuf::from(format!("presets/{name}.toml"));
            let title = Preset::from_toml(text, &label)
                .map(|p| p.title)
                .unwrap_or_default();
            if ui.button(format!("{name} — {title}")).clicked() {
                ui.close();
                self.lecture.active = false;
                match Preset::from_toml(text, &label) {
                    Ok(p) => self.load_preset(ctx, p, label),
                    Err(e) => self.notify(e.to_string(), true),
                }
            }
        }
        ui.separator();
        if ui.button("Open preset…").clicked() {
            ui.close();
            let request = DialogRequest {
                purpose: (),
                kind: DialogKind::OpenFile,
                filter: ("preset", &["toml"]),
                file_name: None,
            };
            self.request_dialog(ctx, request, |()| AppDialog::OpenPreset);
        }
        if ui.button("Save preset…").clicked() {
            ui.close();
            let request = ExportKind::Preset.dialog();
            self.request_dialog(ctx, request, AppDialog::Export);
        }
    }

    /// Start or stop the lecture, step, or jump to a slide.
    fn lecture_menu_ui(&mut self, ui: &mut egui::Ui, ctx: &egui::Context) {
        if self.lecture.active {
            if ui.button("Stop lecture").clicked() {
                ui.close();
                self.lecture.active = false;
            }
        } else if ui.button("Start lecture (PageDown)").clicked() {
            ui.close();
            self.go_to_slide(ctx, 0);
        }
        let slides: Vec<(String, usize)> = self
            .lecture
            .slides
            .iter()
            .enumerate()
            .map(|(k, slide)| (format!("{}. {}", k + 1, slide.step.lesson), k))
            .collect();
        ui.separator();
        for (label, index) in slides {
            let current = self.lecture.active && self.lecture.index == index;
            if ui.selectable_label(current, label).clicked() {
                ui.close();
                self.go_to_slide(ctx, index);
            }
        }
        ui.separator();
        ui.label(egui::RichText::new("PageDown: next slide   PageUp: previous").weak());
    }

    /// The notices, the configuration error and the worker's message.
    pub(super) fn notices_ui(&mut self, ui: &mut egui::Ui) {
        let mut dismissed = None;
        for (k, notice) in self.notices.iter().enumerate() {
            ui.horizontal(|ui| {
                let colour = if notice.is_error {
                    ui.visuals().error_fg_color
                } else {
                    ui.visuals().weak_text_color()
                };
                ui.colored_label(colour, &notice.text);
                if ui.small_button("x").clicked() {
                    dismissed = Some(k);
                }
            });
        }
        if let Some(k) = dismissed {
            self.notices.remove(k);
        }
        if let Some(error) = &self.config_error {
            ui.colored_label(
                ui.visuals().error_fg_color,
                format!("These settings cannot run (the last good ones keep running): {error}"),
            );
        }
        if let Some(message) = self.snapshot.as_ref().and_then(|s| s.message.clone()) {
            ui.colored_label(ui.visuals().warn_fg_color, message);
        }
        super::divergence_view::ui(ui, self.snapshot.as_deref());
    }
}
