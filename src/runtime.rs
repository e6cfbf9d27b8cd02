//! Finding and loading the ONNX Runtime library.
//!
//! On desktop the crate opens ONNX Runtime's shared library at start-up
//! (`ort`'s `load-dynamic`), so the same binary works with whatever 1.31+
//! runtime the user provides. The library is looked for, in order:
//!
//! 1. the explicit path in the plugin's config ([`RuntimeSearch::explicit`]),
//! 2. the `ORT_DYLIB_PATH` environment variable (a file, or a folder holding
//!    the library under its usual name),
//! 3. beside the running executable.
//!
//! A place that does not hold the library is skipped; when none does, the
//! error names every place that was looked at and how to fix it. A file that
//! exists but cannot be loaded (not a library, too old a version) is an error
//! naming that file.
//!
//! On iOS the runtime is linked statically, so there is nothing to find.
//!
//! ONNX Runtime is loaded once per process; later requests for another file
//! keep the one already loaded (and say so in the log).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Environment variable that points at the ONNX Runtime library (or its folder).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Environment variable listing more folders (separated as `PATH` is) that
/// hold execution-provider plugin libraries.
pub const EP_PATH_ENV: &str = "MONO_DEPTH_EP_PATH";

/// The ONNX Runtime version the crate is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";

/// File names the library goes by on this platform, most specific first.
pub fn library_file_names() -> &'static [&'static str] {
    if cfg!(target_os = "windows") {
        &["onnxruntime.dll"]
    } else if cfg!(target_vendor = "apple") {
        &["libonnxruntime.1.31.1.dylib", "libonnxruntime.dylib"]
    } else {
        &["libonnxruntime.so.1.31.1", "libonnxruntime.so"]
    }
}

/// Errors from locating or loading ONNX Runtime.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RuntimeError {
    /// No place in the search order held the library.
    #[error(
        "ONNX Runtime library not found. Looked in:\n{}\nRun `cargo xtask setup` (it downloads ONNX Runtime {ORT_VERSION} into target/onnxruntime), \
         or set ORT_DYLIB_PATH to the libonnxruntime shared library, or set `MonoDepthPlugin::runtime_library`",
        format_searched(searched)
    )]
    NotFound {
        /// Every place that was looked at, in order, and why it did not do.
        searched: Vec<SearchedPlace>,
    },
    /// A file was found but ONNX Runtime could not be loaded from it.
    #[error(
        "ONNX Runtime could not be loaded from {} ({origin}): {reason}. \
         It must be ONNX Runtime {ORT_VERSION} or newer; run `cargo xtask setup` for a known-good copy",
        path.display()
    )]
    LoadFailed {
        /// The file that failed to load.
        path: PathBuf,
        /// Where the path came from.
        origin: PlaceKind,
        /// What the loader said.
        reason: String,
    },
    /// The library loaded but creating the ONNX Runtime environment failed.
    #[error("ONNX Runtime environment could not be created: {0}")]
    Environment(String),
}

fn format_searched(searched: &[SearchedPlace]) -> String {
    searched
        .iter()
        .enumerate()
        .map(|(i, place)| format!("  {}. {place}", i + 1))
        .collect::<Vec<_>>()
        .join("\n")
}

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

/// A loaded ONNX Runtime: the file it came from, the `ort` environment and
/// the execution-provider plugins offered to it.
#[derive(Debug, Clone)]
pub struct Runtime {
    /// The library file that was loaded (`None` when linked statically).
    pub library: Option<PathBuf>,
    /// The `ort` environment sessions are created in.
    pub environment: ort::environment::Environment,
    /// Execution-provider plugin libraries found and registered (or not).
    pub plugins: Vec<ProviderPlugin>,
}

/// An execution-provider plugin library (ONNX Runtime 1.23+ loads these at
/// run time: `libonnxruntime_providers_<name>[_plugin].so`, `.dylib`, or
/// `onnxruntime_providers_<name>[_plugin].dll`) that was found and offered
/// to the environment. Only plugins' folders are searched, never ONNX
/// Runtime's own, where its built-in provider libraries live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderPlugin {
    /// `<name>` from the file name (e.g. `openvino`).
    pub name: String,
    /// The library file.
    pub path: PathBuf,
    /// Whether ONNX Runtime accepted it, and why not.
    pub registered: Result<(), String>,
}

