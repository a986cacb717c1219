//! The two maps of the Map tab (with replacement, without), their colour bar and the numbers
//! of the cell under the pointer. Cells sit on the exported figure's bands
//! ([`map_figure::band_edges`]) and colour scale ([`map_figure::shared_range`]), so the screen
//! and the file read alike.

use egui::{Align2, Color32, FontId, Pos2, Rect, Sense, Shape, Stroke, Vec2};
use neqlab::dynamics::Replacement;
use neqlab::export::colormap::ColourMap;
use neqlab::export::map_figure::{
    self, BREAKS_ABOVE, HOLDS_BELOW, NO_PREDICTION_GREY, UNSTABLE_GREY,
};
use neqlab::map::{HyperMap, MODES, MapCell, MapQuantity};

use super::{CellChoice, MapPanel, Status, on_screen};

/// Room left of a map for the batch-size labels, and below it for the learning rates.
const LEFT_MARGIN: f32 = 52.0;
const BOTTOM_MARGIN: f32 = 34.0;
/// Height kept below the maps for the colour bar, the legend and the hovered cell.
const BELOW_MAPS: f32 = 150.0;

/// One cell of the map: its mode and its batch and learning-rate indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CellAddress {
    /// The panel.
    pub replacement: Replacement,
    /// Index into the map's batch sizes.
    pub batch: usize,
    /// Index into the map's learning rates.
    pub eta: usize,
}

/// Where one mode's map was drawn: the plot rectangle and the band edges in `log₁₀`.
#[derive(Clone, Debug, PartialEq)]
pub struct MapLayout {
    /// The panel.
    pub replacement: Replacement,
    /// The cells' area on screen.
    pub rect: Rect,
    x_edges: Vec<f64>,
    y_edges: Vec<f64>,
}

impl MapLayout {
    fn x(&self, log_eta: f64) -> f32 {
        let (low, high) = (self.x_edges[0], self.x_edges[self.x_edges.len() - 1]);
        self.rect.left() + ((log_eta - low) / (high - low)) as f32 * self.rect.width()
    }

    fn y(&self, log_batch: f64) -> f32 {
        let (low, high) = (self.y_edges[0], self.y_edges[self.y_edges.len() - 1]);
        self.rect.bottom() - ((log_batch - low) / (high - low)) as f32 * self.rect.height()
    }

    /// The screen rectangle of cell `(batch, eta)`.
    fn cell_rect(&self, batch: usize, eta: usize) -> Rect {
        Rect::from_min_max(
            Pos2::new(self.x(self.x_edges[eta]), self.y(self.y_edges[batch + 1])),
            Pos2::new(self.x(self.x_edges[eta + 1]), self.y(self.y_edges[batch])),
        )
    }

    /// The centre of cell `(batch, eta)` on screen.
    pub fn cell_centre(&self, batch: usize, eta: usize) -> Pos2 {
        self.cell_rect(batch, eta).center()
    }

    /// The cell under `pos`, if any.
    pub fn cell_at(&self, pos: Pos2) -> Option<CellAddress> {
        if !self.rect.contains(pos) {
            return None;
        }
        let bands = |edges: &[f64], value: f32, to_screen: &dyn Fn(f64) -> f32| {
            (0..edges.len() - 1).find(|&k| {
                let (a, b) = (to_screen(edges[k]), to_screen(edges[k + 1]));
                (a.min(b)..=a.max(b)).contains(&value)
            })
        };
        Some(CellAddress {
            replacement: self.replacement,
            eta: bands(&self.x_edges, pos.x, &|v| self.x(v))?,
            batch: bands(&self.y_edges, pos.y, &|v| self.y(v))?,
        })
    }
}

fn rgb([r, g, b]: [u8; 3]) -> Color32 {
    Color32::from_rgb(r, g, b)
}

/// The fill of a cell: dark grey when unstable, light grey without a value, else the colour
/// of `log₁₀` of the value on `range` (values below the range share its bottom colour).
fn fill(cell: &MapCell, quantity: MapQuantity, range: Option<[f64; 2]>) -> Color32 {
    if !cell.stable {
        return rgb(UNSTABLE_GREY);
    }
    match (quantity.value(cell), range) {
        (Some(value), Some([low, high])) => {
            let log = if value > 0.0 { value.log10() } else { low };
            rgb(ColourMap::Density.colour(log.max(low), low, high))
        }
        _ => rgb(NO_PREDICTION_GREY),
    }
}

/// Green (the theory holds), orange, or red (it breaks), as on the exported figure.
fn validity_colour(error: f64) -> Color32 {
    if error < HOLDS_BELOW {
        Color32::from_rgb(0, 158, 115)
    } else if error < BREAKS_ABOVE {
        Color32::from_rgb(230, 159, 0)
    } else {
        Color32::from_rgb(213, 94, 0)
    }
}

