//! Parallel work, results in order, memory bounded: the fleet runner.
//!
//! Audits finish out of order; the report must not. Workers take inputs in
//! order but never more than `window` ahead of the next one to be printed, so
//! at most `window` finished audits wait in memory however large the fleet,
//! and one slow input (a large image) stalls nobody until the window is full.

use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};

struct State<T> {
    /// The next index a worker takes.
    taken: usize,
    /// The next index handed to the sink.
    given: usize,
    /// Finished and not yet handed over.
    done: BTreeMap<usize, T>,
    /// A worker died (a panic `work` did not contain): stop waiting for it.
    failed: bool,
    /// The sink wants no more.
    stopped: bool,
}

/// Runs `work(i)` for each `i` in `0..n` on `threads` threads and hands each
/// result to `sink` on the calling thread, in the order of `i`. At most
/// `window` results are held at once, besides the one in `sink`. When `sink` returns false (its output
/// is gone), no more work is started and the run ends once the work under
/// way is done. `work` should contain its own panics
/// (the CLI turns one into the input's ERROR); if one escapes anyway, the
/// remaining results are not handed over and the panic is raised here.
pub fn run<T: Send>(
    n: usize,
    threads: usize,
    window: usize,
    work: impl Fn(usize) -> T + Sync,
    mut sink: impl FnMut(usize, T) -> bool,
) {
    let window = window.max(1);
    let state = Mutex::new(State {
        taken: 0,
        given: 0,
        done: BTreeMap::new(),
        failed: false,
        stopped: false,
    });
    let changed = Condvar::new();
    let lock = || state.lock().unwrap_or_else(|e| e.into_inner());
    fn wait<'a, T>(changed: &Condvar, g: MutexGuard<'a, State<T>>) -> MutexGuard<'a, State<T>> {
        changed.wait(g).unwrap_or_else(|e| e.into_inner())
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads.max(1))
            .map(|_| {
                scope.spawn(|| {
                    // Marks the run failed if `work` unwinds past this thread.
                    struct Guard<'a, T>(&'a Mutex<State<T>>, &'a Condvar, bool);
                    impl<T> Drop for Guard<'_, T> {
                        fn drop(&mut self) {
                            if !self.2 {
                                self.0.lock().unwrap_or_else(|e| e.into_inner()).failed = true;
                                self.1.notify_all();
                            }
                        }
                    }
                    let mut guard = Guard(&state, &changed, false);
                    loop {
                        let mut g = lock();
                        let over = |g: &State<T>| g.taken >= n || g.failed || g.stopped;
                        while !over(&g) && g.taken >= g.given + window {
                            g = wait(&changed, g);
                        }
                        if over(&g) {
                            break;
                        }
                        let i = g.taken;
                        g.taken += 1;
                        drop(g);
                        let result = work(i);
                        lock().done.insert(i, result);
                        changed.notify_all();
                    }
                    guard.2 = true;
                })
            })
            .collect();
        // However this loop ends (the sink may panic), the workers must stop
        // waiting for it, or the scope would wait for them forever.
        struct Stop<'a, T>(&'a Mutex<State<T>>, &'a Condvar);
        impl<T> Drop for Stop<'_, T> {
            fn drop(&mut self) {
                self.0.lock().unwrap_or_else(|e| e.into_inner()).stopped = true;
                self.1.notify_all();
            }
        }
        let stop = Stop(&state, &changed);
        loop {
            let mut g = lock();
            let result = loop {
                if g.given >= n || g.failed {
                    break None;
                }
                let next = g.given;
                if let Some(r) = g.done.remove(&next) {
                    g.given += 1;
                    break Some((next, r));
                }
                g = wait(&changed, g);
            };
            drop(g);
            // A worker may be waiting for the window to move.
            changed.notify_all();
            let Some((i, r)) = result else {
                break;
            };
            if !sink(i, r) {
                break;
            }
        }
        drop(stop);
        for w in workers {
            if let Err(payload) = w.join() {
                std::panic::resume_unwind(payload);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn every_result_once_in_order_within_the_window() {
        for (n, threads, window) in [(0, 2, 4), (1, 2, 1), (100, 4, 3), (1000, 3, 64), (50, 1, 1)] {
            let held = AtomicUsize::new(0);
            let most = AtomicUsize::new(0);
            let mut seen = Vec::new();
            run(
                n,
                threads,
                window,
                |i| {
                    // Uneven work, so results finish out of order.
                    if i % 7 == 0 {
                        std::thread::yield_now();
                    }
                    let now = held.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    i * 2
                },
                |i, r| {
                    held.fetch_sub(1, Ordering::SeqCst);
                    assert_eq!(r, i * 2);
                    seen.push(i);
                    true
                },
            );
            assert_eq!(seen, (0..n).collect::<Vec<_>>());
            // Taken and not yet through the sink: the window, and the one
            // the sink is holding.
            assert!(
                most.load(Ordering::SeqCst) <= window + 1,
                "{n} {threads} {window}"
            );
        }
    }

    #[test]
    fn a_panic_that_escapes_work_is_raised_not_hung_on() {
        let r = std::panic::catch_unwind(|| {
            run(
                10,
                2,
                2,
                |i| {
                    assert!(i != 3, "boom");
                    i
                },
                |_, _| true,
            )
        });
        assert!(r.is_err());
    }

    #[test]
    fn a_sink_that_panics_is_raised_not_hung_on() {
        let r = std::panic::catch_unwind(|| {
            run(
                100,
                2,
                4,
                |i| i,
                |i, _| {
                    assert!(i != 1, "boom");
                    true
                },
            )
        });
        assert!(r.is_err());
    }

    #[test]
    fn a_sink_that_stops_stops_the_work() {
        let started = AtomicUsize::new(0);
        let mut given = 0;
        run(
            10_000,
            2,
            4,
            |i| {
                started.fetch_add(1, Ordering::SeqCst);
                i
            },
            |_, _| {
                given += 1;
                given < 3
            },
        );
        assert_eq!(given, 3);
        assert!(
            started.load(Ordering::SeqCst) <= 3 + 4 + 2,
            "work stopped near the window"
        );
    }
}