/// Plugin libraries in `dirs` and their immediate subfolders, by name (the
/// first file of a name wins), in a stable order.
pub fn find_provider_plugins(dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    let mut add = |path: PathBuf| {
        let Some(name) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(plugin_name)
        else {
            return;
        };
        if path.is_file() && !found.iter().any(|(n, _)| *n == name) {
            found.push((name, path));
        }
    };
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                let Ok(inner) = std::fs::read_dir(&path) else {
                    continue;
                };
                let mut inner: Vec<PathBuf> = inner.flatten().map(|e| e.path()).collect();
                inner.sort();
                inner.into_iter().for_each(&mut add);
            } else {
                add(path);
            }
        }
    }
    found
}

/// `<name>` of a plugin library file name, for this platform's naming.
fn plugin_name(file: &str) -> Option<String> {
    let (prefix, suffix) = if cfg!(target_os = "windows") {
        ("onnxruntime_providers_", ".dll")
    } else if cfg!(target_vendor = "apple") {
        ("libonnxruntime_providers_", ".dylib")
    } else {
        ("libonnxruntime_providers_", ".so")
    };
    // OpenVINO's wheel names it `…_openvino_plugin.so`, WebGPU's `…_webgpu.so`.
    let stem = file.strip_prefix(prefix)?.strip_suffix(suffix)?;
    let name = stem.strip_suffix("_plugin").unwrap_or(stem);
    (!name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        .then(|| name.to_owned())
}

/// The runtime of this process, once loaded: `ort` allows one library and
/// one environment per process.
static LOADED: OnceLock<Runtime> = OnceLock::new();
/// Serialises first-time loading.
static LOAD_LOCK: Mutex<()> = Mutex::new(());

impl Runtime {
    /// Locates ONNX Runtime with `search` and loads it. The first successful
    /// load in a process is kept; later calls return it (and warn if `search`
    /// would have picked another file).
    pub fn load(search: &RuntimeSearch) -> Result<Self, RuntimeError> {
        // A poisoned lock only means another thread panicked while loading;
        // the state it guards is `ort`'s own and stays consistent.
        let _guard = LOAD_LOCK.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(loaded) = LOADED.get() {
            if let Ok((wanted, _)) = search.locate()
                && loaded.library.as_ref() != Some(&wanted)
            {
                tracing::warn!(
                    "ONNX Runtime is already loaded from {:?}; keeping it instead of {}",
                    loaded.library,
                    wanted.display()
                );
            }
            return Ok(loaded.clone());
        }
        let library = load_library(search)?;
        let environment = ort::init()
            .with_name("bevy_mono_depth")
            .build()
            .map_err(|e| RuntimeError::Environment(e.to_string()))?;
        // Plugins in `providers/` beside the library, then the configured folders.
        let mut dirs: Vec<PathBuf> = library
            .as_ref()
            .and_then(|l| l.parent())
            .map(|d| d.join("providers"))
            .into_iter()
            .collect();
        dirs.extend(search.provider_dirs.iter().cloned());
        let plugins = find_provider_plugins(&dirs)
            .into_iter()
            .map(|(name, path)| {
                let registered = environment
                    .register_ep_library(&name, &path)
                    .map_err(|e| e.to_string());
                match &registered {
                    Ok(()) => {
                        tracing::info!("execution provider plugin {name} from {}", path.display())
                    }
                    Err(e) => tracing::warn!(
                        "execution provider plugin {} could not be registered: {e}",
                        path.display()
                    ),
                }
                ProviderPlugin {
                    name,
                    path,
                    registered,
                }
            })
            .collect();
        let runtime = Self {
            library,
            environment,
            plugins,
        };
        // Only this function sets it, under the lock, after checking it is empty.
        let _ = LOADED.set(runtime.clone());
        Ok(runtime)
    }

    /// The ONNX Runtime build string (version, commit, flags).
    pub fn build_info(&self) -> &'static str {
        ort::info()
    }
}

#[cfg(not(target_os = "ios"))]
fn load_library(search: &RuntimeSearch) -> Result<Option<PathBuf>, RuntimeError> {
    let (path, origin) = search.locate()?;
    match ort::init_from(&path) {
        Ok(_) => {
            tracing::info!("ONNX Runtime loaded from {}", path.display());
            Ok(Some(path))
        }
        Err(e) => Err(RuntimeError::LoadFailed {
            path,
            origin,
            reason: e.to_string(),
        }),
    }
}

