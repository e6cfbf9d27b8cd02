//! Helpers for the tests that render (Mesa's software Vulkan where there is
//! no GPU): a headless app, waiting for pipelines, and reading targets back
//! only from frames that are known to be rendered.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bevy::prelude::*;
use bevy::render::gpu_readback::{Readback, ReadbackComplete};
use bevy::render::render_resource::{
    CachedPipelineState, PipelineCache, TextureFormat, TextureUsages,
};
use bevy::shader::ShaderCacheError;
use bevy::window::ExitCondition;

/// Bevy's default plugins without a window, rendering on the main thread (so
/// The bytes from one row of a read-back texture to the next: `row_bytes`
/// padded to the GPU's copy alignment, as Bevy's readback pads them.
pub fn readback_stride(row_bytes: usize) -> usize {
    bevy::render::renderer::RenderDevice::align_copy_bytes_per_row(row_bytes)
}

/// a test can watch the pipeline cache), and never exiting by themselves.
pub fn headless_render_plugins() -> bevy::app::PluginGroupBuilder {
    let plugins = DefaultPlugins
        .set(WindowPlugin {
            primary_window: None,
            exit_condition: ExitCondition::DontExit,
            ..default()
        })
        .build()
        .disable::<bevy::render::pipelined_rendering::PipelinedRenderingPlugin>();
    #[cfg(feature = "window")]
    let plugins = plugins.disable::<bevy::winit::WinitPlugin>();
    plugins
}

/// A `w`×`h` sRGB render target that can be read back.
pub fn target(app: &mut App, (w, h): (u32, u32)) -> Handle<Image> {
    let mut image = Image::new_target_texture(w, h, TextureFormat::Rgba8UnormSrgb, None);
    image.texture_descriptor.usage |= TextureUsages::COPY_SRC; // read back
    app.world_mut().resource_mut::<Assets<Image>>().add(image)
}

/// Updates until no render pipeline has been waiting for five updates in a
/// row (they compile in the background); fails on a pipeline that did not
/// compile, with its error. Needs rendering on the main thread
/// ([`headless_render_plugins`]).
pub fn settle(app: &mut App, deadline: Instant) {
    let mut quiet = 0;
    while quiet < 5 {
        assert!(Instant::now() < deadline, "pipelines still compiling");
        app.update();
        let cache = app
            .sub_app(bevy::render::RenderApp)
            .world()
            .resource::<PipelineCache>();
        for pipeline in cache.pipelines() {
            // Shaders still loading are retried; anything else is final.
            if let CachedPipelineState::Err(e) = &pipeline.state
                && !matches!(
                    e,
                    ShaderCacheError::ShaderNotLoaded(_)
                        | ShaderCacheError::ShaderImportNotYetAvailable
                )
            {
                panic!("a pipeline failed: {e}");
            }
        }
        quiet = if cache.waiting_pipelines().next().is_none() {
            quiet + 1
        } else {
            0
        };
    }
}

/// Every frame's copy of one render target, oldest first.
///
/// A readback can complete for a frame in which the target was not drawn yet
/// (all zeros: not even cleared), so tests never take the first one blindly:
/// they wait for one that shows what a rendered frame must show.
pub struct Readbacks {
    frames: Arc<Mutex<VecDeque<Vec<u8>>>>,
}

impl Readbacks {
    /// Starts reading `target` back after every frame.
    pub fn watch(app: &mut App, target: Handle<Image>) -> Self {
        let frames: Arc<Mutex<VecDeque<Vec<u8>>>> = Arc::default();
        let sink = Arc::clone(&frames);
        app.world_mut().spawn(Readback::texture(target)).observe(
            move |event: On<ReadbackComplete>| {
                if let Ok(mut frames) = sink.lock() {
                    frames.push_back(event.data.clone());
                }
            },
        );
        Self { frames }
    }

    /// Forgets the copies read so far.
    pub fn clear(&self) {
        self.frames.lock().unwrap().clear();
    }

    /// The next copy, updating the app until one arrives.
    pub fn next(&self, app: &mut App, deadline: Instant) -> Vec<u8> {
        loop {
            if let Some(data) = self.frames.lock().unwrap().pop_front() {
                return data;
            }
            assert!(Instant::now() < deadline, "no readback");
            app.update();
        }
    }

    /// The first copy that `accept` takes; fails with `what` at `deadline`.
    pub fn until(
        &self,
        app: &mut App,
        deadline: Instant,
        what: &str,
        accept: impl Fn(&[u8]) -> bool,
    ) -> Vec<u8> {
        loop {
            assert!(Instant::now() < deadline, "{what}");
            let data = self.next(app, deadline);
            if accept(&data) {
                return data;
            }
        }
    }

    /// The first copy of a still scene that is drawn (not all zeros: every
    /// target of the tests is cleared to an opaque colour) and equal to the
    /// copy of the frame before it.
    pub fn steady(&self, app: &mut App, deadline: Instant) -> Vec<u8> {
        let mut previous = self.next(app, deadline);
        loop {
            let data = self.next(app, deadline);
            if data == previous && data.iter().any(|&b| b != 0) {
                return data;
            }
            assert!(
                Instant::now() < deadline,
                "the target never showed the same drawn frame twice"
            );
            previous = data;
        }
    }
}
