//! Lecture mode: the shipped lecture sequence ([`neqlab::export::lecture::LECTURE_SEQUENCE`],
//! the order `neqlab presets` prints) as slides. PageDown and PageUp (what a presenter's
//! clicker sends) step through it; each slide's caption is its lesson; a slide left and
//! revisited shows what it showed when it was left (its settings, tab and arrow gain).

use std::path::{Path, PathBuf};

use neqlab::export::lecture::{self, LectureStep};
use neqlab::mnist::MnistPreset;
use neqlab::preset::{self, Preset};

use super::Tab;

/// What a slide opens.
#[derive(Clone, Debug)]
pub enum SlideContent {
    /// A landscape preset, shown on the stationary-state (or posterior) tab.
    Landscape(Box<Preset>),
    /// The MNIST experiment, on its tab.
    Mnist,
}

/// One slide: a step of the lecture whose preset is shipped in this build.
#[derive(Clone, Debug)]
pub struct Slide {
    /// The step of [`lecture::LECTURE_SEQUENCE`].
    pub step: &'static LectureStep,
    /// The preset's title (the window title while the slide shows).
    pub title: String,
    pub content: SlideContent,
}

impl Slide {
    /// The path that labels the slide's preset (`presets/NAME.toml`).
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("presets/{}.toml", self.step.preset))
    }
}

/// What a slide showed when the lecture left it.
#[derive(Clone, Debug)]
pub struct Shown {
    /// The settings on screen (perhaps edited during the lecture).
    pub preset: Preset,
    /// The preset as loaded (what "modified" compares with).
    pub original: Preset,
    pub path: PathBuf,
    pub tab: Tab,
    pub arrow_gain: f64,
    /// The prediction on screen (the slide's walkers, parked with it, were measured against
    /// it; it is shown again instead of being solved anew).
    pub prediction: Option<std::sync::Arc<neqlab::stationary::Prediction>>,
}

/// The lecture's slides, where it stands, and what each visited slide showed.
#[derive(Clone, Debug)]
pub struct LectureMode {
    /// Whether the lecture is on (the counter and lessons show).
    pub active: bool,
    /// The current slide.
    pub index: usize,
    pub slides: Vec<Slide>,
    kept: Vec<Option<Shown>>,
}

impl Default for LectureMode {
    fn default() -> Self {
        let slides = shipped_slides();
        let kept = vec![None; slides.len()];
        Self {
            active: false,
            index: 0,
            slides,
            kept,
        }
    }
}

/// The slides of the lecture sequence whose presets this build ships, in order.
pub fn shipped_slides() -> Vec<Slide> {
    lecture::LECTURE_SEQUENCE
        .iter()
        .filter_map(|step| {
            let label = PathBuf::from(format!("presets/{}.toml", step.preset));
            if let Some(text) = preset::shipped(step.preset) {
                let preset = Preset::from_toml(text, &label).ok()?;
                return Some(Slide {
                    step,
                    title: preset.title.clone(),
                    content: SlideContent::Landscape(Box::new(preset)),
                });
            }
            let (_, text) = neqlab::mnist::SHIPPED
                .iter()
                .find(|(name, _)| *name == step.preset)?;
            let mnist = MnistPreset::from_toml(text, &label).ok()?;
            Some(Slide {
                step,
                title: mnist.title,
                content: SlideContent::Mnist,
            })
        })
        .collect()
}

impl LectureMode {
    /// The current slide.
    pub fn current(&self) -> Option<&Slide> {
        self.slides.get(self.index)
    }

    /// "3 / 10".
    pub fn counter(&self) -> String {
        format!("{} / {}", self.index + 1, self.slides.len())
    }

    /// The slide of a preset path (`presets/NAME.toml` or a file named like a shipped preset).
    pub fn index_of(&self, path: &Path) -> Option<usize> {
        let stem = path.file_stem()?.to_str()?;
        self.slides.iter().position(|s| s.step.preset == stem)
    }

    /// Remember what the current slide shows as the lecture leaves it.
    pub fn keep(&mut self, shown: Shown) {
        if let Some(slot) = self.kept.get_mut(self.index) {
            *slot = Some(shown);
        }
    }

    /// What slide `index` showed when it was last left, if it was visited.
    pub fn kept(&self, index: usize) -> Option<&Shown> {
        self.kept.get(index).and_then(Option::as_ref)
    }

    /// The slide `offset` slides from the current one, clamped to the sequence; when the
    /// lecture is off, the slide of `path` (or the first) is where it starts.
    pub fn target(&self, offset: isize, path: &Path) -> Option<usize> {
        let last = self.slides.len().checked_sub(1)?;
        if !self.active {
            return Some(match self.index_of(path) {
                Some(index) => index.saturating_add_signed(offset).min(last),
                None => 0,
            });
        }
        Some(self.index.saturating_add_signed(offset).min(last))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slides_follow_the_printed_lecture_order() {
        let lecture = LectureMode::default();
        let names: Vec<&str> = lecture.slides.iter().map(|s| s.step.preset).collect();
        let sequence: Vec<&str> = lecture::LECTURE_SEQUENCE.iter().map(|s| s.preset).collect();
        // Every step of the sequence is shipped in this build, MNIST included.
        assert_eq!(names, sequence);
        assert!(matches!(
            lecture.slides.last().map(|s| &s.content),
            Some(SlideContent::Mnist)
        ));
        assert_eq!(lecture.counter(), format!("1 / {}", sequence.len()));
    }

    #[test]
    fn stepping_is_clamped_and_starts_at_the_current_preset() {
        let mut lecture = LectureMode::default();
        let last = lecture.slides.len() - 1;
        let bowl = Path::new("presets/bowl-current.toml");
        assert_eq!(lecture.target(1, bowl), Some(2));
        assert_eq!(lecture.target(1, Path::new("elsewhere.toml")), Some(0));
        lecture.active = true;
        lecture.index = 0;
        assert_eq!(lecture.target(-1, bowl), Some(0));
        lecture.index = last;
        assert_eq!(lecture.target(1, bowl), Some(last));
    }
}