#[cfg(target_os = "ios")]
fn load_library(_search: &RuntimeSearch) -> Result<Option<PathBuf>, RuntimeError> {
    // Linked statically into the app: nothing to open.
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plugin_libraries_are_found_by_name_in_folders_and_subfolders() {
        let dir = temp_dir("plugins");
        let ext = if cfg!(target_os = "windows") {
            "dll"
        } else if cfg!(target_vendor = "apple") {
            "dylib"
        } else {
            "so"
        };
        let lib = if cfg!(target_os = "windows") {
            ""
        } else {
            "lib"
        };
        let file = |name: &str| format!("{lib}onnxruntime_providers_{name}_plugin.{ext}");
        std::fs::create_dir_all(dir.join("openvino")).unwrap();
        std::fs::create_dir_all(dir.join("webgpu")).unwrap();
        std::fs::write(dir.join("openvino").join(file("openvino")), b"x").unwrap();
        // WebGPU's wheel names its library without `_plugin`.
        std::fs::write(
            dir.join("webgpu")
                .join(format!("{lib}onnxruntime_providers_webgpu.{ext}")),
            b"x",
        )
        .unwrap();
        // Versioned copies, other libraries and odd names are not plugins.
        std::fs::write(
            dir.join("openvino").join(format!("{}.1", file("openvino"))),
            b"x",
        )
        .unwrap();
        std::fs::write(
            dir.join("openvino").join(format!("{lib}openvino.{ext}")),
            b"x",
        )
        .unwrap();
        std::fs::write(dir.join(file("bad name")), b"x").unwrap();
        // A second folder with another openvino: the first one wins.
        let other = temp_dir("plugins_other");
        std::fs::write(other.join(file("openvino")), b"x").unwrap();
        let found = find_provider_plugins(&[dir.clone(), other.clone(), dir.join("gone")]);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["openvino", "webgpu"]);
        assert_eq!(found[0].1, dir.join("openvino").join(file("openvino")));
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&other);
    }

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "bevy_mono_depth_runtime_{name}_{}",
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    #[test]
    fn explicit_path_wins_over_env_and_exe_dir() {
        let dir = temp_dir("order");
        let explicit = dir.join("explicit.so");
        let env_lib = dir.join("env.so");
        std::fs::write(&explicit, b"x").expect("write");
        std::fs::write(&env_lib, b"x").expect("write");
        let search = RuntimeSearch {
            explicit: Some(explicit.clone()),
            env_var: Some(env_lib.clone()),
            exe_dir: Some(dir.clone()),
            provider_dirs: Vec::new(),
        };
        assert_eq!(search.locate().unwrap(), (explicit, PlaceKind::Explicit));
        let search = RuntimeSearch {
            explicit: None,
            ..search
        };
        assert_eq!(search.locate().unwrap(), (env_lib, PlaceKind::EnvVar));
    }

    #[test]
    fn env_var_may_name_a_folder() {
        let dir = temp_dir("folder");
        let lib = dir.join(library_file_names()[0]);
        std::fs::write(&lib, b"x").expect("write");
        let search = RuntimeSearch {
            explicit: None,
            env_var: Some(dir.clone()),
            exe_dir: None,
            provider_dirs: Vec::new(),
        };
        assert_eq!(search.locate().unwrap(), (lib, PlaceKind::EnvVar));
    }

    #[test]
    fn falls_back_to_the_executable_folder() {
        let dir = temp_dir("exe");
        let lib = dir.join(library_file_names()[1 % library_file_names().len()]);
        std::fs::write(&lib, b"x").expect("write");
        let search = RuntimeSearch {
            explicit: Some(dir.join("missing.so")),
            env_var: Some(dir.join("also-missing")),
            exe_dir: Some(dir.clone()),
            provider_dirs: Vec::new(),
        };
        assert_eq!(search.locate().unwrap(), (lib, PlaceKind::BesideExecutable));
    }

    #[test]
    fn not_found_names_every_place_and_the_fix() {
        let dir = temp_dir("none");
        let search = RuntimeSearch {
            explicit: None,
            env_var: Some(dir.join("wrong/libonnxruntime.so")),
            exe_dir: Some(dir.clone()),
            provider_dirs: Vec::new(),
        };
        let err = search.locate().unwrap_err();
        let RuntimeError::NotFound { searched } = &err else {
            panic!("expected NotFound, got {err:?}");
        };
        let kinds: Vec<_> = searched.iter().map(|s| s.kind).collect();
        assert_eq!(
            kinds,
            [
                PlaceKind::Explicit,
                PlaceKind::EnvVar,
                PlaceKind::BesideExecutable
            ]
        );
        let text = err.to_string();
        assert!(
            text.contains("MonoDepthPlugin::runtime_library: not set"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "ORT_DYLIB_PATH = {}",
                dir.join("wrong/libonnxruntime.so").display()
            )),
            "{text}"
        );
        assert!(text.contains("no such file or folder"), "{text}");
        assert!(
            text.contains(&format!("beside the executable = {}", dir.display())),
            "{text}"
        );
        assert!(text.contains("cargo xtask setup"), "{text}");
    }
}