/// What the person asked of the maps in this frame.
#[derive(Default)]
struct Interaction {
    hovered: Option<CellAddress>,
    clicked: Option<CellAddress>,
}

impl MapPanel {
    /// Both maps side by side, the colour bar, the legend and the hovered cell's numbers; a
    /// clicked stable cell is returned.
    pub(super) fn maps_ui(&mut self, ui: &mut egui::Ui) -> Option<CellChoice> {
        let Some(map) = &self.map else {
            if self.error.is_none() {
                ui.label("Computing the map …");
            }
            self.layout.clear();
            return None;
        };
        let quantity = self.quantity;
        let range = map_figure::shared_range(map, quantity);
        let x_edges = map_figure::band_edges(&map.etas);
        let batches: Vec<f64> = map.batches.iter().map(|&b| b as f64).collect();
        let y_edges = map_figure::band_edges(&batches);
        let height = (ui.available_height() - BELOW_MAPS).max(180.0);
        let mut layouts = Vec::with_capacity(2);
        let mut interaction = Interaction::default();
        let previous = self.hovered;
        ui.columns(2, |columns| {
            for (column, mode) in columns.iter_mut().zip(MODES) {
                let layout = MapLayout {
                    replacement: mode,
                    rect: Rect::NOTHING,
                    x_edges: x_edges.clone(),
                    y_edges: y_edges.clone(),
                };
                let layout = mode_ui(column, map, layout, quantity, range, height, previous).map(
                    |(layout, response)| {
                        track(&layout, &response, map, &mut interaction);
                        layout
                    },
                );
                layouts.extend(layout);
            }
        });
        colour_bar_ui(ui, quantity, range);
        legend_ui(ui, map);
        cell_details_ui(ui, map, interaction.hovered.or(previous));
        self.layout = layouts;
        self.hovered = interaction.hovered;
        let address = interaction.clicked?;
        let cell = map.cell(address.replacement, address.batch, address.eta)?;
        if !cell.stable {
            self.status = Some(Status::error(format!(
                "η = {:.3e}, B = {} ({}) is unstable (spectral radius {:.3}): the walkers \
                 would diverge; not opened",
                cell.eta,
                cell.batch,
                cell.replacement.name(),
                cell.spectral_radius
            )));
            return None;
        }
        if map.minimum.len() != 2 {
            self.status = Some(Status::error(format!(
                "the Stationary-state tab draws 2 weights; the {} landscape has {}: not opened \
                 (neqlab run --set dynamics.eta={:e} --set dynamics.batch={} simulates it)",
                map.landscape,
                map.minimum.len(),
                cell.eta,
                cell.batch
            )));
            return None;
        }
        Some(CellChoice {
            eta: cell.eta,
            batch: cell.batch,
            replacement: cell.replacement,
            algorithm: cell.algorithm,
        })
    }
}

/// Note the cell under the pointer and a click; show the cell's numbers beside the pointer.
fn track(
    layout: &MapLayout,
    response: &egui::Response,
    map: &HyperMap,
    interaction: &mut Interaction,
) {
    let Some(pos) = response.hover_pos() else {
        return;
    };
    let Some(address) = layout.cell_at(pos) else {
        return;
    };
    interaction.hovered = Some(address);
    if response.clicked() {
        interaction.clicked = Some(address);
    }
    if let Some(cell) = map.cell(address.replacement, address.batch, address.eta) {
        response.clone().on_hover_ui_at_pointer(|ui| {
            for line in cell_lines(cell) {
                ui.label(line);
            }
            ui.label(egui::RichText::new("click: open in the Stationary-state tab").weak());
        });
    }
}

