//! Proximity alert: real objects closer than a set distance, in metres.
//!
//! The alert starts when at least `enter_share` of the valid depth pixels in
//! a region of the view are nearer than `distance`, and ends when that share
//! falls below `exit_share` (lower, so it does not flicker at the edge). A
//! change of state is only allowed `min_interval` after the previous one.
//! Invalid pixels, and pixels outside the region, are not counted.
//!
//! ```
//! use std::time::Duration;
//! use bevy_mono_depth::depth::DepthMap;
//! use bevy_mono_depth::proximity::{ProximityDetector, ProximityChange, ProximitySettings};
//!
//! let mut detector = ProximityDetector::new(ProximitySettings::default());
//! let near = DepthMap::from_metres(4, 4, vec![0.6; 16], (0.1, 10.0));
//! let event = detector.update(&near, Duration::from_secs(1));
//! assert!(matches!(event, Some(ProximityChange::Started { .. })));
//! ```

use bevy::reflect::Reflect;
use std::time::Duration;

use crate::depth::DepthMap;

/// When the alert starts and ends.
#[derive(Debug, Clone, PartialEq, Reflect)]
pub struct ProximitySettings {
    /// Nearer than this many metres counts as close.
    pub distance: f32,
    /// Share (0–1) of the region's valid pixels that must be close to start.
    pub enter_share: f32,
    /// The alert ends when the close share falls below this (≤ `enter_share`).
    pub exit_share: f32,
    /// Least time between a start and an end, or an end and a start.
    pub min_interval: Duration,
    /// Region of the view, in normalised frame coordinates:
    /// `[left, top, right, bottom]`, 0–1.
    pub region: [f32; 4],
}

impl Default for ProximitySettings {
    fn default() -> Self {
        Self {
            distance: 1.0,
            enter_share: 0.15,
            exit_share: 0.08,
            min_interval: Duration::from_millis(500),
            region: [0.2, 0.2, 0.8, 0.9],
        }
    }
}

/// How much of the region is close, in one depth map.
#[derive(Debug, Clone, Copy, PartialEq, Reflect)]
pub struct Closeness {
    /// Share (0–1) of the region's valid pixels nearer than the distance.
    pub share: f32,
    /// Nearest valid depth in the region, metres.
    pub nearest: f32,
    /// Valid pixels in the region.
    pub valid: usize,
}

/// Measures the region of `map` against `distance`; `None` when the region
/// holds no valid pixel.
pub fn closeness(map: &DepthMap, region: [f32; 4], distance: f32) -> Option<Closeness> {
    let (mut valid, mut close, mut nearest) = (0usize, 0usize, f32::INFINITY);
    for y in 0..map.height() {
        for x in 0..map.width() {
            let uv = [
                (x as f32 + 0.5) / map.width() as f32,
                (y as f32 + 0.5) / map.height() as f32,
            ];
            let [u, v] = map.mapping().depth_to_frame(uv);
            if u < region[0] || u > region[2] || v < region[1] || v > region[3] {
                continue;
            }
            let Some(d) = map.get(x, y) else { continue };
            valid += 1;
            nearest = nearest.min(d);
            if d < distance {
                close += 1;
            }
        }
    }
    (valid > 0).then(|| Closeness {
        share: close as f32 / valid as f32,
        nearest,
        valid,
    })
}

/// The name of [`ProximityChange`] before 0.2.
#[deprecated(
    since = "0.2.0",
    note = "renamed `ProximityChange` (it is not a Bevy event)"
)]
pub type ProximityEvent = ProximityChange;

/// A change of the alert's state.
#[derive(Debug, Clone, Copy, PartialEq, Reflect)]
pub enum ProximityChange {
    /// Something came close.
    Started {
        /// Share of the region that is close.
        share: f32,
        /// Nearest depth in the region, metres.
        nearest: f32,
    },
    /// Nothing is close any more.
    Ended,
}

/// The alert's state machine.
#[derive(Debug, Clone, Reflect)]
pub struct ProximityDetector {
    /// Its settings (may be changed between updates).
    pub settings: ProximitySettings,
    active: bool,
    last_change: Option<Duration>,
    last: Option<Closeness>,
}

impl ProximityDetector {
    /// A detector, not alerting.
    pub fn new(settings: ProximitySettings) -> Self {
        Self {
            settings,
            active: false,
            last_change: None,
            last: None,
        }
    }

    /// Whether the alert is on.
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// The last measurement (`None` if the region had no valid pixel).
    pub fn last(&self) -> Option<Closeness> {
        self.last
    }

