//! Tick labels as egui_plot really paints them: one plot with [`super::readable_axes`] in a
//! test window, the painted texts read back from the frame's shapes. The widths are those of
//! the app's plots at 1280×720 (a time series about 290 points wide, a 2-D view about 190,
//! a fluctuation-theorem plot down to about 50), the ranges those that went wrong in
//! screenshots: a step axis past 10 000 ("500010000"), an axis ±0.12 that lost its negative
//! labels.

use std::cell::Cell;
use std::rc::Rc;

use egui::{Rect, Shape, Vec2};
use egui_kittest::Harness;
use egui_plot::Plot;

/// A painted tick label: its value, its text, where it is.
#[derive(Debug, Clone)]
struct Label {
    value: f64,
    text: String,
    rect: Rect,
}

/// The plot's frame and the numbers painted below it (x) and left of it (y).
struct Rendered {
    frame: Rect,
    x: Vec<Label>,
    y: Vec<Label>,
}

fn collect(shape: &Shape, out: &mut Vec<(String, Rect)>) {
    match shape {
        Shape::Vec(shapes) => shapes.iter().for_each(|s| collect(s, out)),
        Shape::Text(text) if text.angle == 0.0 => {
            let words: String = text.galley.text().trim().to_string();
            out.push((words, text.visual_bounding_rect()));
        }
        _ => {}
    }
}

/// One plot `width` × `height` points (axes included) showing exactly `x` × `y`, at
/// `pixels_per_point`.
fn render(
    width: f32,
    height: f32,
    x: (f64, f64),
    y: (f64, f64),
    pixels_per_point: f32,
) -> Rendered {
    let frame = Rc::new(Cell::new(Rect::NOTHING));
    let seen = Rc::clone(&frame);
    let mut harness = Harness::builder()
        .with_size(Vec2::new(width + 40.0, height + 40.0))
        .with_pixels_per_point(pixels_per_point)
        .build_ui(move |ui| {
            let plot = super::readable_axes(ui, Plot::new("ticks"), "x", "y")
                .width(width)
                .height(height)
                .set_margin_fraction(Vec2::ZERO)
                .allow_drag(false)
                .allow_zoom(false)
                .allow_scroll(false)
                .include_x(x.0)
                .include_x(x.1)
                .include_y(y.0)
                .include_y(y.1);
            let response = plot.show(ui, |plot_ui| {
                plot_ui.line(egui_plot::Line::new("line", vec![[x.0, y.0], [x.1, y.1]]));
            });
            seen.set(*response.transform.frame());
        });
    harness.run_steps(3);
    let frame = frame.get();
    let mut texts = Vec::new();
    for clipped in &harness.output().shapes {
        collect(&clipped.shape, &mut texts);
    }
    let numbers = texts.into_iter().filter_map(|(text, rect)| {
        let value = text.replace('−', "-").parse::<f64>().ok()?;
        Some(Label { value, text, rect })
    });
    let (mut xs, mut ys): (Vec<Label>, Vec<Label>) = (Vec::new(), Vec::new());
    for label in numbers {
        if label.rect.center().y > frame.bottom() {
            xs.push(label);
        } else if label.rect.center().x < frame.left() {
            ys.push(label);
        }
    }
    xs.sort_by(|a, b| a.rect.center().x.total_cmp(&b.rect.center().x));
    ys.sort_by(|a, b| b.rect.center().y.total_cmp(&a.rect.center().y));
    Rendered {
        frame,
        x: xs,
        y: ys,
    }
}

/// Neighbouring labels along an axis closer than `gap` points (or overlapping), as text.
fn crowded(labels: &[Label], along_x: bool, gap: f32) -> Vec<String> {
    labels
        .windows(2)
        .filter_map(|pair| {
            let (a, b) = (&pair[0], &pair[1]);
            let space = if along_x {
                b.rect.left() - a.rect.right()
            } else {
                a.rect.top() - b.rect.bottom()
            };
            (space < gap).then(|| format!("{:?} / {:?}: {space:.1} points apart", a.text, b.text))
        })
        .collect()
}

fn texts(labels: &[Label]) -> Vec<&str> {
    labels.iter().map(|l| l.text.as_str()).collect()
}