/// One mode's map: title, cells, boundary, validity markers, axes. `None` when the column is
/// too small to draw in.
fn mode_ui(
    ui: &mut egui::Ui,
    map: &HyperMap,
    mut layout: MapLayout,
    quantity: MapQuantity,
    range: Option<[f64; 2]>,
    height: f32,
    hovered: Option<CellAddress>,
) -> Option<(MapLayout, egui::Response)> {
    let mode = layout.replacement;
    let algorithm = match mode {
        Replacement::Wr => map.algorithms.wr,
        Replacement::Wor => map.algorithms.wor,
    };
    let words = match mode {
        Replacement::Wr => "with replacement",
        Replacement::Wor => "without replacement",
    };
    ui.label(
        egui::RichText::new(format!(
            "{} {words} (time in {}s)",
            algorithm.label(),
            mode.time_unit().name()
        ))
        .strong(),
    );
    let size = Vec2::new(ui.available_width(), height);
    let (outer, response) = ui.allocate_exact_size(size, Sense::click());
    let rect = Rect::from_min_max(
        Pos2::new(outer.left() + LEFT_MARGIN, outer.top() + 4.0),
        Pos2::new(outer.right() - 8.0, outer.bottom() - BOTTOM_MARGIN),
    );
    if rect.width() < 20.0 || rect.height() < 20.0 {
        return None;
    }
    layout.rect = rect;
    let painter = ui.painter_at(outer);
    let cells = map.mode_cells(mode);
    let ne = map.etas.len();
    for (k, cell) in cells.iter().enumerate() {
        let (b, e) = (k / ne, k % ne);
        painter.rect_filled(layout.cell_rect(b, e), 0.0, fill(cell, quantity, range));
    }
    boundary_ui(&painter, map, &layout);
    for (k, cell) in cells.iter().enumerate() {
        if let Some(error) = cell.sim_cov_rel_error {
            marker(&painter, layout.cell_centre(k / ne, k % ne), error);
        }
    }
    if let Some(address) = hovered.filter(|a| a.replacement == mode) {
        let stroke = Stroke::new(2.0, ui.visuals().strong_text_color());
        painter.rect_stroke(
            layout.cell_rect(address.batch, address.eta),
            0.0,
            stroke,
            egui::StrokeKind::Outside,
        );
    }
    axes_ui(ui, &painter, map, &layout);
    Some((layout, response))
}

/// `η_max(B)` as a white step line, as on the exported figure.
fn boundary_ui(painter: &egui::Painter, map: &HyperMap, layout: &MapLayout) {
    let (low, high) = (layout.x_edges[0], layout.x_edges[layout.x_edges.len() - 1]);
    let mut points = Vec::new();
    for (b, point) in map.boundary.iter().enumerate() {
        if let Some(eta) = point.eta_max {
            let x = layout.x(eta.log10().clamp(low, high));
            points.push(Pos2::new(x, layout.y(layout.y_edges[b])));
            points.push(Pos2::new(x, layout.y(layout.y_edges[b + 1])));
        }
    }
    if points.len() >= 2 {
        painter.add(Shape::line(points, Stroke::new(2.5, Color32::WHITE)));
    }
}

/// A dot (error below [`BREAKS_ABOVE`]) or a cross, in the colour of the error's class.
fn marker(painter: &egui::Painter, centre: Pos2, error: f64) {
    let colour = validity_colour(error);
    // A white ring, as on the figure: a green dot on viridis' green-blue hardly shows.
    painter.circle_filled(centre, 7.0, Color32::WHITE);
    if error < BREAKS_ABOVE {
        painter.circle(centre, 5.0, colour, Stroke::new(1.0, Color32::BLACK));
    } else {
        let r = 5.0;
        for (a, b) in [
            (Vec2::new(-r, -r), Vec2::new(r, r)),
            (Vec2::new(-r, r), Vec2::new(r, -r)),
        ] {
            painter.line_segment([centre + a, centre + b], Stroke::new(4.0, Color32::BLACK));
            painter.line_segment([centre + a, centre + b], Stroke::new(2.5, colour));
        }
    }
}

/// Decades of `η` below the map, the batch sizes left of it.
fn axes_ui(ui: &egui::Ui, painter: &egui::Painter, map: &HyperMap, layout: &MapLayout) {
    let text = ui.visuals().text_color();
    let font = FontId::proportional(12.0);
    let rect = layout.rect;
    let (low, high) = (layout.x_edges[0], layout.x_edges[layout.x_edges.len() - 1]);
    for decade in (low.ceil() as i32)..=(high.floor() as i32) {
        let x = layout.x(decade as f64);
        painter.line_segment(
            [
                Pos2::new(x, rect.bottom()),
                Pos2::new(x, rect.bottom() + 4.0),
            ],
            Stroke::new(1.0, text),
        );
        painter.text(
            Pos2::new(x, rect.bottom() + 5.0),
            Align2::CENTER_TOP,
            format!("1e{decade}"),
            font.clone(),
            text,
        );
    }
    painter.text(
        Pos2::new(rect.center().x, rect.bottom() + 20.0),
        Align2::CENTER_TOP,
        "learning rate η (log scale)",
        font.clone(),
        text,
    );
    for (b, batch) in map.batches.iter().enumerate() {
        let y = 0.5 * (layout.y(layout.y_edges[b]) + layout.y(layout.y_edges[b + 1]));
        painter.text(
            Pos2::new(rect.left() - 6.0, y),
            Align2::RIGHT_CENTER,
            format!("B = {batch}"),
            font.clone(),
            text,
        );
    }
}

