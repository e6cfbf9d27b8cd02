//! `cargo xtask layers`: the crate's shape, checked.
//!
//! Every top-level module of `src/` sits in one layer of [`LAYERS`], and
//! its code (comments aside) may name only modules of lower layers through
//! `crate::…` paths. So the import graph has no cycle and no upward edge.
//! Files of more than [`MAX_LINES`] lines must say why within their first
//! lines (a line containing "longer than").

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::util::{Fail, repo_root};

/// The layers of `src/`, lowest first. A module may use the modules of the
/// layers before its own and nothing else of the crate.
pub const LAYERS: &[&[&str]] = &[
    // Plain value types and helpers that import nothing of the crate.
    &["camera", "threads", "runtime", "align"],
    // Pixels in, metres out, and what a model file says about itself.
    &["frame", "depth", "model"],
    // Depth moved from one camera pose into another.
    &["reproject"],
    // A model in ONNX Runtime; what the crate computes on depth maps (the
    // stabiliser moves its history with the reprojector).
    &["session", "colormap", "temporal", "proximity"],
    // Frame → preprocess → model → postprocess.
    &["engine"],
    // The engine on its own thread.
    &["worker"],
    // Where frames come from: pushed, webcam, folders, recordings.
    &["sources"],
    // Everything Bevy-facing.
    &["plugin"],
];

/// Files longer than this say why at their top.
pub const MAX_LINES: usize = 400;

/// One `crate::` reference that breaks the layering.
#[derive(Debug, PartialEq, Eq)]
pub struct Violation {
    pub file: PathBuf,
    pub line: usize,
    pub from: String,
    pub to: String,
}

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|layer| layer.contains(&module))
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs`).
fn module_of(relative: &Path) -> Option<String> {
    let first = relative.components().next()?.as_os_str().to_str()?;
    if relative.components().count() == 1 {
        let stem = first.strip_suffix(".rs")?;
        return (stem != "lib").then(|| stem.to_owned());
    }
    Some(first.to_owned())
}

/// The code of a line without its `//` comment (string literals holding
/// `//` are rare enough in this crate to be treated as comments too).
fn code_of(line: &str) -> &str {
    line.find("//").map_or(line, |i| &line[..i])
}

/// The top-level modules that `code` names through `crate::…`, including
/// each first name of a `crate::{a::…, b}` group.
pub fn referenced_modules(code: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = code;
    while let Some(i) = rest.find("crate::") {
        let before = rest[..i].chars().next_back();
        rest = &rest[i + "crate::".len()..];
        // `$crate::` and `my_crate::` are other crates.
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = true;
            let mut name = String::new();
            for c in group.chars() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && (c.is_alphanumeric() || c == '_') => name.push(c),
                    _ if start && !name.is_empty() => {
                        found.push(std::mem::take(&mut name));
                        start = false;
                    }
                    _ => {}
                }
            }
            if !name.is_empty() {
                found.push(name);
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.push(name);
            }
        }
    }
    found
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            rust_files(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    Ok(())
}

/// What the check found in `src`.
#[derive(Debug, Default)]
pub struct Report {
    /// Module → the modules it uses, with the number of references.
    pub edges: BTreeMap<String, BTreeMap<String, usize>>,
    pub violations: Vec<Violation>,
    /// Files over [`MAX_LINES`] without a reason at their top.
    pub long_files: Vec<(PathBuf, usize)>,
    /// Modules that are in no layer.
    pub unplaced: Vec<String>,
}

pub fn check(src: &Path) -> std::io::Result<Report> {
    let mut files = Vec::new();
    rust_files(src, &mut files)?;
    files.sort();
    let mut report = Report::default();
    for file in &files {
        let relative = file.strip_prefix(src).unwrap_or(file);
        let text = std::fs::read_to_string(file)?;
        let lines = text.lines().count();
        let explained = text
            .lines()
            .take(12)
            .any(|l| l.to_lowercase().contains("longer than"));
        if lines > MAX_LINES && !explained {
            report.long_files.push((relative.to_path_buf(), lines));
        }
        let Some(module) = module_of(relative) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            if !report.unplaced.contains(&module) {
                report.unplaced.push(module);
            }
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for target in referenced_modules(code_of(line)) {
                if target == module || target == "prelude" {
                    continue;
                }
                *report
                    .edges
                    .entry(module.clone())
                    .or_default()
                    .entry(target.clone())
                    .or_default() += 1;
                if layer_of(&target).is_none_or(|theirs| theirs >= own) {
                    report.violations.push(Violation {
                        file: relative.to_path_buf(),
                        line: n + 1,
                        from: module.clone(),
                        to: target,
                    });
                }
            }
        }
    }
    Ok(report)
}

/// Prints the layers with each module's edges and fails on any violation.
pub fn run() -> Result<(), Fail> {
    let src = repo_root().join("src");
    let report = check(&src).map_err(|e| Fail::new(format!("reading {}: {e}", src.display())))?;
    for (i, layer) in LAYERS.iter().enumerate() {
        println!("layer {i}:");
        for module in *layer {
            let uses: Vec<String> = report
                .edges
                .get(*module)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            println!("  {module:<10} → {}", uses.join(", "));
        }
    }
    let mut problems = String::new();
    for v in &report.violations {
        let _ = writeln!(
            problems,
            "  src/{}:{}: `{}` uses `crate::{}`, which is not in a lower layer",
            v.file.display(),
            v.line,
            v.from,
            v.to
        );
    }
    for module in &report.unplaced {
        let _ = writeln!(
            problems,
            "  `{module}` is in no layer: add it to LAYERS in xtask/src/layers.rs"
        );
    }
    for (file, lines) in &report.long_files {
        let _ = writeln!(
            problems,
            "  src/{} has {lines} lines (over {MAX_LINES}): split it, or say at its top why it is longer than that",
            file.display()
        );
    }
    if problems.is_empty() {
        println!("no cycle, no upward edge, no file over {MAX_LINES} lines without a reason");
        Ok(())
    } else {
        Err(Fail::new(format!(
            "the crate's layering is broken:\n{problems}"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_from_paths_and_groups() {
        assert_eq!(
            referenced_modules("use crate::camera::{Intrinsics, FrameRotation};"),
            ["camera"]
        );
        assert_eq!(
            referenced_modules(
                "use crate::{depth::DepthMap, frame::{CameraFrame, PixelFormat}, engine};"
            ),
            ["depth", "frame", "engine"]
        );
        assert_eq!(
            referenced_modules("let x = crate::threads::lower_priority(); $crate::a; my_crate::b"),
            ["threads"]
        );
        assert_eq!(code_of("use a; // see crate::plugin"), "use a; ");
    }

    #[test]
    fn an_upward_edge_and_a_long_file_are_reported() {
        let dir = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("camera")).unwrap();
        std::fs::write(
            dir.join("lib.rs"),
            "pub mod camera;\nuse crate::plugin::X;\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("camera/mod.rs"),
            "// crate::frame in a comment is fine\nuse crate::frame::CameraFrame;\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("depth.rs"),
            "use crate::camera::Intrinsics;\n".repeat(401),
        )
        .unwrap();
        std::fs::write(dir.join("oddity.rs"), "").unwrap();
        let report = check(&dir).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            report.violations,
            [Violation {
                file: PathBuf::from("camera/mod.rs"),
                line: 2,
                from: "camera".into(),
                to: "frame".into(),
            }]
        );
        assert_eq!(report.long_files, [(PathBuf::from("depth.rs"), 401)]);
        assert_eq!(report.unplaced, ["oddity"]);
        assert_eq!(report.edges["depth"]["camera"], 401);
    }
}
