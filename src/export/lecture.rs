//! The lecture sequence: shipped presets in teaching order, each with the figure panel that
//! tells its story. `neqlab presets` prints it numbered; `neqlab figure NAME` draws the panel
//! listed here unless `--panel` says otherwise.

use super::panels::PanelKind;

/// One step of the lecture.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LectureStep {
    /// The shipped preset's name.
    pub preset: &'static str,
    /// The panel drawn for it; `None` when the preset has no figure (e.g. MNIST runs in the
    /// app as a background job).
    pub panel: Option<PanelKind>,
    /// What the step shows, in a few words.
    pub lesson: &'static str,
    /// Magnification of the current arrows (1: the physical scale shared by every figure).
    pub arrow_gain: f64,
}

/// The lecture, in order. Presets not shipped in this build are skipped by the callers.
pub const LECTURE_SEQUENCE: &[LectureStep] = &[
    LectureStep {
        preset: "bowl-equilibrium",
        panel: Some(PanelKind::Both),
        lesson: "noise aligned with the curvature: equilibrium, no current",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "bowl-current",
        panel: Some(PanelKind::Both),
        lesson: "tilted noise: a rotating current in the stationary state",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "bowl-wor",
        // SGD without replacement has no Fokker–Planck prediction (no thermal noise).
        panel: Some(PanelKind::Sim),
        lesson: "without replacement: the cloud shrinks and the circulation with it",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "double-well",
        panel: Some(PanelKind::Both),
        lesson: "hopping between two minima",
        // Its currents are real (simulation and Fokker–Planck agree) but produce about a
        // thousandth of the tilted bowl's entropy: magnified so that they can be seen.
        arrow_gain: 10.0,
    },
    LectureStep {
        preset: "sgld-currents",
        panel: Some(PanelKind::Both),
        lesson: "SGLD: thermal noise does not remove the minibatch current",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "sgworld-equilibrium",
        panel: Some(PanelKind::Both),
        lesson: "SGWORLD: without replacement, Langevin dynamics is in equilibrium",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "sgld-vs-sgworld",
        panel: Some(PanelKind::Posterior),
        lesson: "sampling a posterior: SGWORLD needs far fewer steps for the same accuracy",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "regression-net",
        panel: Some(PanelKind::Ft),
        lesson: "a seven-weight network: entropy production and fluctuation theorems",
        arrow_gain: 1.0,
    },
    LectureStep {
        preset: "regression-net-2d",
        panel: Some(PanelKind::Both),
        lesson: "two weights of the trained network: currents in a real loss landscape",
        arrow_gain: 5.0,
    },
    LectureStep {
        preset: "mnist",
        panel: None,
        lesson: "a real network on MNIST",
        arrow_gain: 1.0,
    },
];

/// The lecture step of a shipped preset, if it is part of the lecture.
pub fn lecture_step(preset: &str) -> Option<&'static LectureStep> {
    LECTURE_SEQUENCE.iter().find(|step| step.preset == preset)
}

/// The arrow magnification the lecture uses for a preset (1 outside the lecture).
pub fn default_arrow_gain(preset: &str) -> f64 {
    lecture_step(preset).map_or(1.0, |step| step.arrow_gain)
}

/// The panel `neqlab figure` draws when none is named: the lecture's choice for a preset of
/// the sequence, else the density panels for a 2-D landscape, the posterior benchmark for a
/// linear-Gaussian one, and the fluctuation theorems otherwise.
pub fn default_panel(preset_name: &str, experiment: &crate::preset::Experiment) -> PanelKind {
    if let Some(panel) = lecture_step(preset_name).and_then(|step| step.panel) {
        return panel;
    }
    if experiment.landscape.dim() == 2 {
        PanelKind::Both
    } else if experiment.landscape.quadratic().is_some() {
        PanelKind::Posterior
    } else {
        PanelKind::Ft
    }
}
