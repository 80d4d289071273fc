//! Per-thread counter slots.
//!
//! The hot path records outcomes into counters that only one thread
//! writes, so a record is a plain load and store, not a locked
//! read-modify-write, and no cache line bounces between cores. Each thread
//! claims a process-wide slot number on its first guarded call and gives
//! it back when it exits; the next thread to claim it carries on its
//! counters (they are cumulative, so nothing is lost or counted twice).
//!
//! A `Resilience` instance has `exclusive` single-writer slots. A thread
//! whose number is at or past that count writes the one shared slot with
//! `fetch_add` instead, so any number of threads is handled correctly,
//! only more slowly.

use std::cell::Cell;
use std::sync::Mutex;

struct Pool {
    next: u32,
    free: Vec<u32>,
}

static POOL: Mutex<Pool> = Mutex::new(Pool {
    next: 0,
    free: Vec::new(),
});

impl Pool {
    /// The lowest free number first, so a process whose threads come and
    /// go keeps using the exclusive slots.
    fn take(&mut self) -> u32 {
        match self.free.iter().enumerate().min_by_key(|(_, id)| **id) {
            Some((i, _)) => self.free.swap_remove(i),
            None => {
                self.next += 1;
                self.next - 1
            }
        }
    }
}

fn claim() -> u32 {
    POOL.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// Gives the thread's number back when the thread exits.
struct Release(Cell<u32>);

impl Drop for Release {
    fn drop(&mut self) {
        // From now on this thread (still running other destructors) uses
        // the shared slot: its number may go to another thread.
        let _ = CURRENT.try_with(|c| c.set(u64::from(EXITING)));
        // The mutex orders this thread's last counter stores before the
        // next owner's first load of them (the unlock here happens before
        // the lock in `claim`).
        let mut pool = POOL.lock().unwrap_or_else(|p| p.into_inner());
        pool.free.push(self.0.get());
    }
}

/// No slot yet.
const UNCLAIMED: u32 = u32::MAX;
/// The thread is exiting: counts go to the shared slot.
const EXITING: u32 = u32::MAX - 1;

thread_local! {
    /// The slot number (low 32 bits) and a call count for sampling (high
    /// 32 bits). A const-initialised cell without a destructor, so reading
    /// it is one thread-local load.
    static CURRENT: Cell<u64> = const { Cell::new(UNCLAIMED as u64) };
    static RELEASE: Release = const { Release(Cell::new(UNCLAIMED)) };
}

#[cold]
fn claim_for_this_thread() -> u64 {
    let id = claim();
    let registered = RELEASE.try_with(|r| r.0.set(id)).is_ok();
    if !registered {
        // The thread is already exiting: give the number straight back.
        POOL.lock().unwrap_or_else(|p| p.into_inner()).free.push(id);
        return u64::from(EXITING);
    }
    u64::from(id)
}

/// This thread's slot number, and whether this call should be timed
/// (every `sample_mask + 1`-th call on the thread). Slot numbers at or
/// past a table's exclusive slots (including the exiting marker) map to
/// its shared slot.
#[inline(always)]
pub(crate) fn current(sample_mask: u32) -> (u32, bool) {
    CURRENT.with(|c| {
        let mut v = c.get();
        if v as u32 == UNCLAIMED {
            v = claim_for_this_thread();
        }
        let v = v.wrapping_add(1 << 32);
        c.set(v);
        (v as u32, (v >> 32) as u32 & sample_mask == 0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_threads_hold_distinct_slots() {
        let (a, _) = current(0);
        let both = std::sync::Arc::new(std::sync::Barrier::new(2));
        let ids: Vec<u32> = (0..2)
            .map(|_| {
                let both = std::sync::Arc::clone(&both);
                std::thread::spawn(move || {
                    let id = current(0).0;
                    // Both threads are alive (holding their slots) here.
                    both.wait();
                    id
                })
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|h| h.join().unwrap())
            .collect();
        assert!(ids[0] != ids[1] && !ids.contains(&a), "{a} {ids:?}");
    }

    #[test]
    fn a_returned_number_is_reused_lowest_first() {
        // The pool itself, apart from the process-wide one other tests
        // share.
        let mut pool = Pool {
            next: 0,
            free: Vec::new(),
        };
        assert_eq!([pool.take(), pool.take(), pool.take()], [0, 1, 2]);
        pool.free.extend([2, 0]);
        assert_eq!([pool.take(), pool.take(), pool.take()], [0, 2, 3]);
    }

    #[test]
    fn sampling_picks_one_call_in_mask_plus_one() {
        let picked = (0..1024).filter(|_| current(63).1).count();
        assert_eq!(picked, 16);
    }
}
