//! Occlusion quality a player sees, measured against rendered ground truth
//! (`cargo xtask quality`; the table and its reading are in
//! docs/quality.md).
//!
//! The ground truth is `examples/render_sample --quality`: 640×480
//! sequences, colour antialiased, depth exact per pixel. The depth each
//! method gets is a stand-in for the network's, made from the ground truth
//! by [`degrade`]; each method then runs in the plugin's own occlusion pass
//! (Mesa's software Vulkan where there is no GPU), which writes the depth it
//! occludes with ([`DepthDisplay::Metres`]), read back at full resolution.
//!
//! The virtual object is a plane facing the camera, swept through the
//! scene's depth range: at each of [`PLANES`] (quantiles of the ground-truth
//! depth) a pixel is occluded where the real surface is nearer than the
//! plane. Against the ground truth's occlusion at the same plane:
//!
//! - mask error: % of pixels on the wrong side;
//! - boundary error: mean distance (px) from each pixel of the computed
//!   occlusion boundary to the nearest pixel of the true one; also only for
//!   computed boundary pixels within [`EDGE_BAND`] px of a real depth edge
//!   (where image-guided upsampling can help; elsewhere the plane cuts a
//!   smooth surface, and the boundary is where noise puts it);
//! - flicker (still camera): % of pixels whose occlusion changes from one
//!   frame to the next (the true occlusion does not change);
//! - lag (moving camera): the frame offset k at which the output best
//!   matches the ground truth k frames earlier (parabola through the
//!   errors at k − 1, k, k + 1).
//!
//! `--only NAME,…` runs only those sequences. A moving sequence's table
//! also has the stabiliser without the maps' poses, as it was before it
//! used them.
//!
//! `--relative N,…` adds a table of relative depth made metric from N
//! anchors a frame ([`relative_aligned`]) beside the metric stand-in
//! (`--relative-only`: only that table).
//!
//! `--alignment L,…` adds the second table: depth that is L frames late on
//! the moving sequences, shown three ways (see [`Alignment`]), scored
//! against the frame on screen from frame L on (`--alignment-only`: only
//! that table).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bevy::camera::{Hdr, RenderTarget};
use bevy::core_pipeline::tonemapping::{DebandDither, Tonemapping};
use bevy::ecs::system::RunSystemOnce;
use bevy::prelude::*;
use bevy::render::render_resource::{TextureFormat, TextureUsages};
use bevy_mono_depth::align::{AlignSettings, Aligner, Sample};
use bevy_mono_depth::frame::CameraFrame;
use bevy_mono_depth::plugin::{
    DepthDisplay, DepthTextures, DepthUpsampling, ExternalDepth, MonoDepthCamera, MonoDepthPlugin,
};
use bevy_mono_depth::prelude::DepthMap;
use bevy_mono_depth::reproject::{HoleFill, Reprojector};
use bevy_mono_depth::sources::recording::Recording;
use bevy_mono_depth::temporal::{Stabiliser, TemporalSettings};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand_distr::{Distribution, Normal};

#[path = "../common/machine.rs"]
mod machine;
#[path = "../../tests/common/render.rs"]
#[allow(dead_code)]
mod render;
use render::{Readbacks, headless_render_plugins, settle};

/// The model's output grid (FCRN: 160×128 over its 304×228 input, which
/// covers a 4:3 frame exactly).
const GRID: (u32, u32) = (160, 128);
/// Quantiles of the ground-truth depth where the virtual plane is put.
const PLANES: [f32; 9] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9];
/// Relative jump between neighbouring pixels that makes a real depth edge.
const EDGE_JUMP: f32 = 0.05;
/// How near (px) to a real depth edge a boundary pixel counts as "at an edge".
const EDGE_BAND: f32 = 12.0;
/// Frame offsets tried for the lag.
const MAX_LAG: usize = 4;

/// How the stand-in for the network's depth is made from the ground truth.
#[derive(Debug, Clone, Copy)]
struct Degradation {
    /// Gaussian blur across output texels (σ, texels).
    blur: f32,
    /// Smooth multiplicative error: σ of a random 8×6 field, bilinearly
    /// stretched over the map, new each frame.
    smooth_noise: f32,
    /// Per-texel multiplicative error (σ), new each frame.
    texel_noise: f32,
    /// Frames between the ground truth the depth is made from and the
    /// frame it is shown with (0: the default `Synced` background shows
    /// the depth's own frame).
    latency: usize,
    /// A relative stand-in ([`relative_aligned`]): the depth made relative
    /// each frame and aligned back from this many anchors.
    relative_anchors: Option<usize>,
}

const DEGRADATION: Degradation = Degradation {
    blur: 1.0,
    smooth_noise: 0.02,
    texel_noise: 0.01,
    latency: 0,
    relative_anchors: None,
};

/// The relative stand-in's anchors: depth noise (σ, relative) and the
/// share of gross outliers (depth × 0.3–3).
const ANCHOR_NOISE: f32 = 0.01;
const ANCHOR_OUTLIERS: f64 = 0.2;

/// Which frame the background shows with depth `latency` frames late.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Alignment {
    /// The depth's own frame (`BackgroundSync::Synced`): the image is as
    /// late as the depth.
    Synced,
    /// The live frame with the late depth as it is (`BackgroundSync::Newest`).
    Newest,
    /// The live frame with the late depth moved into its pose
    /// (`BackgroundSync::Reprojected`, the plugin's own [`Reprojector`],
    /// holes filled from the background as the plugin does).
    Reprojected,
    /// As `Reprojected`, with holes left invalid ([`HoleFill::Invalid`]).
    ReprojectedHolesInvalid,
}

