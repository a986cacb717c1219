//! Tick marks and labels of the app's plot axes, spaced for the width of their labels.
//!
//! egui_plot paints a tick label where the step of its mark spans at least as many points as
//! that one label is wide: labels of one step but unequal widths then vanish one by one (−0.05
//! beside 0.05), or neighbours of equal step touch ("500010000"). Here the spacer chooses the
//! labelled ticks itself. It lays every candidate label out in the font the axis paints with,
//! and takes the smallest step of 1, 2 or 5 × 10^k at which the widest label of the axis fits
//! between its neighbours with a gap (on y also two lines apart where that still leaves two
//! labels), each label inside the plot's frame. Every other mark is handed to egui_plot with a
//! step too short to carry a label, so it stays a grid line. Where no such step leaves two
//! labels (a plot a few labels wide), the two outermost ticks of a step that fits them are
//! labelled instead. Labels are the shortest text that gives the
//! tick's value exactly, written by the one number formatter
//! (`neqlab::export::figure::format_significant`).

use std::ops::RangeInclusive;

use egui::{Color32, FontId};
use egui_plot::{GridInput, GridMark};
use neqlab::export::figure::format_significant;

/// Smallest spacing of grid lines in points, set on every plot with these axes: the spacer
/// reads the plot's scale from `GridInput::base_step_size`, which is this many points of value.
pub const GRID_SPACING_POINTS: f32 = 8.0;

/// egui_plot leaves a mark unlabelled when its step spans at most this many points; the
/// spacer gives unlabelled marks a step of at most this, and labelled ones more.
pub const UNLABELLED_POINTS: f32 = 10.0;

/// Which extent of a label counts along its axis: its width on x, its height on y.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Along {
    /// A horizontal axis: labels side by side.
    X,
    /// A vertical axis: labels stacked.
    Y,
}

/// The font an axis paints its labels in, and the context that lays them out.
#[derive(Clone)]
pub struct LabelFont {
    /// The context whose fonts lay the labels out (the plot's own).
    pub ctx: egui::Context,
    /// The font, also handed to egui_plot as the tick-label font.
    pub font: FontId,
    /// Which axis.
    pub along: Along,
}

impl LabelFont {
    fn layout(&self, text: &str) -> std::sync::Arc<egui::Galley> {
        self.ctx.fonts_mut(|fonts| {
            fonts.layout_no_wrap(text.to_owned(), self.font.clone(), Color32::WHITE)
        })
    }

    /// Extent of `text` along the axis in points: its width (what egui_plot compares with
    /// the step) on x, the height of its ink on y (a line's height has room above and below
    /// the digits).
    pub fn extent(&self, text: &str) -> f32 {
        let galley = self.layout(text);
        match self.along {
            Along::X => galley.size().x,
            Along::Y => galley.mesh_bounds.height(),
        }
    }

    /// Space kept between neighbouring labels' extents: about a space's width (a third of
    /// the font size) either way.
    pub fn gap_points(&self) -> f32 {
        0.35 * self.font.size
    }

    /// The shortest labelled step egui_plot paints on this axis: a line's height on y (it
    /// compares the step with the label's whole line), nothing more than the extent on x.
    pub fn least_step_points(&self) -> f32 {
        match self.along {
            Along::X => 0.0,
            Along::Y => self.layout("0").size().y,
        }
    }

    /// The distance preferred between labels: two lines on y, where a label every line
    /// reads as a column of numbers; on x the labels' widths space them.
    pub fn comfortable_step_points(&self) -> f32 {
        2.0 * self.least_step_points()
    }

    /// The grid marks of an axis for egui_plot (see [`axis_marks`]).
    pub fn marks(&self, input: GridInput) -> Vec<GridMark> {
        let spacing = Spacing {
            gap_points: self.gap_points(),
            least_points: self.least_step_points(),
            comfortable_points: self.comfortable_step_points(),
            overhang_points: 0.2 * self.font.size,
        };
        axis_marks(input, &|text| self.extent(text), spacing)
    }
}