    /// Feeds one depth map, seen at time `now`; returns a change of state.
    /// A region with no valid pixel counts as nothing close.
    pub fn update(&mut self, map: &DepthMap, now: Duration) -> Option<ProximityChange> {
        let s = &self.settings;
        self.last = closeness(map, s.region, s.distance);
        let share = self.last.map_or(0.0, |c| c.share);
        let may_change = self
            .last_change
            .is_none_or(|t| now.saturating_sub(t) >= s.min_interval);
        if !may_change {
            return None;
        }
        let event = if !self.active && share >= s.enter_share {
            Some(ProximityChange::Started {
                share,
                nearest: self.last.map_or(f32::INFINITY, |c| c.nearest),
            })
        } else if self.active && share < s.exit_share.min(s.enter_share) {
            Some(ProximityChange::Ended)
        } else {
            None
        };
        if event.is_some() {
            self.active = !self.active;
            self.last_change = Some(now);
        }
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 10×10 map at 3 m with the first `near` pixels (row-major) at 0.5 m.
    fn map_with_near(near: usize) -> DepthMap {
        let metres = (0..100).map(|i| if i < near { 0.5 } else { 3.0 }).collect();
        DepthMap::from_metres(10, 10, metres, (0.1, 10.0))
    }

    fn whole_view() -> ProximitySettings {
        ProximitySettings {
            region: [0.0, 0.0, 1.0, 1.0],
            min_interval: Duration::ZERO,
            ..ProximitySettings::default()
        }
    }

    fn t(ms: u64) -> Duration {
        Duration::from_millis(ms)
    }

    #[test]
    fn enters_above_the_threshold_stays_in_the_band_and_leaves_below() {
        let mut d = ProximityDetector::new(whole_view());
        assert_eq!(
            d.update(&map_with_near(14), t(0)),
            None,
            "14 % is below 15 %"
        );
        assert!(
            matches!(d.update(&map_with_near(15), t(10)), Some(ProximityChange::Started { share, nearest }) if share == 0.15 && nearest == 0.5)
        );
        assert_eq!(
            d.update(&map_with_near(8), t(20)),
            None,
            "8 % is inside the 8–15 % band"
        );
        assert_eq!(d.update(&map_with_near(12), t(30)), None);
        assert_eq!(
            d.update(&map_with_near(7), t(40)),
            Some(ProximityChange::Ended)
        );
        assert_eq!(
            d.update(&map_with_near(12), t(50)),
            None,
            "12 % is not enough to start again"
        );
        assert!(!d.is_active());
    }

    #[test]
    fn respects_the_minimum_interval() {
        let mut d = ProximityDetector::new(ProximitySettings {
            min_interval: Duration::from_millis(500),
            ..whole_view()
        });
        assert!(d.update(&map_with_near(50), t(1000)).is_some());
        assert_eq!(
            d.update(&map_with_near(0), t(1200)),
            None,
            "too soon to end"
        );
        assert!(d.is_active());
        assert_eq!(
            d.update(&map_with_near(0), t(1500)),
            Some(ProximityChange::Ended)
        );
        assert_eq!(
            d.update(&map_with_near(50), t(1700)),
            None,
            "too soon to start again"
        );
        assert!(d.update(&map_with_near(50), t(2000)).is_some());
    }

    #[test]
    fn ignores_invalid_pixels() {
        // 10 near pixels, 80 invalid, 10 far: half of the valid pixels are near.
        let metres = (0..100)
            .map(|i| {
                if i < 10 {
                    0.5
                } else if i < 90 {
                    f32::NAN
                } else {
                    3.0
                }
            })
            .collect();
        let map = DepthMap::from_metres(10, 10, metres, (0.1, 10.0));
        let c = closeness(&map, [0.0, 0.0, 1.0, 1.0], 1.0).unwrap();
        assert_eq!((c.share, c.valid, c.nearest), (0.5, 20, 0.5));
        let all_invalid = DepthMap::from_metres(2, 2, vec![f32::NAN; 4], (0.1, 10.0));
        assert_eq!(closeness(&all_invalid, [0.0, 0.0, 1.0, 1.0], 1.0), None);
        let mut d = ProximityDetector::new(whole_view());
        assert_eq!(
            d.update(&all_invalid, t(0)),
            None,
            "no valid pixel is nothing close"
        );
    }

    #[test]
    fn ignores_the_region_outside() {
        // Near pixels fill the top two rows only.
        let map = map_with_near(20);
        let top = closeness(&map, [0.0, 0.0, 1.0, 0.2], 1.0).unwrap();
        assert_eq!((top.share, top.valid), (1.0, 20));
        let bottom = closeness(&map, [0.0, 0.5, 1.0, 1.0], 1.0).unwrap();
        assert_eq!((bottom.share, bottom.valid), (0.0, 50));
        let mut d = ProximityDetector::new(ProximitySettings {
            region: [0.0, 0.5, 1.0, 1.0],
            ..whole_view()
        });
        assert_eq!(d.update(&map, t(0)), None);
    }

    #[test]
    fn the_region_is_in_frame_coordinates() {
        // A depth map covering the middle half of the frame's width (fill mode).
        let mut map = map_with_near(0);
        let metres = (0..100).map(|i| if i % 10 < 5 { 0.5 } else { 3.0 });
        map.set_metres(10, 10, metres, (0.1, 10.0));
        map.set_mapping(crate::camera::ImageMapping {
            scale: [0.5, 1.0],
            offset: [0.25, 0.0],
        })
        .unwrap();
        // Frame x 0.25–0.5 is the depth map's left half, all near.
        let c = closeness(&map, [0.25, 0.0, 0.5, 1.0], 1.0).unwrap();
        assert_eq!((c.share, c.valid), (1.0, 50));
    }
}