/// Whether the depth maps go through `temporal::Stabiliser` first.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stabilisation {
    Off,
    /// Default settings, the maps carrying their camera poses (as the
    /// plugin's do when frames carry poses).
    WithPoses,
    /// Default settings, the poses taken off the maps: the stabiliser
    /// blends each texel with the same texel of the previous map.
    WithoutPoses,
}

/// One way to turn the depth map into occlusion.
#[derive(Debug, Clone, Copy)]
struct Method {
    name: &'static str,
    upsampling: DepthUpsampling,
}

const METHODS: [Method; 2] = [
    Method {
        name: "bilinear",
        upsampling: DepthUpsampling::Bilinear,
    },
    Method {
        name: "image-guided",
        upsampling: DepthUpsampling::Guided,
    },
];

type Fallible<T> = Result<T, String>;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let smoke = args.iter().any(|a| a == "--smoke");
    // Only the `--alignment` table.
    let alignment_only = args.iter().any(|a| a == "--alignment-only");
    let data = args
        .iter()
        .position(|a| a == "--data")
        .and_then(|i| args.get(i + 1))
        .map_or_else(|| PathBuf::from("target/quality"), PathBuf::from);
    let pictures = args
        .iter()
        .position(|a| a == "--pictures")
        .and_then(|i| args.get(i + 1))
        .map(PathBuf::from);
    let latency = args
        .iter()
        .position(|a| a == "--latency")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(DEGRADATION.latency), |n| n.parse::<usize>())
        .unwrap_or_else(|e| fail(&format!("--latency: {e}")));
    // Only these sequences (comma-separated names).
    let only: Vec<String> = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .map_or_else(Vec::new, |list| {
            list.split(',').map(str::to_owned).collect()
        });
    // `--relative N,…`: the relative stand-in aligned from N anchors.
    let relative: Vec<usize> = args
        .iter()
        .position(|a| a == "--relative")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(Vec::new()), |list| {
            list.split(',').map(str::parse::<usize>).collect()
        })
        .unwrap_or_else(|e| fail(&format!("--relative: {e}")));
    let relative_only = args.iter().any(|a| a == "--relative-only");
    let alignment: Vec<usize> = args
        .iter()
        .position(|a| a == "--alignment")
        .and_then(|i| args.get(i + 1))
        .map_or(Ok(Vec::new()), |list| {
            list.split(',').map(str::parse::<usize>).collect()
        })
        .unwrap_or_else(|e| fail(&format!("--alignment: {e}")));
    if !relative_only
        && let Err(e) = run(
            &data,
            smoke,
            Degradation {
                latency,
                ..DEGRADATION
            },
            pictures.as_deref(),
            &alignment,
            alignment_only,
            &only,
        )
    {
        fail(&e);
    }
    if !relative.is_empty()
        && let Err(e) = relative_table(&data, smoke, &relative, &only)
    {
        fail(&e);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("quality: {message}");
    std::process::exit(1);
}

/// The sequence and frame of the README's comparison picture.
const PICTURE_SEQUENCE: &str = "thin_still";
/// The picture's virtual wall: at this quantile of the frame's depth.
const PICTURE_PLANE: f32 = 0.35;

