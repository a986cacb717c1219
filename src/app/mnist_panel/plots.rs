//! The MNIST tab's plots: loss and accuracy over the epochs, the test digits with their
//! predicted labels, and the fluctuation theorems of each stationary run.

use egui::{Color32, RichText};
use egui_plot::{HLine, Legend, Line, MarkerShape, Plot, Points};
use neqlab::mnist::{DataSet, EntropyAnalysis, MnistReport, Phase, Progress, StationaryReport};

/// Test digits shown in the gallery (8 × 4).
const GALLERY_COLUMNS: usize = 8;
const GALLERY_ROWS: usize = 4;

/// Loss and accuracies over the epochs of the main run (every phase, in order).
pub(super) fn curves_ui(
    ui: &mut egui::Ui,
    history: &[Progress],
    report: Option<&MnistReport>,
    epochs: usize,
    height: f32,
) {
    let main = report
        .map(|r| r.replacement)
        .or_else(|| history.first().map(|p| p.replacement));
    let points: Vec<&Progress> = history
        .iter()
        .filter(|p| Some(p.replacement) == main || p.phase == Phase::Training)
        .collect();
    let series = |f: &dyn Fn(&Progress) -> f64| -> Vec<[f64; 2]> {
        points
            .iter()
            .enumerate()
            .map(|(i, p)| [(i + 1) as f64, f(p)])
            .collect()
    };
    // Whole epochs only, over the run's length.
    let epoch_axis = |mark: egui_plot::GridMark, _: &std::ops::RangeInclusive<f64>| {
        if mark.value >= 0.0 && (mark.value - mark.value.round()).abs() < 1e-9 {
            format!("{}", mark.value.round() as i64)
        } else {
            String::new()
        }
    };
    let last_epoch = epochs.max(points.len()).max(1) as f64;
    // Before the first epoch: a loss axis up to 1 and an accuracy axis from 0 to 100%.
    let (loss_top, accuracy_bottom) = if points.is_empty() {
        (1.0, 0.0)
    } else {
        (0.0, 100.0)
    };
    ui.label(RichText::new("Loss (mean cross-entropy per example) over epochs").strong());
    Plot::new("mnist-loss")
        .height(height)
        .x_axis_label("epoch (training, then stationary)")
        .x_axis_formatter(epoch_axis)
        .include_x(0.0)
        .include_x(last_epoch)
        .allow_scroll(false)
        .include_y(0.0)
        .include_y(loss_top)
        .show(ui, |plot_ui| {
            plot_ui.line(
                Line::new("loss", series(&|p| p.loss)).color(Color32::from_rgb(255, 170, 60)),
            );
        });
    ui.label(RichText::new("Accuracy over epochs (%)").strong());
    Plot::new("mnist-accuracy")
        .height(height)
        .x_axis_label("epoch (training, then stationary)")
        .x_axis_formatter(epoch_axis)
        .include_x(0.0)
        .include_x(last_epoch)
        .allow_scroll(false)
        .include_y(100.0)
        .include_y(accuracy_bottom)
        .legend(Legend::default().position(egui_plot::Corner::RightBottom))
        .show(ui, |plot_ui| {
            plot_ui.line(
                Line::new("train", series(&|p| 100.0 * p.train_accuracy))
                    .color(Color32::from_rgb(90, 160, 255)),
            );
            plot_ui.line(
                Line::new("test", series(&|p| 100.0 * p.test_accuracy))
                    .color(Color32::from_rgb(90, 200, 120)),
            );
        });
}

