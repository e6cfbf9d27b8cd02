//! Unit tests of runtime search and plugin discovery.

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
    // The fixes a user of the published crate has, and the repository's own.
    assert!(text.contains("Set ORT_DYLIB_PATH"), "{text}");
    assert!(text.contains("MonoDepthPlugin::runtime_library"), "{text}");
    assert!(text.contains("cargo xtask setup"), "{text}");
}
