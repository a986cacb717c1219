//! `neqlab presets`: the lecture sequence, numbered, then any other shipped preset.

use std::fmt::{self, Display, Formatter};
use std::path::Path;

use neqlab::export::lecture::{self, LectureStep};
use neqlab::preset::{self, Preset};

/// List the shipped presets with their titles, the lecture sequence first and in order.
#[derive(clap::Args)]
pub struct PresetsArgs {
    /// Print only the names of the lecture's presets that have a figure, one per line
    /// (for shell loops: `for p in $(neqlab presets --figures); do ...; done`).
    #[arg(long)]
    figures: bool,
}

/// Print the list.
pub fn command(args: &PresetsArgs) {
    let lecture: Vec<(&LectureStep, String)> = lecture::LECTURE_SEQUENCE
        .iter()
        .filter_map(|step| shipped_title(step.preset).map(|title| (step, title)))
        .collect();
    if args.figures {
        for (step, _) in lecture.iter().filter(|(step, _)| step.panel.is_some()) {
            println!("{}", step.preset);
        }
        return;
    }
    print!("{}", PresetList { lecture: &lecture });
}

/// The title of a shipped preset: a landscape preset or the MNIST one.
fn shipped_title(name: &str) -> Option<String> {
    if let Some(text) = preset::shipped(name) {
        return Some(title(name, text));
    }
    neqlab::mnist::SHIPPED
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, text)| {
            neqlab::mnist::MnistPreset::from_toml(text, Path::new(name))
                .map(|p| format!("{}  (neqlab mnist)", p.title))
                .unwrap_or_default()
        })
}

fn title(name: &str, text: &str) -> String {
    Preset::from_toml(text, Path::new(name))
        .map(|p| p.title)
        .unwrap_or_default()
}

/// The numbered lecture sequence and the other shipped presets.
struct PresetList<'a> {
    lecture: &'a [(&'a LectureStep, String)],
}

impl Display for PresetList<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "Lecture sequence (draw one with `neqlab figure NAME --out NAME.png`):"
        )?;
        for (number, (step, step_title)) in self.lecture.iter().enumerate() {
            let panel = step
                .panel
                .map(|p| format!("[{p}]"))
                .unwrap_or_else(|| "[app]".into());
            writeln!(
                f,
                "{:>2}. {:<22} {:<12} {}",
                number + 1,
                step.preset,
                panel,
                step_title
            )?;
            writeln!(f, "    {:<22} {:<12} {}", "", "", step.lesson)?;
        }
        let others: Vec<&(&str, &str)> = preset::SHIPPED
            .iter()
            .filter(|(name, _)| lecture::lecture_step(name).is_none())
            .collect();
        if !others.is_empty() {
            writeln!(f, "\nOther shipped presets:")?;
            for (name, text) in others {
                writeln!(f, "    {name:<22} {}", title(name, text))?;
            }
        }
        Ok(())
    }
}
