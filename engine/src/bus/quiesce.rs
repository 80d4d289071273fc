//! The hand-shake that lets a topic retire a generation of rings while
//! publishers run: each publisher marks the generation it is publishing
//! into (`ActiveSlot`), the topic advances `current`, and a generation is
//! quiescent once no slot names it. A Dekker pair of fences makes it exact:
//! either the publisher sees the new number after marking itself, or the
//! sealer sees the mark and waits.
//!
//! The fences are asymmetric (`engine/src/barrier.rs`): the publisher's, on every
//! publish, is a compiler fence; the sealer's, once per resize, is a
//! `membarrier` system call that makes every thread of the process run a
//! full barrier. Where `membarrier` is missing both are SeqCst fences.
//!
//! The gate's word also carries, below the number, the reasons a publish
//! may not take the fast path (`SLOW_*`), so the fast path's whole test is
//! the one load the hand-shake already makes: the word equals the
//! publisher's generation number shifted up, with no reason set.

use crate::barrier;
use crate::sync::{AtomicU64, Ordering};

/// `ActiveSlot` value outside a publish.
pub(crate) const IDLE: u64 = u64::MAX;

/// Gate bit: the topic is durable or spills (fixed at creation).
pub(crate) const SLOW_NOT_PLAIN: u64 = 1;
/// Gate bit: the topic's backpressure state is not Normal.
pub(crate) const SLOW_TOPIC_PRESSURE: u64 = 2;
/// Gate bit: the bus's backpressure state is not Normal.
pub(crate) const SLOW_BUS_PRESSURE: u64 = 4;
/// Bits below the generation number in the gate's word.
const SLOW_BITS: u32 = 3;

/// The current generation's number, and the reasons publishes may not
/// take the fast path, in one word: `number << SLOW_BITS | SLOW_*`.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    word: AtomicU64,
}

/// One publisher's mark. Only that publisher writes it.
#[derive(Debug)]
pub(crate) struct ActiveSlot {
    active: AtomicU64,
}

impl Default for ActiveSlot {
    fn default() -> Self {
        ActiveSlot {
            active: AtomicU64::new(IDLE),
        }
    }
}

impl Gate {
    /// Generation 0, with the `slow` reasons set.
    pub(crate) fn new(slow: u64) -> Gate {
        debug_assert!(slow < 1 << SLOW_BITS, "not a gate bit");
        Gate {
            word: AtomicU64::new(slow),
        }
    }

    /// Makes `number` current, keeping the reasons. The caller then checks
    /// quiescence of older generations with [`Gate::quiescent`].
    pub(crate) fn advance(&self, number: u64) {
        // Relaxed: ordered by the heavy fence in `quiescent`, which every
        // sealer runs after advancing (a read-modify-write is a store to
        // the hand-shake as a plain store is).
        let _ = self
            .word
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |w| {
                Some(number << SLOW_BITS | w & ((1 << SLOW_BITS) - 1))
            });
    }

    /// The current number (a hint when read outside the hand-shake).
    pub(crate) fn current(&self) -> u64 {
        // Relaxed: a hint; `ActiveSlot::enter` re-reads it behind a fence.
        self.word.load(Ordering::Relaxed) >> SLOW_BITS
    }

    /// Sets or clears a `SLOW_*` reason. The number is untouched. Writes
    /// only when the reason changes: every publish to the topic loads this
    /// word, and a write (even of the same value) takes the line from all
    /// of their caches. Callers are serialised (the backpressure update's
    /// mutex; a topic being created is not yet shared), so the check and
    /// the write do not race another reason's change.
    pub(crate) fn set_slow(&self, reason: u64, on: bool) {
        // Relaxed (all three): a hint for the fast path, which re-checks
        // nothing it skips; the general path reads the states themselves.
        // A publish racing the change may take either path, as one racing
        // the state change itself would.
        if (self.word.load(Ordering::Relaxed) & reason != 0) == on {
            return;
        }
        if on {
            self.word.fetch_or(reason, Ordering::Relaxed);
        } else {
            self.word.fetch_and(!reason, Ordering::Relaxed);
        }
    }

    /// True if no slot is publishing into generation `number`. Once true
    /// for a generation that is not current, it stays true: a publisher that
    /// marks it afterwards sees that it is not current and backs off.
    pub(crate) fn quiescent<'a>(
        &self,
        number: u64,
        slots: impl IntoIterator<Item = &'a ActiveSlot>,
    ) -> bool {
        // Heavy fence: pairs with the light fence in `ActiveSlot::enter`
        // (store current / fence / load active vs store active / fence /
        // load current): one side sees the other's store.
        barrier::heavy();
        // Acquire: pairs with the Release in `exit`, so the publisher's
        // writes before it (head sequences) are visible to the sealer.
        slots
            .into_iter()
            .all(|s| s.active.load(Ordering::Acquire) != number)
    }
}