/// Test digits with the predicted labels of the main run (green right, red wrong).
pub(super) fn gallery_ui(
    ui: &mut egui::Ui,
    gallery: &[egui::TextureHandle],
    data: Option<&DataSet>,
    report: Option<&MnistReport>,
) {
    ui.label(RichText::new("Test digits and predicted labels").strong());
    let predictions = report
        .and_then(|r| r.stationary.first())
        .map(|s| s.test_predictions.as_slice())
        .unwrap_or(&[]);
    let labels = data.map(|d| d.test.labels.as_slice());
    if gallery.is_empty() {
        ui.label(RichText::new("(the digits appear once a run starts)").weak());
        return;
    }
    egui::Grid::new("mnist-gallery")
        .spacing([6.0, 6.0])
        .show(ui, |ui| {
            for (i, texture) in gallery.iter().enumerate() {
                ui.vertical(|ui| {
                    ui.add(egui::Image::new(texture).fit_to_exact_size(egui::vec2(44.0, 44.0)));
                    let truth = labels.and_then(|l| l.get(i)).copied();
                    match (predictions.get(i), truth) {
                        (Some(&p), Some(t)) => {
                            let colour = if p == t {
                                Color32::from_rgb(90, 200, 120)
                            } else {
                                Color32::from_rgb(255, 90, 90)
                            };
                            ui.colored_label(colour, RichText::new(format!("{p}")).strong())
                                .on_hover_text(format!("true label {t}"));
                        }
                        _ => {
                            ui.label(RichText::new("?").weak());
                        }
                    }
                });
                if (i + 1) % GALLERY_COLUMNS == 0 {
                    ui.end_row();
                }
            }
        });
}

/// ⟨exp(−Σ_k)⟩ against k, the DFT slope and ⟨σ⟩, one column per replacement scheme.
pub(super) fn theorems_ui(ui: &mut egui::Ui, report: Option<&MnistReport>) {
    ui.label(
        RichText::new("Fluctuation theorems in the plane of the leading fluctuations").strong(),
    );
    let Some(report) = report else {
        ui.label(
            RichText::new("(after a run: <exp(−Σ)> for k = 1..5, the DFT slope and the entropy production, with and without replacement)")
                .weak(),
        );
        return;
    };
    let runs = &report.stationary;
    ui.columns(runs.len().max(1), |columns| {
        for (column, run) in columns.iter_mut().zip(runs) {
            stationary_ui(column, run, report.projection_dim);
        }
    });
}

fn stationary_ui(ui: &mut egui::Ui, run: &StationaryReport, projection_dim: usize) {
    let a = &run.analysis;
    let scheme = match run.replacement {
        neqlab::dynamics::Replacement::Wr => "with replacement",
        neqlab::dynamics::Replacement::Wor => "without replacement",
    };
    ui.label(
        RichText::new(format!(
            "{} {scheme} (k = {projection_dim} directions, time unit: {})",
            run.algorithm.name().to_uppercase(),
            run.time_unit
        ))
        .strong(),
    );
    ui.label(format!(
        "<σ> = {:.3e} ± {:.1e} per {} (formula −tr(C D^-1 C Σ^-1): {:.3e})",
        a.ep_rate, a.ep_rate_stderr, run.time_unit, a.ep_rate_formula
    ));
    let slope = if a.dft_slope.is_finite() {
        format!("{:.2} ± {:.2} (theory 1)", a.dft_slope, a.dft_slope_stderr)
    } else {
        "— (too few samples)".into()
    };
    ui.label(format!(
        "DFT slope of ln P(Σ)/P(−Σ) at k = {}: {slope}",
        a.dft_k
    ));
    ui.label(format!(
        "test accuracy {:.1}% (mean of the stationary weights {:.1}%) · {} recorded {}s",
        100.0 * run.test_accuracy,
        100.0 * run.averaged_test_accuracy,
        run.recorded_units,
        run.time_unit
    ));
    let orange = Color32::from_rgb(255, 160, 60);
    let mut series = vec![(
        run.time_unit.to_string(),
        a,
        Color32::from_rgb(90, 160, 255),
    )];
    if let Some(every) = &run.analysis_per_step {
        ui.label(
            RichText::new(format!(
                "every step ({} records; not a Markov chain at this resolution): <σ> = {:.3e} ± {:.1e} per step, DFT slope {:.2} ± {:.2}",
                every.samples, every.ep_rate, every.ep_rate_stderr, every.dft_slope, every.dft_slope_stderr
            ))
            .color(orange),
        );
        series.push(("every step".to_owned(), every, orange));
    }
    ift_plot_ui(
        ui,
        &format!("mnist-ift-{}", run.replacement.name()),
        &series,
    );
}

