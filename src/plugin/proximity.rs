//! The proximity alert in the app: a [`ProximityAlert`] message when real
//! objects come close and when they leave.

use bevy::prelude::*;

use super::receive::{CurrentDepth, NewDepth};
use crate::proximity::{Closeness, ProximityChange, ProximityDetector, ProximitySettings};

/// The proximity alert's settings and state. Change `detector.settings` at
/// run time; set `enabled = false` to stop it.
#[derive(Resource, Debug, Clone, Reflect)]
#[reflect(Resource, Debug, Default)]
pub struct MonoDepthProximity {
    /// Whether depth maps are checked.
    pub enabled: bool,
    /// Settings and state.
    pub detector: ProximityDetector,
}

impl Default for MonoDepthProximity {
    fn default() -> Self {
        Self {
            enabled: true,
            detector: ProximityDetector::new(ProximitySettings::default()),
        }
    }
}

impl MonoDepthProximity {
    /// Whether the alert is on.
    pub fn is_active(&self) -> bool {
        self.detector.is_active()
    }

    /// The last measurement of the region.
    pub fn last(&self) -> Option<Closeness> {
        self.detector.last()
    }
}

/// Sent when the proximity alert starts or ends (in `PreUpdate`, after
/// [`MonoDepthSystems::Receive`](super::MonoDepthSystems::Receive)).
#[derive(Message, Debug, Clone, Copy, PartialEq)]
pub struct ProximityAlert(pub ProximityChange);

pub(super) fn check_proximity(
    mut proximity: ResMut<MonoDepthProximity>,
    mut new_depth: MessageReader<NewDepth>,
    current: Res<CurrentDepth>,
    time: Res<Time<Real>>,
    mut alerts: MessageWriter<ProximityAlert>,
) {
    if new_depth.read().last().is_none() || !proximity.enabled {
        return;
    }
    let Some(map) = &current.map else { return };
    if let Some(event) = proximity.detector.update(map, time.elapsed()) {
        match event {
            ProximityChange::Started { share, nearest } => {
                info!(
                    "proximity alert: {:.0} % of the view nearer than {:.2} m (nearest {nearest:.2} m)",
                    share * 100.0,
                    proximity.detector.settings.distance
                )
            }
            ProximityChange::Ended => info!("proximity alert ended"),
        }
        alerts.write(ProximityAlert(event));
    }
}
