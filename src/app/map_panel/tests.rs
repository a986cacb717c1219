//! The Map tab driven through the real app, its job run synchronously inside the frame (no
//! threads, no sleeps, no timing).

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use neqlab::dynamics::{Algorithm, Replacement};
use neqlab::map::{MapQuantity, SimulationOptions};

use super::super::dialogs::DialogBackend;
use super::super::{Backend, NeqlabApp, Tab, load_named};
use super::{CellAddress, MapExport, Work};

fn harness_for(name: &str) -> Harness<'static, NeqlabApp> {
    let (preset, path) = load_named(name).expect("shipped preset");
    Harness::builder()
        .with_size(egui::Vec2::new(1600.0, 1000.0))
        .build_eframe(move |cc| {
            NeqlabApp::new(&cc.egui_ctx, preset, path, Backend::Inline).expect("app starts")
        })
}

/// Open the Map tab and let the (synchronous) job compute the theory map: the request is
/// sent in the first frame and answered in the next.
fn open_map(harness: &mut Harness<'static, NeqlabApp>) {
    harness.run_steps(1);
    harness.get_by_label("Map").click();
    harness.run_steps(3);
    let app = harness.state();
    assert_eq!(app.tab, Tab::Map);
    assert!(app.map.error.is_none(), "{:?}", app.map.error);
    assert!(
        app.map.work.is_none(),
        "the theory map is still being computed"
    );
}

/// A stable cell of `mode` about halfway up the learning rates at batch index `batch`.
fn stable_cell(harness: &Harness<'static, NeqlabApp>, mode: Replacement, batch: usize) -> usize {
    let map = harness.state().map.map.as_ref().expect("a map");
    let stable: Vec<usize> = (0..map.etas.len())
        .filter(|&e| map.cell(mode, batch, e).is_some_and(|c| c.stable))
        .collect();
    assert!(stable.len() > 4, "{} stable cells", stable.len());
    stable[stable.len() / 2]
}

#[test]
fn the_tab_draws_both_maps_of_bowl_current_and_shows_a_hovered_cell() {
    let mut harness = harness_for("bowl-current");
    open_map(&mut harness);
    let panel = &harness.state().map;
    let map = panel.map.as_ref().expect("a theory map");
    assert_eq!(map.landscape, "bowl");
    assert_eq!(map.cells.len(), 2 * map.etas.len() * map.batches.len());
    assert!(map.etas.len() >= 32 && map.batches.len() >= 4);
    // docs/theory.md section 10.2: every h_i = diag(1, 4), so η_max = 2/4 for every B.
    for point in &map.boundary {
        let eta_max = point.eta_max.expect("a boundary inside the map");
        assert!(
            (eta_max - 0.5).abs() < 1e-6,
            "B = {}: {eta_max}",
            point.batch
        );
    }
    assert!(
        map.cells.iter().any(|c| !c.stable),
        "no unstable cell to grey"
    );
    assert_eq!(panel.layout.len(), 2, "both panels drawn");
    assert!(panel.layout.iter().all(|l| l.rect.width() > 100.0));
    harness.get_by_label("SGD with replacement (time in steps)");
    harness.get_by_label("SGD without replacement (time in epochs)");
    harness.get_by_label_contains("per pass over the N examples");
    // Hover a cell: its numbers are shown.
    let e = stable_cell(&harness, Replacement::Wor, 2);
    let layout = &harness.state().map.layout[1];
    assert_eq!(layout.replacement, Replacement::Wor);
    let centre = layout.cell_centre(2, e);
    harness.hover_at(centre);
    harness.run_steps(2);
    let panel = &harness.state().map;
    let expected = CellAddress {
        replacement: Replacement::Wor,
        batch: 2,
        eta: e,
    };
    assert_eq!(panel.hovered, Some(expected));
    let cell = panel
        .map
        .as_ref()
        .and_then(|m| m.cell(Replacement::Wor, 2, e));
    let cell = cell.expect("the hovered cell");
    let heading = format!("SGD wor: η = {:.4e}, B = {}", cell.eta, cell.batch);
    assert!(
        harness.query_all_by_label_contains(&heading).count() >= 1,
        "no label with \"{heading}\""
    );
    assert!(harness.query_all_by_label_contains("|w_eff − w*|").count() >= 1);
}

