//! Retry timing: psycopg's exponential backoff with jitter, used by reconnection chains and by
//! the `check` retry loop of `getconn`.

use std::time::Duration;

use tokio::time::Instant;

/// The first retry waits about this long...
pub const INITIAL_DELAY: Duration = Duration::from_secs(1);
/// ...give or take this fraction...
pub const DELAY_JITTER: f64 = 0.1;
/// ...and each later retry waits this many times longer.
pub const DELAY_BACKOFF: f64 = 2.0;

/// `value` scaled by a random factor in `[1 + low, 1 + high)`.
pub fn jitter(value: Duration, low: f64, high: f64) -> Duration {
    value.mul_f64(1.0 + (high - low) * rand_unit() + low)
}

/// A uniform float in [0, 1), from a small per-thread xorshift generator: jitter needs
/// spread, not cryptographic quality.
fn rand_unit() -> f64 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new(seed());
    }
    STATE.with(|state| {
        let mut x = state.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        state.set(x);
        (x >> 11) as f64 / (1u64 << 53) as f64
    })
}

fn seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// One chain of attempts with a total time budget.
#[derive(Debug, Clone)]
pub struct Attempt {
    budget: Duration,
    /// Zero until the first failure is recorded.
    pub delay: Duration,
    give_up_at: Option<Instant>,
}

impl Attempt {
    pub fn new(budget: Duration) -> Attempt {
        Attempt {
            budget,
            delay: Duration::ZERO,
            give_up_at: None,
        }
    }

    /// Records a failure at `now` and computes the wait before the next attempt.
    pub fn update_delay(&mut self, now: Instant) {
        if self.delay.is_zero() {
            self.give_up_at = Some(now + self.budget);
            self.delay = jitter(INITIAL_DELAY, -DELAY_JITTER, DELAY_JITTER);
        } else {
            self.delay = self.delay.mul_f64(DELAY_BACKOFF);
        }
        if let Some(give_up_at) = self.give_up_at {
            if now + self.delay > give_up_at {
                self.delay = give_up_at.saturating_duration_since(now);
            }
        }
    }

    pub fn time_to_give_up(&self, now: Instant) -> bool {
        self.give_up_at.is_some_and(|at| now >= at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_stays_in_its_range() {
        let samples: Vec<f64> = (0..1000)
            .map(|_| jitter(Duration::from_secs(30), -0.1, 0.2).as_secs_f64())
            .collect();
        let min = samples.iter().cloned().fold(f64::MAX, f64::min);
        let max = samples.iter().cloned().fold(f64::MIN, f64::max);
        assert!((27.0..28.0).contains(&min), "{min}");
        assert!(max > 35.0 && max < 36.0, "{max}");
    }

    #[test]
    fn backoff_doubles_and_is_clipped_to_the_budget() {
        let start = Instant::now();
        let mut attempt = Attempt::new(Duration::from_secs(300));
        assert!(!attempt.time_to_give_up(start));
        let mut at = start;
        let mut times = vec![0.0];
        while !attempt.time_to_give_up(at) {
            attempt.update_delay(at);
            at += attempt.delay;
            times.push((at - start).as_secs_f64());
        }
        // 0, d, 3d, 7d, ... 255d, then clipped to 300 s: ten attempts in all.
        assert_eq!(times.len(), 10, "{times:?}");
        let d = times[1];
        assert!((0.9..1.1).contains(&d));
        assert!((times[8] - 255.0 * d).abs() < 1e-6);
        assert!((times[9] - 300.0).abs() < 1e-6);
    }
}
