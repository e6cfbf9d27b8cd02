//! What `Auto`'s trial decisions are keyed on, and the JSON file that keeps
//! them between starts.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::SessionOptions;
use super::trial::{Candidate, ModelFile, TrialReport};
use crate::runtime::Runtime;

/// Everything a decision depends on, as one readable string.
pub(super) fn key(
    runtime: &Runtime,
    model: &Path,
    options: &SessionOptions,
    candidates: &[Candidate],
) -> std::io::Result<String> {
    let devices: Vec<String> = runtime
        .environment
        .devices()
        .map(|d| {
            let hw = d.hardware_device();
            format!(
                "{}:{:?}:{}:{}",
                d.ep().unwrap_or("?"),
                hw.ty(),
                hw.vendor().unwrap_or("?"),
                hw.id()
            )
        })
        .collect();
    let plugins: Vec<String> = runtime
        .plugins
        .iter()
        .map(|p| {
            let len = std::fs::metadata(&p.path).map_or(0, |m| m.len());
            format!("{}={}({len} bytes)", p.name, p.path.display())
        })
        .collect();
    let names: Vec<String> = candidates.iter().map(|c| c.name()).collect();
    let mut files = vec![file_hash(model)?];
    for file in [ModelFile::Fp16, ModelFile::Int8] {
        if candidates.iter().any(|c| c.file == file) {
            let path = file.path(model);
            // Unreadable since it was found: the build then fails, and the
            // file is excluded, not the load.
            let hash = file_hash(&path).unwrap_or_else(|e| format!("unreadable: {e}"));
            files.push(format!("{} {hash}", path.display()));
        }
    }
    Ok(format!(
        "v2 | machine {} | gpus {} | devices {} | runtime {} | plugins {} | model {} | threads {} optimise {} precision {:?} coreml {:?} | candidates {}",
        machine(),
        gpus(Path::new("/")),
        devices.join(", "),
        runtime.build_info(),
        plugins.join(", "),
        files.join(", "),
        options.resolved_threads(),
        options.optimize,
        options.precision,
        options.coreml,
        names.join(", ")
    ))
}

/// The CPU model and flags (Linux), else the architecture and core count.
fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let base = format!(
        "{} {} {cores} cores",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let Ok(info) = std::fs::read_to_string("/proc/cpuinfo") else {
        return base;
    };
    let field = |name: &str| {
        info.lines()
            .find(|l| l.split(':').next().is_some_and(|k| k.trim() == name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    format!(
        "{base} {} [{}{}]",
        field("model name"),
        field("flags"),
        field("Features")
    )
}

/// The GPUs and their drivers as the system under `root` lists them
/// (Linux: each DRM card's PCI vendor and device and its kernel driver, and
/// the NVIDIA driver's version line), so that a new GPU or driver measures
/// again; empty elsewhere. ONNX Runtime's device list (also in the key)
/// names the devices but not the driver.
pub(super) fn gpus(root: &Path) -> String {
    let read = |path: std::path::PathBuf| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_owned())
            .unwrap_or_default()
    };
    let mut cards: Vec<String> = std::fs::read_dir(root.join("sys/class/drm"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_prefix("card")
                .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| {
            let device = e.path().join("device");
            let driver = std::fs::read_link(device.join("driver"))
                .ok()
                .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_default();
            format!(
                "{}:{} {driver}",
                read(device.join("vendor")),
                read(device.join("device"))
            )
        })
        .collect();
    cards.sort();
    let nvidia = read(root.join("proc/driver/nvidia/version"));
    if let Some(line) = nvidia.lines().next().filter(|l| !l.is_empty()) {
        cards.push(line.to_owned());
    }
    cards.join(", ")
}

/// The model file's size and a 64-bit FNV-1a hash of its content, taken 8
/// bytes at a time (stable across runs and Rust versions).
fn file_hash(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut len: u64 = 0;
    let mut buffer = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        len += n as u64;
        for chunk in buffer[..n].chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            hash = (hash ^ u64::from_le_bytes(word)).wrapping_mul(0x0100_0000_01b3);
        }
    }
    Ok(format!("{len} bytes, fnv {hash:016x}"))
}

/// The cache file's content.
#[derive(Debug, Default, Serialize, Deserialize)]
struct CacheFile {
    entries: Vec<CacheEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CacheEntry {
    key: String,
    report: TrialReport,
}

/// At most this many decisions are kept (the newest).
const CACHE_ENTRIES: usize = 32;

/// The decision stored for `key`, if the file has one (an unreadable or
/// malformed file counts as empty).
pub(super) fn cached(file: &Path, key: &str) -> Option<TrialReport> {
    let text = std::fs::read_to_string(file).ok()?;
    let cache: CacheFile = serde_json::from_str(&text).ok()?;
    cache
        .entries
        .into_iter()
        .find(|e| e.key == key)
        .map(|e| e.report)
}

/// Stores `report` for `key`, replacing an older decision for it. A cache
/// that cannot be written is logged, not an error: the next start measures
/// again.
pub(super) fn store(file: &Path, key: &str, report: &TrialReport) {
    let mut cache: CacheFile = std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    cache.entries.retain(|e| e.key != key);
    cache.entries.push(CacheEntry {
        key: key.to_owned(),
        report: report.clone(),
    });
    let excess = cache.entries.len().saturating_sub(CACHE_ENTRIES);
    cache.entries.drain(..excess);
    let written = file
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let text = serde_json::to_string_pretty(&cache).map_err(std::io::Error::other)?;
            // Written beside and renamed, so a reader never sees half a file.
            // (A name of its own per write: threads of one process may store at once.)
            static WRITES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let n = WRITES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let partial = file.with_extension(format!("json.{}.{n}", std::process::id()));
            std::fs::write(&partial, text)?;
            std::fs::rename(&partial, file)
        });
    if let Err(e) = written {
        tracing::warn!("Auto's trial could not be kept in {}: {e}", file.display());
    }
}
