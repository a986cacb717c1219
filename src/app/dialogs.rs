//! File dialogs that never block the window and work on any desktop.
//!
//! Where the desktop has a file chooser (an xdg-desktop-portal that D-Bus can start, or
//! zenity; always on Windows and macOS), `rfd` shows it on a named thread and the answer
//! comes back through a channel, so the window keeps drawing while the dialog is open.
//! Elsewhere (a bare X session, Xvfb) an in-app dialog from `egui_file` opens inside the
//! window. `NEQLAB_FILE_DIALOG=in-app` (or `desktop`) forces the choice.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// Open a file, save a file, or choose a folder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    OpenFile,
    SaveFile,
    Folder,
}

/// What to ask, and what the answer is for (`P`, handed back with the path).
#[derive(Clone, Debug)]
pub struct DialogRequest<P> {
    pub purpose: P,
    pub kind: DialogKind,
    /// The filter's name ("preset") and the extensions it shows (none: every file).
    pub filter: (&'static str, &'static [&'static str]),
    /// The proposed file name of a save.
    pub file_name: Option<String>,
}

impl DialogRequest<()> {
    /// Choose a folder.
    pub fn folder() -> Self {
        Self {
            purpose: (),
            kind: DialogKind::Folder,
            filter: ("", &[]),
            file_name: None,
        }
    }
}

/// Which dialog answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogBackend {
    /// The desktop's own, on a thread (rfd).
    Desktop,
    /// An `egui_file` window inside the app.
    InApp,
}

impl DialogBackend {
    /// The backend for this session: `NEQLAB_FILE_DIALOG` if set, else the desktop's
    /// dialog where one can be had.
    pub fn detect() -> Self {
        match std::env::var("NEQLAB_FILE_DIALOG").as_deref() {
            Ok("in-app") => DialogBackend::InApp,
            Ok("desktop") => DialogBackend::Desktop,
            _ if desktop_dialog_available() => DialogBackend::Desktop,
            _ => DialogBackend::InApp,
        }
    }
}

/// Whether rfd can show a dialog: on Linux it needs the portal (a session bus and the
/// portal's D-Bus service) or zenity, and otherwise returns nothing at all.
fn desktop_dialog_available() -> bool {
    if !cfg!(target_os = "linux") {
        return true;
    }
    let data_dirs =
        std::env::var("XDG_DATA_DIRS").unwrap_or_else(|_| "/usr/local/share:/usr/share".into());
    let portal = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some()
        && data_dirs.split(':').any(|dir| {
            Path::new(dir)
                .join("dbus-1/services/org.freedesktop.portal.Desktop.service")
                .exists()
        });
    let zenity = std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join("zenity").is_file()));
    portal || zenity
}

/// The open dialog, if any: its purpose and how its answer arrives.
enum Open<P> {
    Desktop(P, Receiver<Option<PathBuf>>),
    InApp(P, Box<egui_file::FileDialog>),
}

/// At most one file dialog at a time, desktop or in-app.
pub struct FileDialogs<P> {
    pub backend: DialogBackend,
    /// Where the in-app dialog opens (default: the working directory).
    pub start_folder: Option<PathBuf>,
    open: Option<Open<P>>,
}

impl<P> Default for FileDialogs<P> {
    fn default() -> Self {
        Self::new(DialogBackend::detect())
    }
}

impl<P> FileDialogs<P> {
    pub fn new(backend: DialogBackend) -> Self {
        Self {
            backend,
            start_folder: None,
            open: None,
        }
    }

    /// Whether a dialog is open.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }
}

impl<P: Send + 'static> FileDialogs<P> {
    /// Open a dialog (ignored while one is open); the answer comes from [`Self::ui`].
    pub fn request(&mut self, ctx: &egui::Context, request: DialogRequest<P>) {
        if self.open.is_some() {
            return;
        }
        self.open = Some(match self.backend {
            DialogBackend::Desktop => match desktop(ctx, &request) {
                Ok(answer) => Open::Desktop(request.purpose, answer),
                Err(_) => in_app(request, self.start_folder.as_deref()),
            },
            DialogBackend::InApp => in_app(request, self.start_folder.as_deref()),
        });
    }

    /// Draw the in-app dialog and collect an answer: the purpose and the chosen path, once.
    pub fn ui(&mut self, ctx: &egui::Context) -> Option<(P, PathBuf)> {
        let (answer, done) = match self.open.as_mut()? {
            Open::Desktop(_, receiver) => match receiver.try_recv() {
                Ok(path) => (path, true),
                Err(TryRecvError::Empty) => (None, false),
                Err(TryRecvError::Disconnected) => (None, true),
            },
            Open::InApp(_, dialog) => {
                dialog.show(ctx);
                match dialog.state() {
                    egui_file::State::Open => (None, false),
                    egui_file::State::Selected => (dialog.path().map(Path::to_path_buf), true),
                    _ => (None, true),
                }
            }
        };
        if !done {
            return None;
        }
        let purpose = match self.open.take()? {
            Open::Desktop(purpose, _) | Open::InApp(purpose, _) => purpose,
        };
        answer.map(|path| (purpose, path))
    }
}

/// The desktop dialog on a named thread; the answer (None: cancelled) on the channel.
fn desktop<P>(
    ctx: &egui::Context,
    request: &DialogRequest<P>,
) -> std::io::Result<Receiver<Option<PathBuf>>> {
    let (sender, receiver) = channel();
    let (name, extensions) = request.filter;
    let mut dialog = rfd::FileDialog::new();
    if !extensions.is_empty() {
        dialog = dialog.add_filter(name, extensions);
    }
    if let Some(file_name) = &request.file_name {
        dialog = dialog.set_file_name(file_name);
    }
    let kind = request.kind;
    let ctx = ctx.clone();
    std::thread::Builder::new()
        .name("file-dialog".into())
        .spawn(move || {
            let path = match kind {
                DialogKind::OpenFile => dialog.pick_file(),
                DialogKind::SaveFile => dialog.save_file(),
                DialogKind::Folder => dialog.pick_folder(),
            };
            let _ = sender.send(path);
            ctx.request_repaint();
        })?;
    Ok(receiver)
}

/// The in-app dialog, opened in `start_folder` or the working directory.
fn in_app<P>(request: DialogRequest<P>, start_folder: Option<&Path>) -> Open<P> {
    let (_, extensions) = request.filter;
    let (mut dialog, title) = match request.kind {
        DialogKind::OpenFile => (egui_file::FileDialog::open_file(), "Open file"),
        DialogKind::SaveFile => (egui_file::FileDialog::save_file(), "Save file"),
        DialogKind::Folder => (egui_file::FileDialog::select_folder(), "Choose a folder"),
    };
    dialog = dialog.title(title);
    if !extensions.is_empty() && request.kind == DialogKind::OpenFile {
        dialog = dialog.show_files_filter(Box::new(move |path: &Path| {
            path.is_dir()
                || path
                    .extension()
                    .and_then(|e| e.to_str())
                    .is_some_and(|e| extensions.contains(&e))
        }));
    }
    if let Some(file_name) = &request.file_name {
        dialog = dialog.default_filename(file_name);
    }
    if let Some(folder) = start_folder {
        dialog = dialog.initial_path(folder);
    }
    let mut dialog = dialog
        .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
        .default_size(egui::vec2(640.0, 420.0))
        .show_new_folder(false)
        .show_rename(false)
        .keep_on_top(true);
    dialog.open();
    Open::InApp(request.purpose, Box::new(dialog))
}
