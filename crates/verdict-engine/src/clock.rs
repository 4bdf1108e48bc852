//! Where `now` comes from: the system clock in production, a hand-set clock in tests.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use verdict_domain::Timestamp;
use verdict_domain::timestamp::duration_millis;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> Timestamp;
}

#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or(Duration::ZERO);
        Timestamp::from_millis(duration_millis(since_epoch))
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn at(t: Timestamp) -> Self {
        Self(AtomicI64::new(t.as_millis()))
    }

    pub fn set(&self, t: Timestamp) {
        self.0.store(t.as_millis(), Ordering::SeqCst);
    }

    pub fn advance(&self, d: Duration) {
        self.0.fetch_add(duration_millis(d), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// A clock running `speed` times faster than the system's: at the system time `anchor` it
/// reads `origin`. For simulations that drive a whole `verdict serve` through days in minutes,
/// so that the service's own timers run too; two processes given the same anchor agree.
#[derive(Debug, Clone, Copy)]
pub struct ScaledClock {
    origin: Timestamp,
    anchor: Timestamp,
    speed: f64,
}

impl ScaledClock {
    pub fn new(origin: Timestamp, anchor: Timestamp, speed: f64) -> Self {
        Self {
            origin,
            anchor,
            speed: speed.max(1.0),
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    /// What this clock reads at system time `real` (before the anchor: the origin).
    pub fn at(&self, real: Timestamp) -> Timestamp {
        let elapsed = real.millis_since(self.anchor).max(0) as f64;
        Timestamp::from_millis(self.origin.as_millis() + (elapsed * self.speed) as i64)
    }

    /// The system time at which this clock reads `t`.
    pub fn real_time_of(&self, t: Timestamp) -> Timestamp {
        let ahead = t.millis_since(self.origin).max(0) as f64;
        Timestamp::from_millis(self.anchor.as_millis() + (ahead / self.speed).ceil() as i64)
    }
}

impl Clock for ScaledClock {
    fn now(&self) -> Timestamp {
        self.at(SystemClock.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scaled_clock_runs_from_its_origin_at_its_speed() {
        let origin = Timestamp::from_millis(1_000_000);
        let anchor = Timestamp::from_millis(50_000);
        let clock = ScaledClock::new(origin, anchor, 600.0);
        assert_eq!(clock.at(Timestamp::from_millis(10_000)), origin);
        // One real second is ten simulated minutes.
        assert_eq!(
            clock.at(Timestamp::from_millis(51_000)),
            Timestamp::from_millis(1_000_000 + 600_000)
        );
        let t = Timestamp::from_millis(1_000_000 + 3_600_000);
        assert_eq!(clock.at(clock.real_time_of(t)), t);
    }
}
