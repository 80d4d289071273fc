//! Asymmetric memory barriers: a cheap `light` fence for the hot path and
//! an expensive `heavy` one for the rare side, which together order like a
//! pair of SeqCst fences. The bus's generation hand-off and the resilience
//! bulkhead's quota stealing use them.
//!
//! On Linux, `heavy` is `membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`: the
//! kernel interrupts every CPU running a thread of this process and runs a
//! full barrier there, so a `light` compiler fence suffices on the other
//! side. Registration happens once (`init`, called when a bus is created);
//! if the kernel lacks the command, both sides use SeqCst fences. Under
//! loom and Miri, both are SeqCst fences, so the models check the protocol.

use std::sync::OnceLock;

#[cfg(not(loom))]
use std::sync::atomic::compiler_fence;

use crate::sync::{fence, Ordering};

/// `MEMBARRIER_CMD_PRIVATE_EXPEDITED` from `linux/membarrier.h`.
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
const PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
/// `MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED`.
#[cfg(all(target_os = "linux", not(miri), not(loom)))]
const REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

/// Whether registration succeeded (set once, by `init`).
static REGISTERED: OnceLock<bool> = OnceLock::new();
/// The same fact as one flag the hot side reads: one load and a branch.
/// A `light` that reads `false` runs a full fence, which pairs with
/// either `heavy`; `heavy` registers first, so it uses `membarrier`
/// whenever a `light` may have relied on it.
static EXPEDITED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cfg(all(target_os = "linux", not(miri), not(loom)))]
fn membarrier(cmd: libc::c_long) -> libc::c_long {
    // SAFETY: membarrier takes two integer arguments and a CPU id, touches
    // no memory of ours, and reports failure through its return value.
    unsafe {
        libc::syscall(
            libc::SYS_membarrier,
            cmd,
            0 as libc::c_long,
            0 as libc::c_long,
        )
    }
}

fn register() -> bool {
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    {
        let supported = membarrier(0);
        supported >= 0
            && supported & PRIVATE_EXPEDITED != 0
            && membarrier(REGISTER_PRIVATE_EXPEDITED) == 0
    }
    #[cfg(not(all(target_os = "linux", not(miri), not(loom))))]
    {
        false
    }
}

/// Registers the process for expedited membarrier (idempotent). Call it
/// before the first `light` whose ordering matters, e.g. when the
/// structure using the pair is built.
pub fn init() {
    // Stored once: `heavy` calls this every time, and a store (even of the
    // same value) would take the line every `light` reads away from the
    // hot side's cores.
    if *REGISTERED.get_or_init(register) && !expedited() {
        // Relaxed: see `EXPEDITED`; the flag only chooses which of two
        // valid fences `light` runs.
        EXPEDITED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

#[cfg_attr(loom, allow(dead_code))]
fn expedited() -> bool {
    // Relaxed: see `EXPEDITED`.
    EXPEDITED.load(std::sync::atomic::Ordering::Relaxed)
}

/// The hot side's fence: with `heavy` on the other side, a store before
/// it and a load after it order like a SeqCst fence pair.
#[inline]
pub fn light() {
    #[cfg(not(loom))]
    if expedited() {
        compiler_fence(Ordering::SeqCst);
        return;
    }
    fence(Ordering::SeqCst);
}

/// The rare side's fence (a system call where membarrier exists: costs
/// microseconds).
pub fn heavy() {
    init();
    #[cfg(all(target_os = "linux", not(miri), not(loom)))]
    if expedited() {
        // After registration the command cannot fail; if it ever did, the
        // light side's ordering would be gone, so stop rather than go on.
        let rc = membarrier(PRIVATE_EXPEDITED);
        assert_eq!(
            rc,
            0,
            "membarrier failed after registration: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    // Without membarrier, `light` is a SeqCst fence too.
    fence(Ordering::SeqCst);
}

#[cfg(all(test, not(loom)))]
mod tests {
    #[test]
    fn both_fences_run_and_registration_is_stable() {
        super::init();
        let first = super::expedited();
        super::light();
        super::heavy();
        assert_eq!(super::expedited(), first);
    }
}