#[test]
fn clicking_a_cell_opens_the_stationary_state_there_running() {
    let mut harness = harness_for("bowl-current");
    open_map(&mut harness);
    let batch = 3;
    let e = stable_cell(&harness, Replacement::Wor, batch);
    let (eta, batch_size) = {
        let map = harness.state().map.map.as_ref().expect("a map");
        let cell = map.cell(Replacement::Wor, batch, e).expect("a cell");
        (cell.eta, cell.batch)
    };
    assert_ne!(eta, harness.state().preset.dynamics.eta);
    let centre = harness.state().map.layout[1].cell_centre(batch, e);
    harness.hover_at(centre);
    harness.run_steps(1);
    harness.drag_at(centre);
    harness.run_steps(1);
    harness.drop_at(centre);
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.tab, Tab::StationaryState);
    let dynamics = &app.preset.dynamics;
    assert_eq!(dynamics.eta, eta);
    assert_eq!(dynamics.batch, batch_size);
    assert_eq!(dynamics.replacement, Some(Replacement::Wor));
    assert_eq!(dynamics.algorithm, Algorithm::Sgd);
    assert!(app.config_error.is_none(), "{:?}", app.config_error);
    assert!(app.playing, "the clicked cell runs");
    let before = app.snapshot.as_ref().map_or(0, |s| s.time);
    harness.run_steps(3);
    let after = harness.state().snapshot.as_ref().map_or(0, |s| s.time);
    assert!(
        after > before,
        "the walkers did not move: {before} → {after}"
    );
    // η and B are the map's axes: the map is kept, not recomputed.
    let panel = &harness.state().map;
    assert!(panel.map.is_some() && panel.work.is_none());
}

/// Small enough for a test: two learning rates of one batch size (B = 50) per mode, short
/// runs. The slowest cell (η = 5·10⁻⁴, τ = 2000 steps with replacement) needs
/// 6000 steps × 50 examples = 3·10⁵ gradients per walker, so the budget keeps 33 walkers.
fn small_simulation() -> SimulationOptions {
    SimulationOptions {
        etas: 2,
        batches: 1,
        walkers: 64,
        min_walkers: 16,
        burn_in_relaxations: 1.0,
        record_relaxations: 2.0,
        max_gradients_per_cell: 1e7,
        ..SimulationOptions::default()
    }
}

#[test]
fn the_validity_simulation_runs_and_can_be_cancelled() {
    let mut harness = harness_for("bowl-current");
    open_map(&mut harness);
    harness.state_mut().map.simulation_options = small_simulation();
    harness.run_steps(1);
    let button = "Simulate validity (2 η × 1 B per mode, 64 walkers)";
    // Start, then cancel before the job has run.
    harness.get_by_label(button).click();
    harness.run_steps(1);
    assert_eq!(harness.state().map.work, Some(Work::Simulation));
    assert!(harness.state().map.is_busy());
    // (Through accesskit: a synthetic press and release in one frame right after the
    // Simulate click does not reach the new button; a person's click spans frames.)
    harness.get_by_label("Cancel").click_accesskit();
    harness.run_steps(1);
    let panel = &harness.state().map;
    assert!(panel.work.is_none() && !panel.is_busy());
    let status = panel.status.as_ref().expect("a status line");
    assert!(status.text.contains("cancelled"), "{}", status.text);
    let map = panel.map.as_ref().expect("the theory map stays");
    assert!(map.cells.iter().all(|c| c.sim_cov_rel_error.is_none()));
    harness.run_steps(1);
    assert_eq!(harness.query_all_by_label("Cancel").count(), 0);
    // Start again and let it finish: 2 η × 1 B × 2 modes are simulated and marked.
    harness.get_by_label(button).click();
    harness.run_steps(2);
    let panel = &harness.state().map;
    assert!(panel.work.is_none(), "still simulating");
    let map = panel.map.as_ref().expect("a map");
    let simulated: Vec<_> = map
        .cells
        .iter()
        .filter_map(|c| c.sim_cov_rel_error.map(|e| (c.replacement, e)))
        .collect();
    assert_eq!(simulated.len(), 4, "{simulated:?}");
    for mode in [Replacement::Wr, Replacement::Wor] {
        assert_eq!(simulated.iter().filter(|(m, _)| *m == mode).count(), 2);
    }
    assert!(simulated.iter().all(|(_, e)| e.is_finite() && *e >= 0.0));
    let status = panel.status.as_ref().expect("a status line");
    assert!(status.text.contains("4 cells simulated"), "{}", status.text);
    harness.get_by_label_contains("Simulated cells: green dot");
    // The error itself can colour the map.
    harness.state_mut().map.quantity = MapQuantity::SimCovRelError;
    harness.run_steps(1);
    harness.get_by_label_contains("log₁₀ simulated covariance, relative error");
    // Every quantity draws (the font has every glyph the tab shows: a missing one panics).
    for quantity in MapQuantity::ALL {
        harness.state_mut().map.quantity = quantity;
        harness.run_steps(1);
    }
}