/// The label of a tick: the shortest decimal text that gives its value to a billionth of the
/// axis' span (0.05, −0.1, 1.0405, 12000), in scientific notation on an axis whose largest
/// magnitude is 10^5 or more or below 10^−2 (1.2e5, −2e-4); "0" for zero, never "−0".
/// Independent of the mark's step, so that labels read alike at any zoom.
pub fn tick_label(mark: GridMark, range: &RangeInclusive<f64>) -> String {
    let (low, high) = (*range.start(), *range.end());
    let span = (high - low).abs();
    let magnitude = low.abs().max(high.abs());
    let tolerance = if span.is_finite() && span > 0.0 {
        1e-9 * span
    } else {
        1e-12 * mark.value.abs()
    };
    if !mark.value.is_finite() || mark.value.abs() <= tolerance {
        return if mark.value.is_finite() {
            "0".into()
        } else {
            mark.value.to_string()
        };
    }
    let digits = significant_digits(mark.value, tolerance);
    let fixed = if (1e-2..1e5).contains(&magnitude) {
        0.0..f64::INFINITY
    } else {
        0.0..0.0
    };
    format_significant(mark.value, digits, digits, fixed)
}

/// The fewest significant digits (1 to 15) that give `value` to within `tolerance`.
fn significant_digits(value: f64, tolerance: f64) -> usize {
    let exponent = value.abs().log10().floor();
    (1..=15)
        .find(|&digits| {
            let quantum = 10f64.powf(exponent + 1.0 - digits as f64);
            let rounded = (value / quantum).round() * quantum;
            (value - rounded).abs() <= tolerance.max(1e-9 * quantum)
        })
        .unwrap_or(15)
}

/// The smallest step of the sequence 1, 2, 5, 10, 20, … (× 10^k) not below `step`.
pub fn nice_step(step: f64) -> f64 {
    let power = 10f64.powf(step.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|&s| s >= step * (1.0 - 1e-9))
        .unwrap_or(10.0 * power)
}

/// The step after `step` in the sequence 1, 2, 5, 10, … (× 10^k).
fn next_step(step: f64) -> f64 {
    nice_step(step * 1.5)
}

/// How far apart labels must be along an axis.
#[derive(Clone, Copy, Debug)]
pub struct Spacing {
    /// Points kept free between the extents of neighbouring labels.
    pub gap_points: f32,
    /// The least distance between labelled ticks in points, whatever the labels' extents.
    pub least_points: f32,
    /// The distance between labelled ticks preferred where the axis has room for two or
    /// more labels that far apart.
    pub comfortable_points: f32,
    /// How far a label may stand past the end of the axis, in points.
    pub overhang_points: f32,
}

/// One axis in points: its ends in value, its values per point, and its labels.
struct Axis<'a> {
    low: f64,
    high: f64,
    per_point: f64,
    extent: &'a dyn Fn(&str) -> f32,
    spacing: Spacing,
}

/// The ticks of one step that can carry a label, and the widest label's extent in points.
#[derive(Clone, Debug)]
struct Labels {
    values: Vec<f64>,
    widest: f32,
}