/// Every axis: at least two labels, none closer than 3 points to its neighbour, none past
/// the frame's ends by more than 3 points, and labels that tell their values apart.
fn check_axes(rendered: &Rendered, what: &str) {
    for (labels, along_x, name) in [(&rendered.x, true, "x"), (&rendered.y, false, "y")] {
        assert!(
            labels.len() >= 2,
            "{what}: the {name} axis shows {:?}",
            texts(labels)
        );
        let close = crowded(labels, along_x, 3.0);
        assert!(close.is_empty(), "{what}: {name} labels crowd: {close:?}");
        let mut values: Vec<f64> = labels.iter().map(|l| l.value).collect();
        values.dedup();
        assert_eq!(
            values.len(),
            labels.len(),
            "{what}: {name} labels repeat: {:?}",
            texts(labels)
        );
    }
    // A label may stand a fifth of the font size (2.6 points) past the frame's end.
    let frame = rendered.frame.expand(3.0);
    for label in &rendered.x {
        assert!(
            label.rect.left() >= frame.left() && label.rect.right() <= frame.right(),
            "{what}: x label {:?} at {:?} stands past the frame {frame:?}",
            label.text,
            label.rect
        );
    }
    for label in &rendered.y {
        assert!(
            label.rect.top() >= frame.top() && label.rect.bottom() <= frame.bottom(),
            "{what}: y label {:?} at {:?} stands past the frame {frame:?}",
            label.text,
            label.rect
        );
    }
}

#[test]
fn a_step_axis_past_ten_thousand_reads_cleanly() {
    // The entropy-production series at 1280×720: about 290 points wide, 60 high; the step
    // axis ran together as "500010000". Also at presentation size (zoom 1.35) and 1920.
    for (width, scale) in [(290.0, 1.0), (290.0, 1.35), (360.0, 1.0), (470.0, 1.0)] {
        for end in [10_400.0, 12_000.0, 14_234.0, 61_000.0, 123_456.0] {
            let rendered = render(width, 70.0, (-300.0, end), (0.052, 0.058), scale);
            check_axes(
                &rendered,
                &format!("0..{end} over {width} points at scale {scale}"),
            );
            // A step of 1, 2 or 5 × 10^k: the labels' values are evenly spaced.
            let steps: Vec<f64> = rendered
                .x
                .windows(2)
                .map(|p| p[1].value - p[0].value)
                .collect();
            assert!(
                steps.iter().all(|s| (s - steps[0]).abs() <= 1e-9 * end),
                "uneven labels {:?}",
                texts(&rendered.x)
            );
        }
    }
}

#[test]
fn negative_and_zero_ticks_are_labelled_like_the_others() {
    // The 2-D views: ±0.12 on plots 150 to 400 points wide (the frame about 45 less). A
    // label that egui_plot judged too wide for its step vanished on its own, and the wider
    // negative ones went first.
    for width in (150..=400).step_by(10) {
        let rendered = render(width as f32, 190.0, (-0.12, 0.12), (-0.2, 0.2), 1.0);
        let what = format!("±0.12 over {width} points");
        check_axes(&rendered, &what);
        for axis in [&rendered.x, &rendered.y] {
            let values: Vec<f64> = axis.iter().map(|l| l.value).collect();
            assert!(values.iter().any(|&v| v < 0.0), "{what}: {:?}", texts(axis));
            // From a 2-D view's width at 1280×720 on, zero is labelled too.
            assert!(
                width < 230 || values.contains(&0.0),
                "{what}: {:?}",
                texts(axis)
            );
            // Symmetric range, symmetric labels: every positive label has its negative.
            for v in values.iter().filter(|&&v| v > 0.0) {
                assert!(
                    values.iter().any(|w| (w + v).abs() < 1e-12),
                    "{what}: {v} without {}: {:?}",
                    -v,
                    texts(axis)
                );
            }
        }
    }
}

#[test]
fn narrow_fluctuation_plots_keep_two_labels_on_each_axis() {
    // The three fluctuation-theorem plots at 1280×720 are about 100 points wide, axes
    // included: P(Σ) symmetric about 0, ln P(Σ)/P(−Σ) against Σ, <exp(−Σ)> against k.
    let ranges = [
        ((-2.6, 2.6), (0.0, 2.3)),
        ((-3.1, 3.1), (-3.2, 3.2)),
        ((0.5, 5.5), (0.9, 1.1)),
        ((-12.0, 12.0), (0.0, 0.14)),
    ];
    for width in [100.0, 110.0, 120.0, 150.0] {
        for (x, y) in ranges {
            let rendered = render(width, 130.0, x, y, 1.0);
            check_axes(&rendered, &format!("{x:?} × {y:?} over {width} points"));
        }
    }
}
