//! The overlay's timing history: the last frames' stage timings, their
//! median and maximum, and the rolling graph.

use std::collections::VecDeque;
use std::time::Duration;

use bevy::prelude::*;
use bevy_egui::egui;

use crate::engine::StageTimings;
use crate::plugin::{CurrentDepth, NewDepth};

/// The last [`TimingHistory::CAPACITY`] frames' stage timings, milliseconds.
#[derive(Resource, Debug, Clone, Default, PartialEq)]
pub struct TimingHistory {
    /// Time in the mailbox.
    pub wait: VecDeque<f32>,
    /// Preprocessing.
    pub preprocess: VecDeque<f32>,
    /// Inference.
    pub inference: VecDeque<f32>,
    /// Postprocessing.
    pub postprocess: VecDeque<f32>,
    /// Temporal stabilisation (on the inference thread).
    pub stabilise: VecDeque<f32>,
    /// Frame received → texture written.
    pub latency: VecDeque<f32>,
}

impl TimingHistory {
    /// Frames kept.
    pub const CAPACITY: usize = 120;

    /// Adds one frame, dropping the oldest beyond the capacity.
    pub fn push(&mut self, t: &StageTimings, latency: Duration) {
        let ms = |d: Duration| d.as_secs_f32() * 1000.0;
        for (series, value) in [
            (&mut self.wait, ms(t.wait)),
            (&mut self.preprocess, ms(t.preprocess)),
            (&mut self.inference, ms(t.inference)),
            (&mut self.postprocess, ms(t.postprocess)),
            (&mut self.stabilise, ms(t.stabilise)),
            (&mut self.latency, ms(latency)),
        ] {
            if series.len() == Self::CAPACITY {
                series.pop_front();
            }
            series.push_back(value);
        }
    }
}

/// Median and maximum of a series (`None` when empty).
pub fn median_max(series: &VecDeque<f32>) -> Option<(f32, f32)> {
    let mut sorted: Vec<f32> = series.iter().copied().filter(|v| v.is_finite()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f32::total_cmp);
    let n = sorted.len();
    let median = if n % 2 == 1 {
        sorted[n / 2]
    } else {
        (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
    };
    Some((median, sorted[n - 1]))
}

/// Adds each new depth map's timings to the history.
pub(super) fn record_history(
    mut new_depth: MessageReader<NewDepth>,
    current: Res<CurrentDepth>,
    mut history: ResMut<TimingHistory>,
) {
    for depth in new_depth.read() {
        history.push(&depth.timings, current.latency);
    }
}

/// The stage-timing table, with the graph.
pub(super) fn timings(ui: &mut egui::Ui, history: &TimingHistory) {
    let rows = [
        ("wait", &history.wait),
        ("preprocess", &history.preprocess),
        ("inference", &history.inference),
        ("postprocess", &history.postprocess),
        ("stabilise", &history.stabilise),
        ("capture to texture", &history.latency),
    ];
    egui::Grid::new("mono-depth-timings")
        .striped(true)
        .show(ui, |ui| {
            ui.label("stage");
            ui.label("median ms");
            ui.label("max ms");
            ui.end_row();
            for (name, series) in rows {
                ui.label(name);
                match median_max(series) {
                    Some((median, max)) => {
                        ui.label(format!("{median:.2}"));
                        ui.label(format!("{max:.2}"));
                    }
                    None => {
                        ui.label("–");
                        ui.label("–");
                    }
                }
                ui.end_row();
            }
        });
    graph(ui, &history.inference, &history.latency);
}

/// Inference (orange) and latency (blue) over the last frames.
fn graph(ui: &mut egui::Ui, inference: &VecDeque<f32>, latency: &VecDeque<f32>) {
    let (response, painter) =
        ui.allocate_painter(egui::vec2(ui.available_width(), 70.0), egui::Sense::hover());
    let rect = response.rect;
    painter.rect_filled(rect, 2.0, egui::Color32::from_gray(24));
    let top = inference
        .iter()
        .chain(latency)
        .copied()
        .filter(|v| v.is_finite())
        .fold(1.0f32, f32::max);
    for (series, color) in [
        (inference, egui::Color32::from_rgb(255, 160, 60)),
        (latency, egui::Color32::from_rgb(90, 160, 255)),
    ] {
        let n = TimingHistory::CAPACITY.max(2) as f32;
        let points: Vec<egui::Pos2> = series
            .iter()
            .enumerate()
            .map(|(i, v)| {
                egui::pos2(
                    rect.left() + rect.width() * i as f32 / (n - 1.0),
                    rect.bottom() - rect.height() * (v / top).clamp(0.0, 1.0),
                )
            })
            .collect();
        painter.add(egui::Shape::line(points, egui::Stroke::new(1.5, color)));
    }
    painter.text(
        rect.left_top() + egui::vec2(4.0, 2.0),
        egui::Align2::LEFT_TOP,
        format!("{top:.0} ms"),
        egui::FontId::monospace(10.0),
        egui::Color32::GRAY,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_keeps_the_last_frames_and_summarises_them() {
        let mut history = TimingHistory::default();
        for i in 0..(TimingHistory::CAPACITY + 30) {
            let t = StageTimings {
                inference: Duration::from_millis(i as u64),
                ..StageTimings::default()
            };
            history.push(&t, Duration::from_millis(2 * i as u64));
        }
        assert_eq!(history.inference.len(), TimingHistory::CAPACITY);
        assert_eq!(
            history.inference.front(),
            Some(&30.0),
            "the oldest 30 are gone"
        );
        let (median, max) = median_max(&history.inference).unwrap();
        assert_eq!((median, max), (89.5, 149.0));
        assert_eq!(median_max(&VecDeque::new()), None);
        assert_eq!(
            median_max(&VecDeque::from([3.0, 1.0, 2.0])),
            Some((2.0, 3.0))
        );
    }
}