impl Axis<'_> {
    /// The multiples of `step` on the axis, snapped to exact zero.
    fn multiples(&self, step: f64) -> impl Iterator<Item = f64> + '_ {
        let first = (self.low / step - 1e-9).ceil() as i64;
        let last = (self.high / step + 1e-9).floor() as i64;
        (first..=last.min(first.saturating_add(10_000)))
            .map(move |k| if k == 0 { 0.0 } else { k as f64 * step })
    }

    /// The multiples of `step` that carry a label, each label given the extent of the
    /// widest of them (so that −0.1 and 0.1 are judged alike): those whose labels stand
    /// inside the frame, give or take the overhang. `None` as soon as a label is more than
    /// `room` points long.
    fn labels_at(&self, step: f64, room: f32) -> Option<Labels> {
        let range = self.low..=self.high;
        let values: Vec<f64> = self.multiples(step).collect();
        let mut widest: f32 = 0.0;
        for &value in &values {
            let mark = GridMark {
                value,
                step_size: step,
            };
            widest = widest.max((self.extent)(&tick_label(mark, &range)));
            if widest > room {
                return None;
            }
        }
        let half = f64::from(0.5 * widest - self.spacing.overhang_points) * self.per_point;
        let values = values
            .into_iter()
            .filter(|v| v - half >= self.low && v + half <= self.high)
            .collect();
        Some(Labels { values, widest })
    }

    fn points(&self, values: f64) -> f32 {
        (values / self.per_point) as f32
    }
}

/// The ticks chosen for labels and the step egui_plot is told they have.
struct Labelled {
    values: Vec<f64>,
    step_size: f64,
    /// Step of the unlabelled grid marks between them.
    fine: f64,
}

/// Grid marks for one axis: the labelled ticks spaced for their labels (see the module
/// documentation), unlabelled marks between them. `extent` gives a label's extent along the
/// axis in points, `spacing` how far apart they must be.
pub fn axis_marks(
    input: GridInput,
    extent: &dyn Fn(&str) -> f32,
    spacing: Spacing,
) -> Vec<GridMark> {
    let (low, high) = input.bounds;
    let per_point = input.base_step_size / f64::from(GRID_SPACING_POINTS);
    let usable = low.is_finite() && high.is_finite() && high > low;
    if !(usable && per_point.is_finite() && per_point > 0.0) {
        return Vec::new();
    }
    let axis = Axis {
        low,
        high,
        per_point,
        extent,
        spacing,
    };
    let Some(labelled) = choose_labels(&axis) else {
        return Vec::new();
    };
    // Unlabelled marks: a step short enough (a point under the threshold, against rounding)
    // that egui_plot never labels them.
    let hidden = labelled
        .fine
        .min(per_point * f64::from(UNLABELLED_POINTS - 1.0));
    let tolerance = 1e-6 * labelled.fine;
    let mut shown = labelled.values.iter().copied().peekable();
    let mut marks = Vec::new();
    for value in axis.multiples(labelled.fine) {
        // Labelled values are sorted multiples of the fine step: walk them alongside.
        while let Some(&next) = shown.peek() {
            if next < value - tolerance {
                marks.push(GridMark {
                    value: next,
                    step_size: labelled.step_size,
                });
                shown.next();
            } else {
                break;
            }
        }
        let on_label = shown
            .peek()
            .is_some_and(|&next| (next - value).abs() <= tolerance);
        if on_label {
            shown.next();
        }
        marks.push(GridMark {
            value,
            step_size: if on_label { labelled.step_size } else { hidden },
        });
    }
    marks.extend(shown.map(|value| GridMark {
        value,
        step_size: labelled.step_size,
    }));
    marks
}

/// Fifths of steps 1 and 5, quarters of 2: the fine marks fall on the labelled ones too.
fn fine_step(step: f64) -> f64 {
    let leading = (step / 10f64.powf(step.log10().floor())).round();
    step / if leading == 2.0 { 4.0 } else { 5.0 }
}

/// The 1-2-5 steps from `shortest` to the axis' span, finest first.
fn steps_from(shortest: f64, span: f64) -> Vec<f64> {
    std::iter::successors(Some(nice_step(shortest)), |&s| Some(next_step(s)))
        .take_while(|&s| s <= span)
        .take(64)
        .collect()
}

