//! The window: what the app opens on, opening it, fitting it to the monitor, and the frame
//! log that measures it (docs/theory.md §11.4 uses the log).

use std::io::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use egui::ViewportCommand;
use neqlab::preset::{self, Preset};

use super::{Backend, DEFAULT_PRESET, NeqlabApp};

/// Frames at start-up in which the window is fitted to the monitor ([`NeqlabApp::fit_window`]).
pub(super) const FIT_FRAMES: u32 = 120;

/// What the app opens on: the preset (with any `--set` overrides applied), the preset as
/// shipped or read (the honest caption compares with it), and whether the lecture starts.
pub struct Opening {
    pub preset: Preset,
    pub original: Preset,
    pub path: PathBuf,
    pub lecture: bool,
    pub presentation: bool,
}

impl Opening {
    /// The default preset, as shipped.
    pub fn default_preset() -> anyhow::Result<Self> {
        let (preset, path) = load_named(DEFAULT_PRESET)?;
        Ok(Self {
            original: preset.clone(),
            preset,
            path,
            lecture: false,
            presentation: false,
        })
    }
}

/// Open the app.
pub fn run(opening: Opening) -> anyhow::Result<()> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title(window_title(&opening.preset.title))
            .with_inner_size([1600.0, 1000.0])
            .with_maximized(true)
            .with_min_inner_size([900.0, 600.0]),
        renderer: eframe::Renderer::Glow,
        // Dithering costs a noise evaluation per pixel; a software rasteriser (a projector
        // laptop without a GPU driver, a VM) spends most of a frame in the fragment shader.
        dithering: false,
        ..Default::default()
    };
    eframe::run_native(
        "neqlab",
        options,
        Box::new(move |cc| {
            let Opening {
                preset,
                original,
                path,
                lecture,
                presentation,
            } = opening;
            let mut app = NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Threaded)?;
            app.original = original;
            if lecture {
                let index = app.lecture.index_of(&app.preset_path).unwrap_or(0);
                let edited = app.preset.clone();
                app.go_to_slide(&cc.egui_ctx, index);
                // The overrides of the command line apply to the slide it opens on.
                if app
                    .lecture
                    .current()
                    .is_some_and(|s| s.path() == app.preset_path)
                {
                    app.apply_edit(edited);
                }
            }
            if presentation {
                app.set_presentation(&cc.egui_ctx, true);
            }
            Ok(Box::new(app) as Box<dyn eframe::App>)
        }),
    )
    .map_err(|e| anyhow::anyhow!("cannot open the window: {e}"))
}

/// A preset by file path or shipped name, with the path that labels it.
pub fn load_named(name: &str) -> anyhow::Result<(Preset, PathBuf)> {
    let (text, label) = preset::read_named(name)?;
    Ok((Preset::from_toml(&text, &label)?, label))
}

pub(super) fn window_title(title: &str) -> String {
    format!("neqlab — {title}")
}

/// Frame timings written when `NEQLAB_FRAME_LOG` names a file: one line per frame,
/// `interval_ms ui_ms previous_frame_cpu_ms playing solving mnist_running`. The app keeps its
/// usual pacing (a redraw per snapshot while playing, about 30 a second), so the simulation
/// gets what it would get without the log, and an interval above the pacing means a frame took
/// longer to draw. With `NEQLAB_FRAME_LOG_CONTINUOUS=1` it repaints continuously instead, and
/// the interval measures how fast frames can be drawn (at the simulation's expense).
pub(super) struct FrameLog {
    file: std::io::BufWriter<std::fs::File>,
    last: Option<Instant>,
    lines: u64,
    continuous: bool,
}

impl FrameLog {
    /// The log `NEQLAB_FRAME_LOG` names, if it names one that can be created.
    pub(super) fn from_env() -> Option<Self> {
        std::env::var_os("NEQLAB_FRAME_LOG").and_then(|path| {
            std::fs::File::create(&path).ok().map(|f| Self {
                file: std::io::BufWriter::new(f),
                last: None,
                lines: 0,
                continuous: std::env::var_os("NEQLAB_FRAME_LOG_CONTINUOUS").is_some(),
            })
        })
    }

    /// Write what is buffered (at exit).
    pub(super) fn flush(&mut self) {
        let _ = self.file.flush();
    }
}

impl NeqlabApp {
    /// Size the window to the monitor once it is known. A window larger than the monitor in
    /// the first [`FIT_FRAMES`] frames is fitted again: with `--presentation` the first fit
    /// can run before the zoom takes effect, and the window then spills off the screen.
    pub(super) fn fit_window(&mut self, ctx: &egui::Context) {
        if self.fit_frames >= FIT_FRAMES {
            return;
        }
        let (monitor, inner, maximized) = ctx.input(|i| {
            let v = i.viewport();
            (v.monitor_size, v.inner_rect, v.maximized)
        });
        let (Some(monitor), Some(inner)) = (monitor, inner) else {
            return;
        };
        self.fit_frames += 1;
        let too_large = inner.width() > monitor.x * 1.01 || inner.height() > monitor.y * 1.01;
        let too_small =
            self.fit_frames == 1 && maximized != Some(true) && inner.width() < monitor.x * 0.9;
        if too_large || too_small {
            ctx.send_viewport_cmd(ViewportCommand::OuterPosition(egui::Pos2::ZERO));
            ctx.send_viewport_cmd(ViewportCommand::InnerSize(monitor));
        }
    }

    /// One line of the frame log, if there is one.
    pub(super) fn log_frame(
        &mut self,
        ctx: &egui::Context,
        started: Instant,
        previous_cpu: Option<f32>,
    ) {
        let playing = self.playing;
        let solving = self.solving.is_some();
        let training = self.mnist.is_running();
        if let Some(log) = &mut self.frame_log {
            if log.continuous {
                ctx.request_repaint();
            }
            let interval = log
                .last
                .map(|l| started.duration_since(l).as_secs_f64() * 1e3)
                .unwrap_or(0.0);
            log.last = Some(started);
            let _ = writeln!(
                log.file,
                "{interval:.3} {:.3} {:.3} {} {} {}",
                started.elapsed().as_secs_f64() * 1e3,
                previous_cpu.unwrap_or(0.0) * 1e3,
                u8::from(playing),
                u8::from(solving),
                u8::from(training)
            );
            log.lines += 1;
            if log.lines.is_multiple_of(60) {
                let _ = log.file.flush();
            }
        }
    }
}