/// `⟨exp(−Σ_k)⟩` against `k` for each `(name, analysis, colour)`, with the line at 1.
///
/// Points carried by a handful of windows are not measurements: they are drawn hollow and
/// grey, pinned to the edge when off scale, so they cannot squash the measured ones; a note
/// under the plot gives their values.
fn ift_plot_ui(ui: &mut egui::Ui, id: &str, series: &[(String, &EntropyAnalysis, Color32)]) {
    let grey = Color32::from_gray(140);
    let (low, high) = (0.0, 2.0);
    let longest = series
        .iter()
        .map(|(_, a, _)| a.ift.len())
        .max()
        .unwrap_or(0);
    Plot::new(id)
        .height(180.0)
        .x_axis_label("trajectory length k")
        .y_axis_label("<exp(−Σ_k)>")
        .allow_scroll(false)
        .legend(Legend::default())
        .include_x(0.5)
        .include_x(longest as f64 + 0.5)
        .include_y(0.9)
        .include_y(1.1)
        .show(ui, |plot_ui| {
            plot_ui.hline(HLine::new("1", 1.0).color(Color32::from_rgb(255, 90, 90)));
            let (mut rough, mut above, mut below) = (Vec::new(), Vec::new(), Vec::new());
            for (offset, (name, a, colour)) in series.iter().enumerate() {
                // Side by side when two series share a k.
                let shift = 0.08 * offset as f64;
                let mut measured = Vec::new();
                for (k, (&m, &e)) in a.ift.iter().zip(&a.ift_stderr).enumerate() {
                    let x = (k + 1) as f64 + shift;
                    if !m.is_finite() {
                        continue;
                    }
                    if !a.ift_measured(k + 1) {
                        match m {
                            m if m > high => above.push([x, high]),
                            m if m < low => below.push([x, low]),
                            m => rough.push([x, m]),
                        }
                        continue;
                    }
                    if e.is_finite() {
                        let bar = vec![[x, (m - e).max(low)], [x, (m + e).min(high)]];
                        plot_ui.line(Line::new(name.clone(), bar).color(*colour).width(1.5));
                    }
                    measured.push([x, m.clamp(low, high)]);
                }
                plot_ui.points(
                    Points::new(name.clone(), measured)
                        .radius(4.0)
                        .color(*colour),
                );
            }
            let hollow = |points: Vec<[f64; 2]>, shape| {
                Points::new("not a measurement", points)
                    .shape(shape)
                    .filled(false)
                    .radius(5.0)
                    .color(grey)
            };
            plot_ui.points(hollow(rough, MarkerShape::Circle));
            plot_ui.points(hollow(above, MarkerShape::Up));
            plot_ui.points(hollow(below, MarkerShape::Down));
        });
    let notes: Vec<String> = series
        .iter()
        .flat_map(|(name, a, _)| {
            (1..=a.ift.len())
                .filter(|&k| !a.ift_measured(k))
                .map(move |k| {
                    let value = a.ift[k - 1];
                    let value = if (0.01..100.0).contains(&value.abs()) {
                        format!("{value:.3}")
                    } else {
                        format!("{value:.2e}")
                    };
                    format!(
                        "{name}, k = {k}: {value} from {:.1} effective windows",
                        a.ift_effective[k - 1]
                    )
                })
        })
        .collect();
    if !notes.is_empty() {
        ui.label(
            RichText::new(format!(
                "Grey: not a measurement (fewer than {} effective windows; a few rare windows with Σ < 0 decide the mean). {}.",
                neqlab::mnist::analysis::IFT_MIN_EFFECTIVE,
                notes.join("; ")
            ))
            .small()
            .color(grey),
        );
    }
}

/// Grey textures of the first test digits (white on black, nearest-neighbour scaling).
pub(super) fn gallery_textures(ctx: &egui::Context, data: &DataSet) -> Vec<egui::TextureHandle> {
    let test = &data.test;
    (0..(GALLERY_COLUMNS * GALLERY_ROWS).min(test.len()))
        .map(|i| {
            let image = egui::ColorImage::from_gray([test.cols, test.rows], test.image(i));
            ctx.load_texture(
                format!("mnist-digit-{i}"),
                image,
                egui::TextureOptions::NEAREST,
            )
        })
        .collect()
}
