//! Layout tests: the real app at the projector sizes of a lecture (1280×720, 1366×768,
//! 1920×1080, and 2560×1440 at pixel scale 2), in normal and presentation mode. They read the
//! text the frame paints: no two visible labels overlap, and every plot's x axis carries at
//! least two distinct tick labels.

use egui::{Pos2, Rect, Shape, Vec2};
use egui_kittest::Harness;

use super::*;

/// (width, height) in physical pixels and the pixel scale.
const SIZES: [(f32, f32, f32); 4] = [
    (1280.0, 720.0, 1.0),
    (1366.0, 768.0, 1.0),
    (1920.0, 1080.0, 1.0),
    (2560.0, 1440.0, 2.0),
];

/// A painted text: what it says and where it is visible.
#[derive(Debug)]
struct Painted {
    text: String,
    rect: Rect,
}

fn collect(shape: &Shape, clip: Rect, out: &mut Vec<Painted>) {
    match shape {
        Shape::Vec(shapes) => shapes.iter().for_each(|s| collect(s, clip, out)),
        Shape::Text(text) if text.angle == 0.0 => {
            // Row by row: a wrapped label's first row starts after what precedes it on the
            // line, which the galley's rectangle does not show.
            let origin = text.pos.to_vec2();
            for row in &text.galley.rows {
                let words: String = row.row.glyphs.iter().map(|g| g.chr).collect();
                let rect = row
                    .rect_without_leading_space()
                    .translate(origin)
                    .intersect(clip);
                let visible = rect.width() > 0.5 && rect.height() > 0.5;
                if visible && !words.trim().is_empty() {
                    out.push(Painted {
                        text: words.trim().to_string(),
                        rect,
                    });
                }
            }
        }
        _ => {}
    }
}

fn painted(harness: &Harness<'_, NeqlabApp>) -> Vec<Painted> {
    let mut out = Vec::new();
    for clipped in &harness.output().shapes {
        collect(&clipped.shape, clipped.clip_rect, &mut out);
    }
    out
}

fn app_at(name: &str, size: (f32, f32, f32), presentation: bool) -> Harness<'static, NeqlabApp> {
    let (preset, path) = load_named(name).expect("shipped preset");
    let (width, height, scale) = size;
    let mut harness = Harness::builder()
        .with_size(Vec2::new(width / scale, height / scale))
        .with_pixels_per_point(scale)
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        });
    if presentation {
        let ctx = harness.ctx.clone();
        harness.state_mut().set_presentation(&ctx, true);
    }
    harness.state_mut().set_playing(true);
    // Enough frames for the prediction, the statistics and the Σ histograms.
    harness.run_steps(40);
    harness
}

/// Pairs of visible labels that overlap by more than a pixel and a half each way.
fn overlaps(texts: &[Painted]) -> Vec<String> {
    let mut found = Vec::new();
    for (i, a) in texts.iter().enumerate() {
        for b in &texts[i + 1..] {
            let both = a.rect.intersect(b.rect);
            if both.width() > 1.5 && both.height() > 1.5 {
                found.push(format!(
                    "{:?} at {:?} / {:?} at {:?}",
                    a.text, a.rect, b.text, b.rect
                ));
            }
        }
    }
    found
}

/// Distinct numbers painted just above an x-axis name (its tick labels): within the band
/// of `band` points above the name, and `reach` points either side of it.
fn ticks_above(texts: &[Painted], name: &Painted, band: f32, reach: f32) -> usize {
    let centre = name.rect.center();
    let mut values: Vec<String> = texts
        .iter()
        .filter(|t| t.text.trim().replace('−', "-").parse::<f64>().is_ok())
        .filter(|t| {
            let c = t.rect.center();
            c.y < centre.y && c.y > centre.y - band && (c.x - centre.x).abs() < reach
        })
        .map(|t| t.text.clone())
        .collect();
    values.sort();
    values.dedup();
    values.len()
}

fn check_layout(name: &str, axis_names: &[&str]) {
    for size in SIZES {
        for presentation in [false, true] {
            let harness = app_at(name, size, presentation);
            let label = format!("{name} at {size:?}, presentation {presentation}");
            let texts = painted(&harness);
            let found = overlaps(&texts);
            assert!(
                found.is_empty(),
                "{label}: labels overlap:\n{}",
                found.join("\n")
            );
            let screen = harness.ctx.content_rect();
            assert!(screen.contains(Pos2::new(screen.max.x - 1.0, screen.max.y - 1.0)));
            let mut axes = 0;
            for axis in texts
                .iter()
                .filter(|t| axis_names.contains(&t.text.as_str()))
            {
                let ticks = ticks_above(&texts, axis, 25.0, 160.0);
                assert!(
                    ticks >= 2,
                    "{label}: the plot whose x axis is {:?} at {:?} has {ticks} tick labels",
                    axis.text,
                    axis.rect
                );
                axes += 1;
            }
            assert!(axes >= 3, "{label}: only {axes} labelled plots found");
            check_one_scale(&harness, &label);
        }
    }
}

/// The three 2-D views draw `w1` and `w2` on one scale (points per weight unit agree to 1%),
/// so that a tilted cloud is not squashed into a level one, whatever the panel's shape.
fn check_one_scale(harness: &Harness<'_, NeqlabApp>, label: &str) {
    let grid = harness.state().grid.expect("a grid");
    assert!(plot2d::equal_scale_ratio(&grid).is_some(), "{label}");
    for id in ["simulation-plot", "prediction-plot", "landscape-plot"] {
        let memory = egui_plot::PlotMemory::load(&harness.ctx, egui::Id::unique(id))
            .unwrap_or_else(|| panic!("{label}: {id} was drawn"));
        let [x, y] = memory.transform().dpos_dvalue();
        let mismatch = (x.abs() / y.abs() - 1.0).abs();
        assert!(
            mismatch < 0.01,
            "{label}: {id} draws w1 at {x:.1} and w2 at {y:.1} points per unit"
        );
    }
}

#[test]
fn bowl_current_fits_at_lecture_sizes() {
    check_layout("bowl-current", &["w1", "step", "Σ", "length k"]);
}

#[test]
fn double_well_fits_at_lecture_sizes() {
    check_layout("double-well", &["w1", "step", "Σ", "length k"]);
}

#[test]
fn the_checks_catch_overlaps_and_missing_ticks() {
    // The checks themselves can fail: two labels on top of each other, an axis with one tick.
    let at = |text: &str, x: f32, y: f32| Painted {
        text: text.into(),
        rect: Rect::from_min_size(Pos2::new(x, y), Vec2::new(30.0, 14.0)),
    };
    let texts = [at("0.1", 100.0, 100.0), at("0.2", 110.0, 105.0)];
    assert_eq!(overlaps(&texts).len(), 1);
    let lonely = [at("0", 100.0, 100.0), at("w1", 100.0, 120.0)];
    assert_eq!(ticks_above(&lonely, &lonely[1], 25.0, 160.0), 1);
}