/// "Save figure…" and "Save data…" go through the app's file dialog (here the in-app one,
/// as on a desktop without a file chooser), proposing the names the panel holds.
#[test]
fn the_tab_exports_the_figure_and_the_data() {
    let folder = tempfile::tempdir().expect("a temporary folder");
    let mut harness = harness_for("bowl-current");
    open_map(&mut harness);
    let (svg, csv) = (folder.path().join("map.svg"), folder.path().join("map.csv"));
    {
        let panel = &mut harness.state_mut().map;
        panel.export_dialog.backend = DialogBackend::InApp;
        panel.export_dialog.start_folder = Some(folder.path().to_path_buf());
        panel.figure_path = "map.svg".into();
        panel.data_path = "map.csv".into();
    }
    for button in ["Save figure…", "Save data…"] {
        harness.get_by_label(button).click();
        harness.run_steps(3);
        assert!(harness.state().map.export_dialog.is_open(), "{button}");
        harness.get_by_label("Save").click();
        harness.run_steps(3);
        assert!(!harness.state().map.export_dialog.is_open(), "{button}");
    }
    let text = std::fs::read_to_string(&svg).expect("the figure was written");
    assert!(text.starts_with("<svg") || text.contains("<svg"));
    assert!(text.contains("without replacement"));
    let rows = std::fs::read_to_string(&csv).expect("the data were written");
    let map = harness.state().map.map.as_ref().expect("a map");
    assert_eq!(rows.lines().count(), 1 + map.cells.len());
    let status = harness.state().map.status.clone().expect("a status");
    assert!(
        !status.is_error && status.text.contains("map.csv"),
        "{status:?}"
    );
    // A bad extension is refused with a message, nothing written.
    let txt = folder.path().join("map.txt");
    harness.state_mut().map.export_to(MapExport::Data, &txt);
    harness.run_steps(1);
    let status = harness.state().map.status.clone().expect("a status");
    assert!(
        status.is_error && status.text.contains("map.txt"),
        "{status:?}"
    );
    assert!(!txt.exists());
}

/// The seven-weight network has a map, but the Stationary-state tab draws two weights: a
/// click says so and stays on the map.
#[test]
fn a_landscape_of_more_than_two_weights_maps_but_does_not_open() {
    let mut harness = harness_for("regression-net");
    open_map(&mut harness);
    let (batch, e) = (1, stable_cell(&harness, Replacement::Wr, 1));
    let map = harness.state().map.map.as_ref().expect("a map");
    assert_eq!(map.minimum.len(), 7);
    let eta_before = harness.state().preset.dynamics.eta;
    let centre = harness.state().map.layout[0].cell_centre(batch, e);
    harness.hover_at(centre);
    harness.run_steps(1);
    harness.drag_at(centre);
    harness.run_steps(1);
    harness.drop_at(centre);
    harness.run_steps(2);
    let app = harness.state();
    assert_eq!(app.tab, Tab::Map);
    assert_eq!(app.preset.dynamics.eta, eta_before);
    let status = app.map.status.clone().expect("a status");
    assert!(
        status.is_error && status.text.contains("has 7"),
        "{status:?}"
    );
}
