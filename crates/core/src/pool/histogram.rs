//! Fixed-bucket histograms of the pool's durations (waits, usage, connects), for Prometheus:
//! recording one is a search through a dozen bounds and two increments, under the pool lock
//! the counter beside it already takes.

use std::time::Duration;

/// Upper bounds of the buckets, in milliseconds; a last, unbounded bucket (`+Inf`) follows.
/// From a loopback round trip to a stuck client: the ranges a pool's durations fall in.
pub const BUCKET_BOUNDS_MS: [u64; 14] = [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram {
    /// Observations per bucket (not cumulative); the last one counts those past every bound.
    pub buckets: [u64; BUCKET_BOUNDS_MS.len() + 1],
    /// The sum of the observations in microseconds, so that sub-millisecond ones still count.
    pub sum_us: u64,
}

impl Histogram {
    pub fn record(&mut self, elapsed: Duration) {
        let micros = elapsed.as_micros().min(u64::MAX as u128) as u64;
        let bucket = BUCKET_BOUNDS_MS.partition_point(|&bound| bound * 1000 < micros);
        self.buckets[bucket] += 1;
        self.sum_us = self.sum_us.saturating_add(micros);
    }

    pub fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_duration_goes_to_the_first_bucket_whose_bound_it_does_not_exceed() {
        let mut histogram = Histogram::default();
        histogram.record(Duration::from_micros(300));
        histogram.record(Duration::from_millis(1));
        histogram.record(Duration::from_micros(1001));
        histogram.record(Duration::from_secs(60));
        assert_eq!(histogram.buckets[0], 2, "up to and including 1 ms");
        assert_eq!(histogram.buckets[1], 1);
        assert_eq!(histogram.buckets[BUCKET_BOUNDS_MS.len()], 1, "past every bound");
        assert_eq!(histogram.count(), 4);
        assert_eq!(histogram.sum_us, 300 + 1000 + 1001 + 60_000_000);
    }
}