/// `edges_bilinear_vs_guided.png` in `dir`: frame 0 of the sequence with a
/// virtual magenta wall at [`PICTURE_PLANE`], hidden where the real scene is
/// nearer, by the bilinear method (left) and the image-guided one (right);
/// the true occlusion boundary in yellow.
fn write_picture(dir: &Path, sequence: &Sequence, outputs: &[Output]) -> Fallible<()> {
    let frame = &sequence.frames[0];
    let truth = sequence.depth[0].metres();
    let plane = quantiles(&[truth], &[PICTURE_PLANE])[0];
    let (w, h) = (frame.width(), frame.height());
    let true_edge = boundary_of(&occluded(truth, plane), (w as usize, h as usize));
    let mut picture = image::RgbImage::new(2 * w, h);
    for (m, output) in outputs.iter().take(2).enumerate() {
        let hidden = occluded(&output.frames[0], plane);
        for y in 0..h {
            for x in 0..w {
                let i = (y * w + x) as usize;
                let camera = frame.pixel(x, y).unwrap_or_default();
                let colour = if true_edge[i] {
                    [255, 230, 0]
                } else if hidden[i] {
                    camera
                } else {
                    // The virtual wall, 70 % over the image.
                    let mix = |c: u8, v: u8| ((u16::from(c) * 3 + u16::from(v) * 7) / 10) as u8;
                    [mix(camera[0], 230), mix(camera[1], 40), mix(camera[2], 200)]
                };
                picture.put_pixel(m as u32 * w + x, y, image::Rgb(colour));
            }
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let path = dir.join("edges_bilinear_vs_guided.png");
    picture
        .save(&path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// One sequence's ground truth.
struct Sequence {
    name: String,
    frames: Vec<CameraFrame>,
    depth: Vec<DepthMap>,
}

fn load(dir: &Path) -> Fallible<Sequence> {
    let recording = Recording::open(dir).map_err(|e| e.to_string())?;
    let n = recording.index.frames.len();
    let mut frames = Vec::with_capacity(n);
    let mut depth = Vec::with_capacity(n);
    for i in 0..n {
        let at = Duration::from_secs_f64(recording.index.frames[i].timestamp_ms / 1000.0);
        let frame = recording.load_frame(i).map_err(|e| e.to_string())?;
        frames.push(frame.with_timestamp(at));
        depth.push(recording.load_depth(i).map_err(|e| e.to_string())?);
    }
    let name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    Ok(Sequence {
        name,
        frames,
        depth,
    })
}

/// The ground-truth recordings in `data` (only those named in `only`,
/// unless it is empty), sorted by name.
fn recordings(data: &Path, only: &[String]) -> Fallible<Vec<PathBuf>> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(data)
        .map_err(|e| {
            format!(
                "{}: {e} (render the ground truth first: cargo xtask quality)",
                data.display()
            )
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("session.json").is_file())
        .filter(|p| {
            only.is_empty()
                || p.file_name()
                    .is_some_and(|n| only.iter().any(|o| *o == n.to_string_lossy()))
        })
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(format!("no recordings in {}", data.display()));
    }
    Ok(dirs)
}

fn run(
    data: &Path,
    smoke: bool,
    degradation: Degradation,
    pictures: Option<&Path>,
    alignment: &[usize],
    alignment_only: bool,
    only: &[String],
) -> Fallible<()> {
    let dirs = recordings(data, only)?;
    let mut app = app()?;
    println!("# Occlusion quality ({})", machine(&app));
    println!();
    println!(
        "Depth: ground truth → model grid {}×{} (area mean) → blur σ {} texel → ×(1 + smooth σ {} + per-texel σ {}), {} frame(s) late.",
        GRID.0,
        GRID.1,
        degradation.blur,
        degradation.smooth_noise,
        degradation.texel_noise,
        degradation.latency
    );
    println!();
    println!(
        "| sequence | method | mask error % | boundary error px | at depth edges px | flicker % | lag frames | render ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut stabiliser_ms = Vec::new();
    for (index, dir) in dirs.iter().enumerate().filter(|_| !alignment_only) {
        let mut sequence = load(dir)?;
        if smoke {
            sequence.frames.truncate(3);
            sequence.depth.truncate(3);
        }
        let still = sequence.name.contains("still");
        // A moving camera also shows the stabiliser blind to the poses (as
        // it was before it used them): what following the camera gains.
        let stabilisers: &[Stabilisation] = if still {
            &[Stabilisation::Off, Stabilisation::WithPoses]
        } else {
            &[
                Stabilisation::Off,
                Stabilisation::WithPoses,
                Stabilisation::WithoutPoses,
            ]
        };
        for &temporal in stabilisers {
            let outputs = render_sequence(
                &mut app,
                &sequence,
                degradation,
                Alignment::Newest,
                temporal,
                index as u64,
                &mut stabiliser_ms,
            )?;
            if let Some(dir) = pictures
                && temporal == Stabilisation::Off
                && sequence.name == PICTURE_SEQUENCE
            {
                write_picture(dir, &sequence, &outputs)?;
            }
            for (m, method) in METHODS.iter().enumerate() {
                let scores = score(&sequence, &outputs[m], still, 0, 0);
                let name = match temporal {
                    Stabilisation::Off => method.name.to_owned(),
                    Stabilisation::WithPoses => format!("{} + temporal", method.name),
                    Stabilisation::WithoutPoses => {
                        format!("{} + temporal without poses", method.name)
                    }
                };
                print_row(&sequence.name, &name, &scores, outputs[m].render_ms);
            }
        }
    }
    stabiliser_ms.sort_by(f64::total_cmp);
    if let Some(median) = stabiliser_ms.get(stabiliser_ms.len() / 2) {
        println!();
        println!(
            "Temporal stabilisation on the CPU: median {median:.3} ms per {}×{} depth map ({} maps).",
            GRID.0,
            GRID.1,
            stabiliser_ms.len()
        );
    }
    if !alignment.is_empty() {
        alignment_table(&mut app, &dirs, smoke, degradation, alignment)?;
    }
    Ok(())
}

/// The relative stand-in ([`relative_aligned`]) from each anchor count in
/// `counts`, beside the metric stand-in it was made from, with each
/// upsampling method, no temporal stabilisation, the depth's own frame.
fn relative_table(data: &Path, smoke: bool, counts: &[usize], only: &[String]) -> Fallible<()> {
    let dirs = recordings(data, only)?;
    let mut app = app()?;
    println!();
    println!("Machine: {}.", machine(&app));
    println!();
    println!(
        "Relative depth made metric: the stand-in's inverse depth × a random scale (0.5–2) + a random shift (±0.3 of its mean) every frame, aligned back from N anchors sampled from the ground truth ({:.0} % depth noise, {:.0} % gross outliers × 0.3–3) by the crate's Aligner; no temporal stabilisation.",
        ANCHOR_NOISE * 100.0,
        ANCHOR_OUTLIERS * 100.0
    );
    println!();
    println!(
        "| sequence | depth | method | mask error % | boundary error px | at depth edges px | flicker % | lag frames | render ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for (index, dir) in dirs.iter().enumerate() {
        let mut sequence = load(dir)?;
        if smoke {
            sequence.frames.truncate(3);
            sequence.depth.truncate(3);
        }
        let still = sequence.name.contains("still");
        let runs = std::iter::once(None).chain(counts.iter().copied().map(Some));
        for anchors in runs {
            let degradation = Degradation {
                relative_anchors: anchors,
                ..DEGRADATION
            };
            let outputs = render_sequence(
                &mut app,
                &sequence,
                degradation,
                Alignment::Newest,
                Stabilisation::Off,
                index as u64,
                &mut Vec::new(),
            )?;
            let depth = anchors.map_or("metric stand-in".to_owned(), |n| {
                format!("relative, {n} anchors")
            });
            for (m, method) in METHODS.iter().enumerate() {
                let scores = score(&sequence, &outputs[m], still, 0, 0);
                print_row(
                    &sequence.name,
                    &format!("{depth} | {}", method.name),
                    &scores,
                    outputs[m].render_ms,
                );
            }
        }
    }
    Ok(())
}

/// Late depth on the moving sequences, shown each [`Alignment`] way, with
/// image-guided upsampling and without temporal stabilisation; scored
/// against the frame on screen from frame `latency` on (earlier frames have
/// no depth that late).
fn alignment_table(
    app: &mut App,
    dirs: &[PathBuf],
    smoke: bool,
    degradation: Degradation,
    latencies: &[usize],
) -> Fallible<()> {
    let guided = METHODS
        .iter()
        .position(|m| m.upsampling == DepthUpsampling::Guided)
        .ok_or("no image-guided method")?;
    println!();
    println!(
        "Late depth, moving camera: each background for each latency (image-guided upsampling, no temporal stabilisation)."
    );
    println!();
    println!(
        "| sequence | latency frames | background | image behind the camera ms | mask error % | boundary error px | at depth edges px | reprojection ms |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- |");
    let mut reprojection_ms = Vec::new();
    for (index, dir) in dirs.iter().enumerate() {
        let mut sequence = load(dir)?;
        if !sequence.name.contains("moving") {
            continue;
        }
        if smoke {
            sequence.frames.truncate(3);
            sequence.depth.truncate(3);
        }
        if sequence.frames.iter().any(|f| f.camera().is_none()) {
            return Err(format!(
                "{}: frames without a pose or intrinsics (render the ground truth again: cargo xtask quality --rerender)",
                sequence.name
            ));
        }
        let interval = frame_interval(&sequence);
        for &latency in latencies {
            if latency + 1 >= sequence.frames.len() {
                continue;
            }
            for alignment in [
                Alignment::Synced,
                Alignment::Newest,
                Alignment::Reprojected,
                Alignment::ReprojectedHolesInvalid,
            ] {
                let mut times = Vec::new();
                let outputs = render_sequence(
                    app,
                    &sequence,
                    Degradation {
                        latency,
                        ..degradation
                    },
                    alignment,
                    Stabilisation::Off,
                    index as u64,
                    &mut times,
                )?;
                let behind = if alignment == Alignment::Synced {
                    latency
                } else {
                    0
                };
                let scores = score(&sequence, &outputs[guided], false, latency, behind);
                let behind_ms = behind as f64 * interval;
                let median = if times.is_empty() {
                    "—".to_owned()
                } else {
                    times.sort_by(f64::total_cmp);
                    format!("{:.3}", times[times.len() / 2])
                };
                reprojection_ms.extend(times);
                println!(
                    "| {} | {latency} | {alignment:?} | {behind_ms:.0} | {:.2} | {:.2} | {} | {median} |",
                    sequence.name,
                    scores.mask_error,
                    scores.boundary,
                    edge_cell(scores.edge_boundary),
                );
            }
        }
    }
    Ok(())
}

/// Milliseconds between frames, from the recorded timestamps.
fn frame_interval(sequence: &Sequence) -> f64 {
    let n = sequence.frames.len();
    if n < 2 {
        return 0.0;
    }
    let span = sequence.frames[n - 1]
        .timestamp
        .saturating_sub(sequence.frames[0].timestamp);
    span.as_secs_f64() * 1000.0 / (n - 1) as f64
}

/// The "at depth edges" cell: "—" where no computed boundary pixel lies
/// near a real depth edge (a plain wall has none), so there is no mean.
fn edge_cell(value: f64) -> String {
    if value.is_finite() {
        format!("{value:.2}")
    } else {
        "—".into()
    }
}

fn print_row(sequence: &str, method: &str, scores: &Scores, render_ms: f64) {
    let optional = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| format!("{v:.2}"));
    println!(
        "| {sequence} | {method} | {:.2} | {:.2} | {} | {} | {} | {render_ms:.1} |",
        scores.mask_error,
        scores.boundary,
        edge_cell(scores.edge_boundary),
        optional(scores.flicker),
        optional(scores.lag),
    );
}

/// What one method produced for one sequence.
struct Output {
    /// Per frame, the depth the pass occluded with (m; 0 = none).
    frames: Vec<Vec<f32>>,
    /// Median time of an app update with only this method's camera active.
    render_ms: f64,
}

fn app() -> Fallible<App> {
    let mut app = App::new();
    app.add_plugins(headless_render_plugins())
        .add_plugins(MonoDepthPlugin {
            model: None,
            ..default()
        });
    app.finish();
    app.cleanup();
    if !app.world().contains_resource::<DepthTextures>() {
        return Err("the plugin made no depth textures".into());
    }
    Ok(app)
}

fn machine(app: &App) -> String {
    let gpu = app
        .sub_app(bevy::render::RenderApp)
        .world()
        .get_resource::<bevy::render::renderer::RenderAdapterInfo>()
        .map_or_else(|| "no GPU adapter".into(), |info| info.name.clone());
    format!("{}; rendering on {gpu}", machine::cpu())
}

/// One `Rgba32Float` target per method, the size of the frames.
fn spawn_cameras(app: &mut App, size: (u32, u32)) -> Vec<(Entity, Handle<Image>)> {
    METHODS
        .iter()
        .enumerate()
        .map(|(i, method)| {
            let mut image =
                Image::new_target_texture(size.0, size.1, TextureFormat::Rgba32Float, None);
            image.texture_descriptor.usage |= TextureUsages::COPY_SRC;
            let image = app.world_mut().resource_mut::<Assets<Image>>().add(image);
            let entity = app
                .world_mut()
                .spawn((
                    MonoDepthCamera {
                        upsampling: method.upsampling,
                        display: DepthDisplay::Metres,
                        follow_camera: false,
                        ..default()
                    },
                    Camera {
                        order: i as isize,
                        ..default()
                    },
                    Hdr,
                    RenderTarget::Image(image.clone().into()),
                    Tonemapping::None,
                    DebandDither::Disabled,
                    Msaa::Off,
                ))
                .id();
            (entity, image)
        })
        .collect()
}

/// Hands frame `i` and its degraded depth to the plugin's textures.
fn show(app: &mut App, frame: &CameraFrame, depth: DepthMap) -> Fallible<()> {
    let frame = frame.clone();
    let mut depth = Some(depth);
    app.world_mut()
        .run_system_once(move |mut external: ExternalDepth| {
            external.show(&frame, depth.take().unwrap_or_default())
        })
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// Renders every frame of `sequence` through every method.
fn render_sequence(
    app: &mut App,
    sequence: &Sequence,
    degradation: Degradation,
    alignment: Alignment,
    temporal: Stabilisation,
    seed: u64,
    cpu_ms: &mut Vec<f64>,
) -> Fallible<Vec<Output>> {
    let first = sequence.frames.first().ok_or("an empty sequence")?;
    let size = (first.width(), first.height());
    let cameras = spawn_cameras(app, size);
    let deadline = Instant::now() + Duration::from_secs(600);
    // The same noise with and without stabilisation.
    let mut rng = StdRng::seed_from_u64(seed);
    let mut stabiliser =
        (temporal != Stabilisation::Off).then(|| Stabiliser::new(TemporalSettings::default()));
    let mut outputs: Vec<Output> = METHODS
        .iter()
        .map(|_| Output {
            frames: Vec::new(),
            render_ms: 0.0,
        })
        .collect();
    let watched: Vec<Readbacks> = cameras
        .iter()
        .map(|(_, image)| Readbacks::watch(app, image.clone()))
        .collect();
    let mut reprojector = Reprojector::new();
    let mut aligner = Aligner::new(AlignSettings::default());
    for (i, live) in sequence.frames.iter().enumerate() {
        let late = i.saturating_sub(degradation.latency);
        let mut depth = degrade(&sequence.depth[late], degradation, &mut rng);
        if let Some(n) = degradation.relative_anchors {
            depth = relative_aligned(&depth, &sequence.depth[late], n, &mut aligner, &mut rng);
        }
        depth.sequence = sequence.frames[late].sequence;
        depth.camera = sequence.frames[late].camera();
        if let Some(stabiliser) = &mut stabiliser {
            let camera = depth.camera;
            if temporal == Stabilisation::WithoutPoses {
                depth.camera = None;
            }
            let start = Instant::now();
            stabiliser.apply(&sequence.frames[late], &mut depth);
            cpu_ms.push(start.elapsed().as_secs_f64() * 1e3);
            depth.camera = camera;
        }
        // What the background shows, and the depth it is shown with.
        let (frame, depth) = match alignment {
            Alignment::Newest => (live, depth),
            Alignment::Synced => (&sequence.frames[late], depth),
            Alignment::Reprojected | Alignment::ReprojectedHolesInvalid => {
                reprojector.holes = if alignment == Alignment::Reprojected {
                    HoleFill::Background
                } else {
                    HoleFill::Invalid
                };
                let camera = live.camera().ok_or("a frame without a pose")?;
                let mut moved = DepthMap::empty();
                let start = Instant::now();
                reprojector
                    .reproject(&depth, &camera, &mut moved)
                    .map_err(|e| e.to_string())?;
                cpu_ms.push(start.elapsed().as_secs_f64() * 1e3);
                (live, moved)
            }
        };
        show(app, frame, depth)?;
        if i == 0 {
            settle(app, deadline);
        }
        // Copies of frames drawn before the new textures are dropped.
        for _ in 0..3 {
            app.update();
        }
        for (m, frames) in watched.iter().enumerate() {
            frames.clear();
            let data = frames.steady(app, deadline);
            outputs[m].frames.push(decode(&data, size));
        }
    }
    for (m, (entity, _)) in cameras.iter().enumerate() {
        outputs[m].render_ms = time_updates(app, &cameras, *entity, 10);
    }
    for (entity, _) in cameras {
        app.world_mut().despawn(entity);
    }
    drop(watched);
    // Readback entities go with their observers.
    let readbacks: Vec<Entity> = app
        .world_mut()
        .query_filtered::<Entity, With<bevy::render::gpu_readback::Readback>>()
        .iter(app.world())
        .collect();
    for entity in readbacks {
        app.world_mut().despawn(entity);
    }
    Ok(outputs)
}

/// Median time of `n` app updates with only `only` of `cameras` active.
fn time_updates(app: &mut App, cameras: &[(Entity, Handle<Image>)], only: Entity, n: usize) -> f64 {
    for (entity, _) in cameras {
        if let Some(mut camera) = app.world_mut().get_mut::<Camera>(*entity) {
            camera.is_active = *entity == only;
        }
    }
    app.update();
    let mut times: Vec<f64> = (0..n)
        .map(|_| {
            let start = Instant::now();
            app.update();
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    times.sort_by(f64::total_cmp);
    for (entity, _) in cameras {
        if let Some(mut camera) = app.world_mut().get_mut::<Camera>(*entity) {
            camera.is_active = true;
        }
    }
    times[n / 2]
}

/// Rows of `Rgba32Float` texels → the red channel.
fn decode(data: &[u8], (w, h): (u32, u32)) -> Vec<f32> {
    let stride = (w as usize * 16).next_multiple_of(256);
    (0..h as usize)
        .flat_map(|y| {
            (0..w as usize).map(move |x| {
                let i = y * stride + x * 16;
                f32::from_le_bytes([data[i], data[i + 1], data[i + 2], data[i + 3]])
            })
        })
        .collect()
}

/// The stand-in for the network's depth of a frame whose exact depth is
/// `truth` (see [`Degradation`]): each texel of the model's output grid is
/// the mean of the pixels whose centres fall in its footprint, the grid is
/// blurred, then multiplied by smooth and per-texel noise.
/// What a relative model gives for the metric stand-in `metric`, made
/// metric again as the engine does: its inverse depth times a random scale
/// (0.5–2) plus a random shift (±0.3 of its mean), new each frame; `n`
/// anchors at random pixels of the ground truth `truth` (depth × (1 + σ
/// [`ANCHOR_NOISE`]), a share [`ANCHOR_OUTLIERS`] of them × 0.3–3), the
/// stand-in's value at each; the crate's [`Aligner`] (robust fit, smoothed
/// over frames, the last fit held). Without a fit the map has no valid
/// texel, as the engine's has.
fn relative_aligned(
    metric: &DepthMap,
    truth: &DepthMap,
    n: usize,
    aligner: &mut Aligner,
    rng: &mut StdRng,
) -> DepthMap {
    use rand::RngExt;
    let (w, h) = (metric.width(), metric.height());
    let inverse: Vec<f32> = metric
        .metres()
        .iter()
        .map(|&m| if m > 0.0 { 1.0 / m } else { f32::NAN })
        .collect();
    let mean = {
        let valid: Vec<f32> = inverse.iter().copied().filter(|v| v.is_finite()).collect();
        valid.iter().sum::<f32>() / valid.len().max(1) as f32
    };
    let scale: f32 = rng.random_range(0.5..2.0);
    let shift: f32 = rng.random_range(-0.3..0.3) * mean;
    let values: Vec<f32> = inverse.iter().map(|&v| scale * v + shift).collect();
    let noise = Normal::new(0.0, ANCHOR_NOISE).expect("σ ≥ 0");
    let (tw, th) = (truth.width(), truth.height());
    let mut samples = Vec::with_capacity(n);
    let mut tries = 0;
    while samples.len() < n && tries < 100 * n {
        tries += 1;
        let (x, y) = (rng.random_range(0..tw), rng.random_range(0..th));
        let Some(depth) = truth.get(x, y) else {
            continue;
        };
        let (gx, gy) = (x * w / tw, y * h / th);
        let value = values[(gy * w + gx) as usize];
        let gross = rng.random_bool(ANCHOR_OUTLIERS);
        let factor = if gross {
            rng.random_range(0.3f32..3.0)
        } else {
            1.0 + noise.sample(rng)
        };
        samples.push(Sample {
            value,
            depth: depth * factor,
        });
    }
    let alignment = aligner.update(&samples);
    let metres: Vec<f32> = match alignment.fit() {
        Some(fit) => values
            .iter()
            .map(|&v| fit.metres(v).unwrap_or(0.0))
            .collect(),
        None => vec![0.0; values.len()],
    };
    let mut out = DepthMap::from_metres(w, h, metres, (0.01, 1000.0));
    out.sequence = metric.sequence;
    out.timestamp = metric.timestamp;
    out
}

fn degrade(truth: &DepthMap, d: Degradation, rng: &mut StdRng) -> DepthMap {
    let (w, h) = (truth.width() as usize, truth.height() as usize);
    let (gw, gh) = (GRID.0 as usize, GRID.1 as usize);
    let mut sums = vec![0.0f64; gw * gh];
    let mut counts = vec![0u32; gw * gh];
    for y in 0..h {
        let gy = ((y as f64 + 0.5) * gh as f64 / h as f64) as usize;
        for x in 0..w {
            let gx = ((x as f64 + 0.5) * gw as f64 / w as f64) as usize;
            if let Some(m) = truth.get(x as u32, y as u32) {
                sums[gy * gw + gx] += f64::from(m);
                counts[gy * gw + gx] += 1;
            }
        }
    }
    let grid: Vec<f32> = sums
        .iter()
        .zip(&counts)
        .map(|(s, &c)| {
            if c > 0 {
                (s / f64::from(c)) as f32
            } else {
                0.0
            }
        })
        .collect();
    let blurred = blur(&grid, (gw, gh), d.blur);
    let normal =
        |sigma: f32| Normal::new(0.0, sigma.max(0.0)).unwrap_or(Normal::new(0.0, 0.0).unwrap());
    let field: Vec<f32> = (0..8 * 6)
        .map(|_| normal(d.smooth_noise).sample(rng))
        .collect();
    let texel = normal(d.texel_noise);
    let metres: Vec<f32> = blurred
        .iter()
        .enumerate()
        .map(|(i, &m)| {
            let (x, y) = ((i % gw) as f32, (i / gw) as f32);
            let smooth = bilinear(&field, (8, 6), (x + 0.5) / gw as f32, (y + 0.5) / gh as f32);
            m * (1.0 + smooth + texel.sample(rng))
        })
        .collect();
    DepthMap::from_metres(GRID.0, GRID.1, metres, (0.1, 100.0))
}

/// Separable Gaussian blur with clamped edges.
fn blur(values: &[f32], (w, h): (usize, usize), sigma: f32) -> Vec<f32> {
    if sigma <= 0.0 {
        return values.to_vec();
    }
    let radius = (3.0 * sigma).ceil() as isize;
    let kernel: Vec<f32> = (-radius..=radius)
        .map(|i| (-(i * i) as f32 / (2.0 * sigma * sigma)).exp())
        .collect();
    let total: f32 = kernel.iter().sum();
    let pass = |src: &[f32], horizontal: bool| -> Vec<f32> {
        (0..w * h)
            .map(|i| {
                let (x, y) = ((i % w) as isize, (i / w) as isize);
                kernel
                    .iter()
                    .enumerate()
                    .map(|(k, weight)| {
                        let o = k as isize - radius;
                        let (sx, sy) = if horizontal {
                            ((x + o).clamp(0, w as isize - 1), y)
                        } else {
                            (x, (y + o).clamp(0, h as isize - 1))
                        };
                        weight * src[sy as usize * w + sx as usize]
                    })
                    .sum::<f32>()
                    / total
            })
            .collect()
    };
    pass(&pass(values, true), false)
}

/// `field` (`w`×`h` samples at cell centres) at uv, bilinear, clamped.
fn bilinear(field: &[f32], (w, h): (usize, usize), u: f32, v: f32) -> f32 {
    let x = (u * w as f32 - 0.5).clamp(0.0, (w - 1) as f32);
    let y = (v * h as f32 - 0.5).clamp(0.0, (h - 1) as f32);
    let (x0, y0) = (x.floor() as usize, y.floor() as usize);
    let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
    let (fx, fy) = (x - x0 as f32, y - y0 as f32);
    let at = |x: usize, y: usize| field[y * w + x];
    (at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx) * (1.0 - fy)
        + (at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx) * fy
}

/// One method's scores on one sequence.
struct Scores {
    mask_error: f64,
    boundary: f64,
    edge_boundary: f64,
    flicker: Option<f64>,
    lag: Option<f64>,
}

/// Scores `output` against the ground truth of the frame it shows, from
/// output frame `from` on; output frame t shows frame t − `behind` (a
/// `Synced` background with late depth shows an old frame).
fn score(sequence: &Sequence, output: &Output, still: bool, from: usize, behind: usize) -> Scores {
    let (w, h) = (
        sequence.depth[0].width() as usize,
        sequence.depth[0].height() as usize,
    );
    let truth: Vec<&[f32]> = sequence.depth.iter().map(DepthMap::metres).collect();
    let planes = quantiles(&truth, &PLANES);
    let (mut mask_error, mut boundary, mut edge_boundary) =
        (Mean::default(), Mean::default(), Mean::default());
    let mut flicker = Mean::default();
    for (t, est) in output.frames.iter().enumerate().skip(from.max(behind)) {
        let gt = truth[t - behind];
        let edges = distance_transform(&depth_edges(gt, (w, h)), (w, h));
        for &plane in &planes {
            let true_mask: Vec<bool> = gt.iter().map(|&m| m > 0.0 && m < plane).collect();
            let mask = occluded(est, plane);
            mask_error.add_fraction(&true_mask, &mask);
            let to_true = distance_transform(&boundary_of(&true_mask, (w, h)), (w, h));
            for (i, on) in boundary_of(&mask, (w, h)).into_iter().enumerate() {
                if on && to_true[i].is_finite() {
                    boundary.add(f64::from(to_true[i]));
                    if edges[i] <= EDGE_BAND {
                        edge_boundary.add(f64::from(to_true[i]));
                    }
                }
            }
            if still && t > 0 {
                flicker.add_fraction(&occluded(&output.frames[t - 1], plane), &mask);
            }
        }
    }
    let lag = (!still && truth.len() > MAX_LAG + 1).then(|| {
        let errors: Vec<f64> = (0..=MAX_LAG)
            .map(|k| {
                let mut error = Mean::default();
                for t in MAX_LAG..truth.len() {
                    for &plane in &planes {
                        let true_mask: Vec<bool> =
                            truth[t - k].iter().map(|&m| m > 0.0 && m < plane).collect();
                        error.add_fraction(&true_mask, &occluded(&output.frames[t], plane));
                    }
                }
                error.value()
            })
            .collect();
        best_offset(&errors)
    });
    Scores {
        mask_error: mask_error.value() * 100.0,
        boundary: boundary.value(),
        edge_boundary: edge_boundary.value(),
        flicker: still.then(|| flicker.value() * 100.0),
        lag,
    }
}

/// Where the virtual plane at `plane` metres is hidden: real depth nearer.
fn occluded(depth: &[f32], plane: f32) -> Vec<bool> {
    depth.iter().map(|&m| m > 0.0 && m < plane).collect()
}

#[derive(Default)]
struct Mean {
    sum: f64,
    count: u64,
}

impl Mean {
    fn add(&mut self, value: f64) {
        self.sum += value;
        self.count += 1;
    }

    /// Adds the share of positions where `a` and `b` differ.
    fn add_fraction(&mut self, a: &[bool], b: &[bool]) {
        let differ = a.iter().zip(b).filter(|(x, y)| x != y).count();
        self.sum += differ as f64 / a.len().max(1) as f64;
        self.count += 1;
    }

    fn value(&self) -> f64 {
        if self.count == 0 {
            f64::NAN
        } else {
            self.sum / self.count as f64
        }
    }
}

/// The depths at quantiles `qs` of every valid value of `frames`.
fn quantiles(frames: &[&[f32]], qs: &[f32]) -> Vec<f32> {
    let mut all: Vec<f32> = frames
        .iter()
        .flat_map(|f| f.iter().copied().filter(|&m| m > 0.0))
        .collect();
    all.sort_by(f32::total_cmp);
    qs.iter()
        .map(|q| all[((all.len() - 1) as f32 * q) as usize])
        .collect()
}

/// Pixels whose right or lower neighbour is on the other side of `mask`.
fn boundary_of(mask: &[bool], (w, h): (usize, usize)) -> Vec<bool> {
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            (x + 1 < w && mask[i] != mask[i + 1]) || (y + 1 < h && mask[i] != mask[i + w])
        })
        .collect()
}

/// Pixels with a right or lower neighbour more than [`EDGE_JUMP`] nearer
/// or farther: the real scene's depth edges.
fn depth_edges(depth: &[f32], (w, h): (usize, usize)) -> Vec<bool> {
    let jump = |a: f32, b: f32| (a - b).abs() > EDGE_JUMP * a.min(b);
    (0..w * h)
        .map(|i| {
            let (x, y) = (i % w, i / w);
            (x + 1 < w && jump(depth[i], depth[i + 1]))
                || (y + 1 < h && jump(depth[i], depth[i + w]))
        })
        .collect()
}

/// Euclidean distance (px) from every pixel to the nearest set pixel of
/// `points`; infinite everywhere when none is set (Felzenszwalb and
/// Huttenlocher's separable transform).
fn distance_transform(points: &[bool], (w, h): (usize, usize)) -> Vec<f32> {
    const FAR: f64 = 1e20;
    let mut squared: Vec<f64> = points.iter().map(|&p| if p { 0.0 } else { FAR }).collect();
    let mut line = Vec::new();
    for x in 0..w {
        line.clear();
        line.extend((0..h).map(|y| squared[y * w + x]));
        for (y, v) in lower_envelope(&line).into_iter().enumerate() {
            squared[y * w + x] = v;
        }
    }
    for y in 0..h {
        let row = lower_envelope(&squared[y * w..(y + 1) * w]);
        squared[y * w..(y + 1) * w].copy_from_slice(&row);
    }
    squared
        .into_iter()
        .map(|d| {
            if d >= FAR {
                f32::INFINITY
            } else {
                d.sqrt() as f32
            }
        })
        .collect()
}

/// One dimension of the distance transform: min over q of f(q) + (p − q)².
fn lower_envelope(f: &[f64]) -> Vec<f64> {
    let n = f.len();
    let mut v = vec![0usize; n];
    let mut z = vec![0.0f64; n + 1];
    let mut k = 0;
    z[0] = f64::NEG_INFINITY;
    z[1] = f64::INFINITY;
    let crossing = |q: usize, p: usize| {
        ((f[q] + (q * q) as f64) - (f[p] + (p * p) as f64)) / (2.0 * (q as f64 - p as f64))
    };
    for q in 1..n {
        let mut s = crossing(q, v[k]);
        // z[0] is −∞, so k never goes below 0.
        while s <= z[k] {
            k -= 1;
            s = crossing(q, v[k]);
        }
        k += 1;
        v[k] = q;
        z[k] = s;
        z[k + 1] = f64::INFINITY;
    }
    let mut k = 0;
    (0..n)
        .map(|q| {
            while z[k + 1] < q as f64 {
                k += 1;
            }
            let d = q as f64 - v[k] as f64;
            d * d + f[v[k]]
        })
        .collect()
}

/// The offset with the smallest error, refined by a parabola through it and
/// its neighbours.
fn best_offset(errors: &[f64]) -> f64 {
    let k = (0..errors.len())
        .min_by(|&a, &b| errors[a].total_cmp(&errors[b]))
        .unwrap_or(0);
    if k == 0 || k + 1 >= errors.len() {
        return k as f64;
    }
    let (a, b, c) = (errors[k - 1], errors[k], errors[k + 1]);
    let curvature = a - 2.0 * b + c;
    if curvature <= 0.0 {
        return k as f64;
    }
    k as f64 + 0.5 * (a - c) / curvature
}
