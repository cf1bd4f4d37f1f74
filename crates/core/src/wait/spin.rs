//! Spinning a little before sleeping, when the answer is about to arrive.
//!
//! A thread that sleeps in poll(2) gives its CPU up; on a virtual machine whose idle CPUs halt
//! (most clouds), waking that CPU again for an answer that took 30 µs costs about as much as the
//! round trip itself. So a wait for a socket first checks it, without sleeping, for up to
//! `LIMIT`: a short query's answer (a `SELECT 1` is 20–40 µs from send to answer over loopback)
//! lands while the thread is still on its CPU. Used by `block_on` (sync calls) and, in the
//! binding, by Node's event loop before it sleeps with a query waiting (one `Spin` per thread
//! each: they learn from different waits).
//!
//! The spin costs CPU, so it adapts: a spin that runs out (a long query, a busy server) makes
//! the next waits sleep at once, for twice as many waits after each miss in a row (up to
//! `MAX_SKIP`), before one spins again to see whether answers come quickly again. On a machine
//! with one CPU it never spins: the answer would need the very CPU the spin holds.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The longest a wait spins before it sleeps: about twice a short query's round trip.
const LIMIT: Duration = Duration::from_micros(60);

/// The most waits that sleep at once after spins that ran out.
const MAX_SKIP: u32 = 64;

/// One thread's spinning, learned from its last waits.
#[derive(Debug)]
pub struct Spin {
    /// Waits left that sleep at once.
    skip: u32,
    /// How many waits the next miss makes sleep at once.
    backoff: u32,
}

impl Default for Spin {
    fn default() -> Spin {
        Spin::new()
    }
}

impl Spin {
    /// A thread's spinning before its first wait: it spins.
    pub const fn new() -> Spin {
        Spin { skip: 0, backoff: 1 }
    }

    /// Calls `ready` (a check that does not sleep) until it says true or the spin is over.
    /// Returns whether it did: false means the caller sleeps.
    pub fn until(&mut self, mut ready: impl FnMut() -> bool) -> bool {
        if !several_cpus() {
            return false;
        }
        if self.skip > 0 {
            self.skip -= 1;
            return false;
        }
        let end = Instant::now() + LIMIT;
        loop {
            if ready() {
                self.backoff = 1;
                return true;
            }
            if Instant::now() >= end {
                self.skip = self.backoff;
                self.backoff = (self.backoff * 2).min(MAX_SKIP);
                return false;
            }
            std::hint::spin_loop();
        }
    }
}

/// Whether one of `fds` is ready, asked of poll(2) without sleeping: the check a spin repeats.
pub fn any_ready(fds: &mut [libc::pollfd]) -> bool {
    // SAFETY: `fds` is a live, writable slice of pollfd structs and its exact length is passed
    // with it; with a zero timeout poll(2) returns at once and keeps no pointer.
    unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, 0) > 0 }
}

fn several_cpus() -> bool {
    static SEVERAL: OnceLock<bool> = OnceLock::new();
    *SEVERAL.get_or_init(|| std::thread::available_parallelism().is_ok_and(|n| n.get() > 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_within_the_limit_ends_the_spin_and_keeps_spinning_on() {
        let mut spin = Spin::new();
        let mut checks = 0;
        assert_eq!(
            spin.until(|| {
                checks += 1;
                checks == 3
            }),
            several_cpus()
        );
        assert_eq!(spin.skip, 0);
    }

    #[test]
    fn spins_that_run_out_make_twice_as_many_waits_sleep_at_once() {
        if !several_cpus() {
            return;
        }
        let mut spin = Spin::new();
        let mut skipped_after_each_miss = Vec::new();
        for _ in 0..8 {
            let started = Instant::now();
            assert!(!spin.until(|| false));
            assert!(started.elapsed() >= LIMIT);
            let mut skipped = 0;
            while spin.skip > 0 {
                let mut checked = false;
                assert!(!spin.until(|| {
                    checked = true;
                    true
                }));
                assert!(!checked, "a skipped wait does not check");
                skipped += 1;
            }
            skipped_after_each_miss.push(skipped);
        }
        assert_eq!(skipped_after_each_miss, [1, 2, 4, 8, 16, 32, 64, 64]);
        assert!(spin.until(|| true), "a quick answer again");
        assert!(!spin.until(|| false));
        assert_eq!(spin.skip, 1, "a hit resets the backoff");
    }
}
