//! Where the ONNX Runtime library is looked for, in order, and what each
//! place held.

use std::fmt;
use std::path::{Path, PathBuf};

use super::{EP_PATH_ENV, ORT_DYLIB_ENV, RuntimeError, library_file_names};

/// Which step of the search order a place belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaceKind {
    /// The explicit path from the plugin config.
    Explicit,
    /// The `ORT_DYLIB_PATH` environment variable.
    EnvVar,
    /// The folder of the running executable.
    BesideExecutable,
}

impl fmt::Display for PlaceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PlaceKind::Explicit => "MonoDepthPlugin::runtime_library",
            PlaceKind::EnvVar => ORT_DYLIB_ENV,
            PlaceKind::BesideExecutable => "beside the executable",
        })
    }
}

/// One place the search looked at and why it did not hold the library.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchedPlace {
    /// Which step of the search order this was.
    pub kind: PlaceKind,
    /// The path looked at, if the step had one.
    pub path: Option<PathBuf>,
    /// Why the place was skipped.
    pub why: String,
}

impl fmt::Display for SearchedPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.path {
            Some(path) => write!(f, "{} = {}: {}", self.kind, path.display(), self.why),
            None => write!(f, "{}: {}", self.kind, self.why),
        }
    }
}

/// The inputs of the search, so it can be run (and tested) without touching
/// the process environment.
#[derive(Debug, Clone, Default)]
pub struct RuntimeSearch {
    /// Explicit path from the plugin config (file or folder).
    pub explicit: Option<PathBuf>,
    /// Value of `ORT_DYLIB_PATH`, if set and not empty.
    pub env_var: Option<PathBuf>,
    /// Folder of the running executable.
    pub exe_dir: Option<PathBuf>,
    /// More folders holding execution-provider plugin libraries (from
    /// [`EP_PATH_ENV`]), besides the `providers` folder beside the library.
    pub provider_dirs: Vec<PathBuf>,
}

impl RuntimeSearch {
    /// The search for this process: `explicit`, then `ORT_DYLIB_PATH`, then the
    /// executable's folder.
    pub fn from_env(explicit: Option<PathBuf>) -> Self {
        let env_var = std::env::var_os(ORT_DYLIB_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let exe_dir = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf));
        let provider_dirs = std::env::var_os(EP_PATH_ENV)
            .map(|v| std::env::split_paths(&v).collect())
            .unwrap_or_default();
        Self {
            explicit,
            env_var,
            exe_dir,
            provider_dirs,
        }
    }

    /// Finds the library file without loading it.
    pub fn locate(&self) -> Result<(PathBuf, PlaceKind), RuntimeError> {
        let mut searched = Vec::new();
        let steps = [
            (PlaceKind::Explicit, &self.explicit, "not set"),
            (PlaceKind::EnvVar, &self.env_var, "not set"),
            (
                PlaceKind::BesideExecutable,
                &self.exe_dir,
                "the executable's folder is unknown",
            ),
        ];
        for (kind, path, unset) in steps {
            let Some(path) = path else {
                searched.push(SearchedPlace {
                    kind,
                    path: None,
                    why: unset.to_owned(),
                });
                continue;
            };
            match library_in(path, kind == PlaceKind::BesideExecutable) {
                Ok(found) => return Ok((found, kind)),
                Err(why) => searched.push(SearchedPlace {
                    kind,
                    path: Some(path.clone()),
                    why,
                }),
            }
        }
        Err(RuntimeError::NotFound { searched })
    }
}

/// The library at `path`: the file itself, or the library under one of its
/// usual names inside the folder `path`.
fn library_in(path: &Path, folder_only: bool) -> Result<PathBuf, String> {
    if path.is_file() && !folder_only {
        return Ok(path.to_path_buf());
    }
    if path.is_dir() {
        for name in library_file_names() {
            let candidate = path.join(name);
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
        return Err(format!(
            "folder holds none of {}",
            library_file_names().join(", ")
        ));
    }
    if path.exists() {
        Err("not a file or folder".to_owned())
    } else {
        Err("no such file or folder".to_owned())
    }
}
