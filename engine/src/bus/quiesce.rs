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

use crate::barrier;
use crate::sync::{AtomicU64, Ordering};

/// `ActiveSlot` value outside a publish.
pub(crate) const IDLE: u64 = u64::MAX;

/// The current generation's number.
#[derive(Debug, Default)]
pub(crate) struct Gate {
    current: AtomicU64,
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
    /// Makes `number` current. The caller then checks quiescence of older
    /// generations with [`Gate::quiescent`].
    pub(crate) fn advance(&self, number: u64) {
        // Relaxed: ordered by the SeqCst fence in `quiescent`, which every
        // sealer runs after advancing.
        self.current.store(number, Ordering::Relaxed);
    }

    /// The current number (a hint when read outside the hand-shake).
    pub(crate) fn current(&self) -> u64 {
        // Relaxed: a hint; `ActiveSlot::enter` re-reads it behind a fence.
        self.current.load(Ordering::Relaxed)
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
        // Relaxed + light fence: see `Gate::quiescent`.
        self.active.store(number, Ordering::Relaxed);
        barrier::light();
        if gate.current.load(Ordering::Relaxed) == number {
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

#[cfg(all(test, loom))]
mod loom_tests {
    use super::*;
    use crate::sync::{thread, Arc, AtomicBool};

    /// A publisher keeps publishing while the sealer advances to generation
    /// 1 and waits for generation 0 to be quiescent; after that, nothing
    /// may be published into generation 0.
    #[test]
    fn nothing_is_published_into_a_quiescent_generation() {
        loom::model(|| {
            let gate = Arc::new(Gate::default());
            let slot = Arc::new(ActiveSlot::default());
            let sealed = Arc::new(AtomicBool::new(false));
            let publisher = {
                let (gate, slot, sealed) = (gate.clone(), slot.clone(), sealed.clone());
                thread::spawn(move || {
                    let mut number = 0;
                    for _ in 0..2 {
                        if slot.enter(number, &gate) {
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
            gate.advance(1);
            if gate.quiescent(0, [&*slot]) {
                sealed.store(true, Ordering::Relaxed);
            }
            publisher.join().unwrap();
        });
    }
}
