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
//! This is the `load-dynamic` feature (a default). On iOS, and on desktop
//! with `default-features = false` and `download-binaries` (ort's prebuilt
//! library, downloaded at build time), the runtime is linked into the app,
//! so there is nothing to find.
//!
//! ONNX Runtime is loaded once per process; later requests for another file
//! keep the one already loaded (and say so in the log).

#[cfg(test)]
mod tests;

mod plugins;
mod search;

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

/// Environment variable that points at the ONNX Runtime library (or its folder).
pub const ORT_DYLIB_ENV: &str = "ORT_DYLIB_PATH";

/// Environment variable listing more folders (separated as `PATH` is) that
/// hold execution-provider plugin libraries.
pub const EP_PATH_ENV: &str = "MONO_DEPTH_EP_PATH";

/// The ONNX Runtime version the crate is built and tested against.
pub const ORT_VERSION: &str = "1.31.1";

pub use plugins::{ProviderPlugin, find_provider_plugins};
pub use search::{PlaceKind, RuntimeSearch, SearchedPlace};

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
        "ONNX Runtime library not found. Looked in:\n{}\nSet ORT_DYLIB_PATH to ONNX Runtime {ORT_VERSION}'s shared library or its folder \
         (`pip install onnxruntime=={ORT_VERSION}` puts it in onnxruntime/capi/), or set `MonoDepthPlugin::runtime_library`, \
         or put the library beside the executable; in this crate's repository `cargo xtask setup` installs it into target/onnxruntime",
        format_searched(searched)
    )]
    NotFound {
        /// Every place that was looked at, in order, and why it did not do.
        searched: Vec<SearchedPlace>,
    },
    /// A file was found but ONNX Runtime could not be loaded from it.
    #[error(
        "ONNX Runtime could not be loaded from {} ({origin}): {reason}. \
         It must be ONNX Runtime {ORT_VERSION} or newer (`pip install onnxruntime=={ORT_VERSION}` has one in onnxruntime/capi/; \
         in this crate's repository `cargo xtask setup` installs a known-good copy)",
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

#[cfg(all(feature = "load-dynamic", not(target_os = "ios")))]
fn load_library(search: &RuntimeSearch) -> Result<Option<PathBuf>, RuntimeError> {
    if cfg!(feature = "download-binaries") {
        tracing::warn!(
            "the `download-binaries` feature has no effect while `load-dynamic` (a default feature) is on: \
             the library is opened at start-up. To link ort's download instead, depend on bevy_mono_depth \
             with `default-features = false, features = [\"download-binaries\", …]`"
        );
    }
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

#[cfg(any(not(feature = "load-dynamic"), target_os = "ios"))]
fn load_library(_search: &RuntimeSearch) -> Result<Option<PathBuf>, RuntimeError> {
    // Linked into the app at build time (iOS; `download-binaries`; an
    // `ORT_LIB_PATH` build): nothing to open.
    tracing::info!("ONNX Runtime linked at build time");
    Ok(None)
}