/// Labels on every multiple of the smallest step of at least `shortest_points` at which the
/// widest label fits between its neighbours, if that leaves two.
fn regular_labels(axis: &Axis<'_>, shortest_points: f32) -> Option<Labelled> {
    let span = axis.high - axis.low;
    for step in steps_from(axis.per_point * f64::from(shortest_points), span) {
        let room = axis.points(step) - axis.spacing.gap_points;
        let Some(labels) = axis.labels_at(step, room) else {
            continue;
        };
        if labels.values.len() < 2 {
            return None;
        }
        return Some(Labelled {
            values: labels.values,
            step_size: step,
            fine: fine_step(step),
        });
    }
    None
}

/// The labelled ticks of an axis: every multiple of the smallest step that gives its labels
/// room (preferring the comfortable distance), else the outermost two of the coarsest step
/// that has room for two, else one label near the middle, else none.
fn choose_labels(axis: &Axis<'_>) -> Option<Labelled> {
    let spacing = axis.spacing;
    let span = axis.high - axis.low;
    let least = spacing.least_points.max(UNLABELLED_POINTS + 2.0);
    // The smallest step at which the widest label fits between its neighbours, at the
    // comfortable distance where that leaves two labels, else at the least.
    for shortest in [spacing.comfortable_points.max(least), least] {
        if let Some(labelled) = regular_labels(axis, shortest) {
            return Some(labelled);
        }
    }
    // Too narrow for that: the outermost two ticks of the coarsest step, however fine,
    // that has two with room between them; grid lines about 16 points apart.
    let fine = nice_step(axis.per_point * f64::from(2.0 * GRID_SPACING_POINTS));
    let steps = steps_from(axis.per_point, span);
    let coarsest_first = steps
        .iter()
        .rev()
        .filter_map(|&step| axis.labels_at(step, f32::INFINITY));
    let mut single = None;
    for labels in coarsest_first {
        let (Some(&first), Some(&last)) = (labels.values.first(), labels.values.last()) else {
            continue;
        };
        let apart = axis.points(last - first);
        if labels.values.len() >= 2 && apart >= (labels.widest + spacing.gap_points).max(least) {
            return Some(Labelled {
                values: vec![first, last],
                step_size: last - first,
                fine,
            });
        }
        // One label, if no step has two: the one nearest the middle of the coarsest step.
        if single.is_none() {
            let middle = 0.5 * (axis.low + axis.high);
            let nearest = labels
                .values
                .iter()
                .copied()
                .min_by(|a, b| (a - middle).abs().total_cmp(&(b - middle).abs()));
            single = nearest.map(|value| Labelled {
                values: vec![value],
                step_size: span,
                fine,
            });
        }
    }
    single
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(value: f64, low: f64, high: f64) -> String {
        tick_label(
            GridMark {
                value,
                step_size: 1.0,
            },
            &(low..=high),
        )
    }

    #[test]
    fn labels_are_the_shortest_exact_text() {
        let on = |values: &[f64], low, high| -> Vec<String> {
            values.iter().map(|&v| label(v, low, high)).collect()
        };
        assert_eq!(
            on(&[-0.1, -0.05, 0.0, 0.05, 0.1], -0.12, 0.12),
            ["-0.1", "-0.05", "0", "0.05", "0.1"]
        );
        // Sums of a step carry rounding noise; the label does not.
        assert_eq!(label(3.0 * 0.1, 0.0, 1.0), "0.3");
        assert_eq!(label(7.0 * 0.1, 0.0, 1.0), "0.7");
        assert_eq!(on(&[5000.0, 10_000.0], 0.0, 12_000.0), ["5000", "10000"]);
        // Fine steps far from zero keep their decimals (1.0405 beside 1.041, never 1.0405e0).
        assert_eq!(on(&[1.0405, 1.041], 1.03, 1.05), ["1.0405", "1.041"]);
        assert_eq!(on(&[0.99, 0.995, 1.0], 0.98, 1.02), ["0.99", "0.995", "1"]);
        // Large and tiny axes in scientific notation, the whole axis alike.
        assert_eq!(
            on(&[0.0, 50_000.0, 120_000.0], 0.0, 130_000.0),
            ["0", "5e4", "1.2e5"]
        );
        assert_eq!(on(&[-2e-4, 1.5e-4], -5e-4, 5e-4), ["-2e-4", "1.5e-4"]);
        // Zero is "0", never "-0", however it was reached.
        assert_eq!(label(-1e-17, -1.0, 1.0), "0");
        assert_eq!(label(-0.0, -1.0, 1.0), "0");
    }

    #[test]
    fn steps_are_one_two_five() {
        assert_eq!(nice_step(0.003), 0.005);
        assert_eq!(nice_step(0.011), 0.02);
        assert_eq!(nice_step(70.0), 100.0);
        assert_eq!(next_step(0.05), 0.1);
        assert_eq!(next_step(1.0), 2.0);
        assert_eq!(next_step(2.0), 5.0);
    }

    /// A monospace font: `points` per character.
    fn monospace(points: f32) -> impl Fn(&str) -> f32 {
        move |text: &str| points * text.chars().count() as f32
    }

    /// The marks egui_plot labels (step over [`UNLABELLED_POINTS`]) for an axis of
    /// `length_points` showing `low..high`, with the labels' extents.
    fn labelled(
        low: f64,
        high: f64,
        length_points: f64,
        extent: &dyn Fn(&str) -> f32,
        gap: f32,
    ) -> Vec<(f64, String, f32)> {
        let per_point = (high - low) / length_points;
        let marks = axis_marks(
            GridInput {
                bounds: (low, high),
                base_step_size: per_point * f64::from(GRID_SPACING_POINTS),
            },
            extent,
            Spacing {
                gap_points: gap,
                least_points: 0.0,
                comfortable_points: 0.0,
                overhang_points: 0.0,
            },
        );
        assert!(
            marks.windows(2).all(|m| m[0].value < m[1].value),
            "{marks:?}"
        );
        marks
            .into_iter()
            .filter(|m| (m.step_size / per_point) as f32 > UNLABELLED_POINTS)
            .map(|m| {
                let text = tick_label(m, &(low..=high));
                let extent = extent(&text);
                // egui_plot's own condition for painting it.
                assert!((m.step_size / per_point) as f32 >= extent, "{text}");
                (m.value, text, extent)
            })
            .collect()
    }

    /// At least two labels, each whole inside the axis, none within `gap` of the next.
    fn assert_readable(labels: &[(f64, String, f32)], low: f64, high: f64, length: f64, gap: f32) {
        let per_point = (high - low) / length;
        assert!(labels.len() >= 2, "{labels:?}");
        for (value, text, extent) in labels {
            let centre = ((value - low) / per_point) as f32;
            assert!(
                centre >= extent / 2.0 && centre + extent / 2.0 <= length as f32,
                "{text}"
            );
        }
        for pair in labels.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            let apart = ((b.0 - a.0) / per_point) as f32;
            assert!(
                apart >= 0.5 * (a.2 + b.2) + gap,
                "{a:?} and {b:?} {apart} apart"
            );
        }
    }

    #[test]
    fn labels_get_the_room_their_text_needs() {
        let font = monospace(7.0);
        // A step axis 0..12000 at a series plot's width: 10000 has room beside its neighbours.
        let labels = labelled(-300.0, 12_000.0, 290.0, &font, 6.0);
        assert_readable(&labels, -300.0, 12_000.0, 290.0, 6.0);
        let values: Vec<f64> = labels.iter().map(|l| l.0).collect();
        // "10000" is 35 points and the gap 6: a step of 2000 (47 points) is the finest. Given
        // the widest label's room, 0 (7 points from the left end) would stand past it.
        assert_eq!(values, [2000.0, 4000.0, 6000.0, 8000.0, 10_000.0]);
        // ±0.12: negative, zero and positive labels alike.
        // "-0.05" is 35 points: a step of 0.05 needs 41, which 190 points do not give.
        for (length, expected) in [
            (190.0, &["-0.1", "0", "0.1"][..]),
            (300.0, &["-0.1", "-0.05", "0", "0.05", "0.1"][..]),
        ] {
            let labels = labelled(-0.12, 0.12, length, &font, 6.0);
            assert_readable(&labels, -0.12, 0.12, length, 6.0);
            let texts: Vec<&str> = labels.iter().map(|l| l.1.as_str()).collect();
            assert_eq!(texts, expected);
        }
        // A narrow plot: two labels, the outermost ticks that leave room for them (with
        // 7 points a character, 0.054 and 0.056 need 41 points between them).
        let narrow = [
            ((0.5, 5.5), [40.0, 50.0]),
            ((-2.6, 2.6), [60.0, 80.0]),
            ((0.9, 1.1), [80.0, 100.0]),
            ((0.052, 0.058), [120.0, 140.0]),
        ];
        for ((low, high), lengths) in narrow {
            for length in lengths {
                let labels = labelled(low, high, length, &font, 6.0);
                assert_readable(&labels, low, high, length, 6.0);
            }
        }
        // Too narrow even for two: one label or none, never two that touch.
        let labels = labelled(0.052, 0.058, 20.0, &font, 6.0);
        assert!(labels.len() <= 1, "{labels:?}");
    }

    #[test]
    fn a_vertical_axis_keeps_two_lines_between_labels_where_it_can() {
        // Ink 9 points high, lines 15: a label every 0.02 (25 points) on ±0.22 over 560
        // points would be a column of numbers; every 0.05 (64 points) reads as a scale.
        let ink = |_: &str| 9.0;
        let spacing = Spacing {
            gap_points: 4.5,
            least_points: 15.0,
            comfortable_points: 30.0,
            overhang_points: 2.6,
        };
        let labelled = |low: f64, high: f64, length: f64| -> Vec<f64> {
            let per_point = (high - low) / length;
            let input = GridInput {
                bounds: (low, high),
                base_step_size: per_point * f64::from(GRID_SPACING_POINTS),
            };
            axis_marks(input, &ink, spacing)
                .into_iter()
                .filter(|m| (m.step_size / per_point) as f32 > UNLABELLED_POINTS)
                .map(|m| m.value)
                .collect()
        };
        let tall = labelled(-0.22, 0.22, 560.0);
        assert_eq!(tall.len(), 9, "{tall:?}");
        assert!(
            tall.iter()
                .all(|v| (v / 0.05 - (v / 0.05).round()).abs() < 1e-9)
        );
        // A series plot 36 points high: two labels at least a line apart.
        let short = labelled(0.052, 0.058, 36.0);
        assert_eq!(short.len(), 2, "{short:?}");
        assert!((short[1] - short[0]) / (0.006 / 36.0) >= 15.0);
    }

    #[test]
    fn unlabelled_marks_stay_between_the_labels() {
        let per_point = 12_300.0 / 290.0;
        let marks = axis_marks(
            GridInput {
                bounds: (-300.0, 12_000.0),
                base_step_size: per_point * f64::from(GRID_SPACING_POINTS),
            },
            &monospace(7.0),
            Spacing {
                gap_points: 6.0,
                least_points: 0.0,
                comfortable_points: 0.0,
                overhang_points: 0.0,
            },
        );
        let hidden: Vec<f64> = marks
            .iter()
            .filter(|m| (m.step_size / per_point) as f32 <= UNLABELLED_POINTS)
            .map(|m| m.value)
            .collect();
        // Quarters of the labelled step of 2000; 0 and 12000 stand too near the ends for
        // their labels, so they stay grid lines.
        assert_eq!(marks.len(), 25);
        assert_eq!(hidden.first(), Some(&0.0));
        assert!(hidden.contains(&12_000.0) && !hidden.contains(&10_000.0));
        assert_eq!(hidden.len(), 25 - 5);
    }
}