/// The shared colour scale, in `log₁₀`.
fn colour_bar_ui(ui: &mut egui::Ui, quantity: MapQuantity, range: Option<[f64; 2]>) {
    let Some([low, high]) = range else {
        ui.label(format!(
            "No cell has a positive {}: nothing to colour.",
            on_screen(quantity.label())
        ));
        return;
    };
    ui.horizontal(|ui| {
        ui.label(format!("log₁₀ {}:  {low:.2}", on_screen(quantity.label())));
        let (rect, _) = ui.allocate_exact_size(Vec2::new(320.0, 14.0), Sense::hover());
        let painter = ui.painter_at(rect);
        let steps = 64;
        let width = rect.width() / steps as f32;
        for k in 0..steps {
            let t = (k as f64 + 0.5) / steps as f64;
            let x = rect.left() + k as f32 * width;
            painter.rect_filled(
                Rect::from_min_size(Pos2::new(x, rect.top()), Vec2::new(width + 0.5, 14.0)),
                0.0,
                rgb(ColourMap::Density.colour(t, 0.0, 1.0)),
            );
        }
        ui.label(format!("{high:.2}"));
    });
}

/// What the greys, the line and the markers mean.
fn legend_ui(ui: &mut egui::Ui, map: &HyperMap) {
    let mut text = String::from(
        "Dark grey: unstable (the linearised mean or covariance map has spectral radius ≥ 1), \
         right of the white line η_max(B). Light grey: stable, but no value of this quantity.",
    );
    if map.cells.iter().any(|c| c.sim_cov_rel_error.is_some()) {
        text.push_str(&format!(
            " Simulated cells: green dot, covariance within {:.0}% of the theory (it holds); \
             orange dot, within {:.0}%; red cross, further off (it breaks).",
            100.0 * HOLDS_BELOW,
            100.0 * BREAKS_ABOVE
        ));
    }
    ui.label(egui::RichText::new(text).weak());
}

/// The numbers of the hovered cell on one line (the tooltip shows them too).
fn cell_details_ui(ui: &mut egui::Ui, map: &HyperMap, hovered: Option<CellAddress>) {
    let cell = hovered.and_then(|a| map.cell(a.replacement, a.batch, a.eta));
    match cell {
        Some(cell) => {
            ui.label(cell_lines(cell).join("   "));
        }
        None => {
            ui.label(
                egui::RichText::new(
                    "Hover a cell for its numbers; click it to open the Stationary-state tab \
                     there, running.",
                )
                .weak(),
            );
        }
    }
}

/// A cell's numbers, one quantity per line.
pub fn cell_lines(cell: &MapCell) -> Vec<String> {
    let unit = cell.replacement.time_unit().name();
    let value = |v: Option<f64>| v.map_or_else(|| "—".to_string(), |v| format!("{v:.4e}"));
    let mut lines = vec![format!(
        "{} {}: η = {:.4e}, B = {}",
        cell.algorithm.label(),
        cell.replacement.name(),
        cell.eta,
        cell.batch
    )];
    if !cell.stable {
        lines.push(format!(
            "unstable: spectral radius {:.4} ≥ 1",
            cell.spectral_radius
        ));
        return lines;
    }
    lines.push(format!("spectral radius {:.4}", cell.spectral_radius));
    lines.push(format!("tr Σ = {}", value(cell.trace_cov)));
    lines.push(format!("E[L] − L_min = {}", value(cell.loss_excess)));
    lines.push(format!(
        "entropy production {} per {unit}, {} per example pass",
        value(cell.ep_rate),
        value(cell.ep_rate_per_pass)
    ));
    lines.push(format!("|C| = {} per {unit}", value(cell.circulation_norm)));
    lines.push(format!(
        "|HΣ − ΣH| / |HΣ + ΣH| = {}",
        value(cell.nonequilibrium_ratio)
    ));
    if let Some(kl) = cell.kl_posterior {
        let method = if cell.kl_exact { "exact" } else { "linearised" };
        lines.push(format!("KL from the posterior = {kl:.4e} ({method})"));
    }
    if let Some(shift) = cell.wor_shift {
        lines.push(format!("|w_eff − w*| = {shift:.4e}"));
    }
    if let (Some(error), Some(sim)) = (cell.sim_cov_rel_error, &cell.sim) {
        lines.push(format!(
            "simulated covariance off by {:.1}% (noise floor {:.1}%, {} walkers)",
            100.0 * error,
            100.0 * sim.cov_rel_error_floor,
            sim.walkers
        ));
    }
    if let Some(note) = &cell.note {
        lines.push(on_screen(note));
    }
    lines
}
