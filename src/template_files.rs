//! Reads a templates directory (templates, partials, locale files) into the
//! [`TemplateSources`] the pure renderer is built from: the only file reading behind
//! [`Renderer`] and [`Locales`].

use std::path::{Path, PathBuf};

use crate::render::{partial_name, template_name, Locales, RenderError, Renderer, TemplateSources};

impl Renderer {
    /// Reads every template, partial and locale under `dir` and checks them (see
    /// [`Renderer::from_sources`]).
    pub fn load(dir: &Path) -> Result<Renderer, RenderError> {
        Renderer::from_sources(&read_sources(dir)?)
    }
}

impl Locales {
    /// Reads every `<dir>/*.toml` (see [`Locales::from_files`]); `en.toml` must be there.
    pub fn load(dir: &Path) -> Result<Locales, RenderError> {
        Locales::from_files(dir, &read_locale_files(dir)?)
    }
}

/// The contents of the templates directory `dir`.
pub fn read_sources(dir: &Path) -> Result<TemplateSources, RenderError> {
    let locales_dir = dir.join("i18n");
    let locales = read_locale_files(&locales_dir)?;
    let partials_dir = dir.join("partials");
    let partials = if partials_dir.is_dir() {
        read_files(&partials_dir, |p| partial_name(p).is_some())?
    } else {
        Vec::new()
    };
    let templates = read_files(dir, |p| template_name(p).is_some())?;
    Ok(TemplateSources {
        dir: dir.to_path_buf(),
        partials,
        templates,
        locales_dir,
        locales,
    })
}

/// `(path, text)` of each `<dir>/<locale>.toml`.
fn read_locale_files(dir: &Path) -> Result<Vec<(PathBuf, String)>, RenderError> {
    read_files(dir, |p| {
        p.extension().and_then(|e| e.to_str()) == Some("toml")
            && p.file_stem().and_then(|s| s.to_str()).is_some()
    })
}

/// `(path, text)` of each file in `dir` that `wanted` accepts, in file-name order.
fn read_files(
    dir: &Path,
    wanted: impl Fn(&Path) -> bool,
) -> Result<Vec<(PathBuf, String)>, RenderError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| RenderError::Io { path, source }
    };
    let mut paths = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let path = entry.map_err(io(dir))?.path();
        if path.is_file() && wanted(&path) {
            paths.push(path);
        }
    }
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).map_err(io(&path))?;
            Ok((path, text))
        })
        .collect()
}
