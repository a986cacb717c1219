//! The menu bar, the caption line with notices, and the keys: what the person asks of the app
//! besides the controls.

use std::path::PathBuf;

use egui::{Key, ViewportCommand};
use neqlab::preset::{self, Preset};

use super::export_menu::ExportKind;
use super::{NeqlabApp, Tab};

impl NeqlabApp {
    pub(super) fn keyboard(&mut self, ctx: &egui::Context) {
        if ctx.text_edit_focused() {
            return;
        }
        let (space, r, up, down, f11) = ctx.input(|i| {
            (
                i.key_pressed(Key::Space),
                i.key_pressed(Key::R),
                i.key_pressed(Key::ArrowUp) || i.key_pressed(Key::ArrowRight),
                i.key_pressed(Key::ArrowDown) || i.key_pressed(Key::ArrowLeft),
                i.key_pressed(Key::F11),
            )
        });
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

    fn set_presentation(&mut self, ctx: &egui::Context, on: bool) {
        self.presentation = on;
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
            ui.menu_button("Presets", |ui| {
                for (name, text) in preset::SHIPPED {
                    let label = PathBuf::from(format!("presets/{name}.toml"));
                    let title = Preset::from_toml(text, &label)
                        .map(|p| p.title)
                        .unwrap_or_default();
                    if ui.button(format!("{name} — {title}")).clicked() {
                        match Preset::from_toml(text, &label) {
                            Ok(p) => self.load_preset(&ctx, p, label),
                            Err(e) => self.notify(e.to_string(), true),
                        }
                        ui.close();
                    }
                }
                ui.separator();
                if ui.button("Open preset…").clicked() {
                    ui.close();
                    if let Some(path) = rfd::FileDialog::new()
                        .add_filter("preset", &["toml"])
                        .pick_file()
                    {
                        self.open_preset_file(&ctx, &path);
                    }
                }
                if ui.button("Save preset…").clicked() {
                    ui.close();
                    if let Some((path, kind)) = self.export_menu.pick(ExportKind::Preset) {
                        self.export_to(&path, kind);
                    }
                }
            });
            ui.menu_button("Export", |ui| {
                if let Some((path, kind)) = self.export_menu.menu_ui(ui) {
                    self.export_to(&path, kind);
                }
            });
            ui.menu_button("View", |ui| {
                let mut on = self.presentation;
                if ui.checkbox(&mut on, "Presentation mode (F11)").clicked() {
                    self.set_presentation(&ctx, on);
                }
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
            ui.label(
                egui::RichText::new(
                    "Space: play/pause   R: reset   arrow keys: η   F11: presentation",
                )
                .weak(),
            );
        });
    }

    pub(super) fn caption_ui(&mut self, ui: &mut egui::Ui) {
        ui.horizontal_wrapped(|ui| {
            ui.heading(&self.preset.title);
            if !self.preset.caption.is_empty() {
                ui.label(&self.preset.caption);
            }
        });
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
    }
}