impl ActiveSlot {
    /// Marks a publish into generation `number`; false (and unmarked) if
    /// `number` is no longer current: move to the current generation first.
    #[inline]
    pub(crate) fn enter(&self, number: u64, gate: &Gate) -> bool {
        self.enter_if(number, gate, |word| word >> SLOW_BITS == number)
    }

    /// Like [`ActiveSlot::enter`], and false (and unmarked) also if any
    /// `SLOW_*` reason is set: the publish fast path's entry.
    #[inline(always)]
    pub(crate) fn enter_fast(&self, number: u64, gate: &Gate) -> bool {
        self.enter_if(number, gate, |word| word == number << SLOW_BITS)
    }

    /// Marks a publish into generation `number`, then keeps the mark if
    /// `ok(gate word)`.
    #[inline(always)]
    fn enter_if(&self, number: u64, gate: &Gate, ok: impl FnOnce(u64) -> bool) -> bool {
        // Relaxed + light fence: see `Gate::quiescent`.
        self.active.store(number, Ordering::Relaxed);
        barrier::light();
        if ok(gate.word.load(Ordering::Relaxed)) {
            return true;
        }
        self.exit();
        false
    }

    /// Ends a publish.
    #[inline]
    pub(crate) fn exit(&self) {
        // Release: pairs with the Acquire in `Gate::quiescent`.
        self.active.store(IDLE, Ordering::Release);
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_slow_reason_turns_the_fast_entry_away_and_only_it() {
        let gate = Gate::new(SLOW_NOT_PLAIN);
        let slot = ActiveSlot::default();
        assert!(!slot.enter_fast(0, &gate), "a durable or spill topic");
        assert!(slot.enter(0, &gate), "the general entry ignores reasons");
        slot.exit();

        let gate = Gate::new(0);
        assert!(slot.enter_fast(0, &gate));
        slot.exit();
        for reason in [SLOW_TOPIC_PRESSURE, SLOW_BUS_PRESSURE] {
            gate.set_slow(reason, true);
            assert!(!slot.enter_fast(0, &gate));
            // Turned away means unmarked: a sealer would not wait for it.
            assert!(gate.quiescent(0, [&slot]));
            assert!(slot.enter(0, &gate));
            slot.exit();
            gate.set_slow(reason, false);
            assert!(slot.enter_fast(0, &gate));
            slot.exit();
        }
    }

    #[test]
    fn advancing_keeps_the_reasons_and_moves_the_fast_entry() {
        let gate = Gate::new(0);
        gate.set_slow(SLOW_BUS_PRESSURE, true);
        gate.advance(5);
        assert_eq!(gate.current(), 5);
        let slot = ActiveSlot::default();
        assert!(
            !slot.enter_fast(5, &gate),
            "the reason survived the advance"
        );
        gate.set_slow(SLOW_BUS_PRESSURE, false);
        assert!(!slot.enter_fast(4, &gate), "an old generation");
        assert!(!slot.enter(4, &gate));
        assert!(slot.enter_fast(5, &gate));
        slot.exit();
    }
}

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{thread, Arc, AtomicBool};

    /// A publisher keeps publishing while the sealer advances to generation
    /// 1 and waits for generation 0 to be quiescent; after that, nothing
    /// may be published into generation 0. `fast`: the publisher enters
    /// through the fast path's entry, while the sealer's thread also sets
    /// and clears a slow reason (the backpressure tick's writes to the
    /// same word).
    fn publishes_stay_out_of_a_quiescent_generation(fast: bool) {
        loom::model(move || {
            let gate = Arc::new(Gate::default());
            let slot = Arc::new(ActiveSlot::default());
            let sealed = Arc::new(AtomicBool::new(false));
            let publisher = {
                let (gate, slot, sealed) = (gate.clone(), slot.clone(), sealed.clone());
                thread::spawn(move || {
                    let mut number = 0;
                    for _ in 0..2 {
                        let entered = if fast {
                            slot.enter_fast(number, &gate)
                        } else {
                            slot.enter(number, &gate)
                        };
                        if entered {
                            // "Publish": generation 0 must not be sealed yet.
                            assert!(
                                number != 0 || !sealed.load(Ordering::Relaxed),
                                "published into a sealed generation"
                            );
                            slot.exit();
                        } else {
                            number = gate.current();
                        }
                    }
                })
            };
            if fast {
                gate.set_slow(SLOW_TOPIC_PRESSURE, true);
            }
            gate.advance(1);
            if fast {
                gate.set_slow(SLOW_TOPIC_PRESSURE, false);
            }
            if gate.quiescent(0, [&*slot]) {
                sealed.store(true, Ordering::Relaxed);
            }
            publisher.join().unwrap();
        });
    }

    #[test]
    fn nothing_is_published_into_a_quiescent_generation() {
        publishes_stay_out_of_a_quiescent_generation(false);
    }

    #[test]
    fn nothing_is_published_into_a_quiescent_generation_by_the_fast_path() {
        publishes_stay_out_of_a_quiescent_generation(true);
    }
}
