//! What travels on a topic's ring: preallocated slots with their side
//! cells, and the view a subscriber gets of one.

use std::cell::UnsafeCell;

/// Set on messages published while the bus was in Warning or worse.
pub const FLAG_BACKPRESSURE: u8 = 1;
/// Set on messages published with a key.
pub const FLAG_KEYED: u8 = 2;

/// One ring slot: what every message carries, 16 bytes and 16-aligned, so
/// four share a cache line. A batch of words moves a quarter line per
/// message between the cores; the 32-byte slot that also held the key
/// hash and the byte buffer's pointer moved half a line, and on this
/// 2-core VM, whose cores fetch each other's lines slowly in some runs,
/// that halved batch throughput (`ARCHITECTURE.md`, bus performance). What
/// only some messages carry (the key hash, the bytes) lives in the ring's
/// [`Extra`] column at the same index, read only when `meta`'s flags say
/// it is there.
#[derive(Debug, Default, Clone, Copy)]
#[repr(C, align(16))]
pub(crate) struct Slot {
    word: u64,
    /// Flags in the top byte; below them the message's sequence in its
    /// partition's log (durable topics only; 0 on others, whose
    /// subscribers never read it).
    meta: u64,
}

const _: () = assert!(std::mem::size_of::<Slot>() == 16);

impl Slot {
    /// Writes both words with one 16-byte store: one store per message in
    /// a publisher's loop instead of two (LLVM does not merge the pair
    /// itself). Measured on one thread (a batch-64 publish into a ring
    /// drained between rounds, fifteen rounds), Keel's time per message
    /// against the raw crate's with a 16-byte event written as two words
    /// went from 0.97x to 0.92x, and a single publish's from 3.8x to 3.5x
    /// (`ARCHITECTURE.md`, bus performance).
    #[inline(always)]
    fn store(&mut self, word: u64, meta: u64) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{__m128i, _mm_set_epi64x, _mm_store_si128};
            // SAFETY: SSE2 is part of x86_64; `Slot` is 16-aligned and
            // `&mut self` makes this the only access.
            unsafe {
                _mm_store_si128(
                    self as *mut Slot as *mut __m128i,
                    _mm_set_epi64x(meta as i64, word as i64),
                )
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            *self = Slot { word, meta };
        }
    }
}

/// The side column's cell for one ring slot: written only for a keyed
/// message (the hash) or a byte payload (the buffer, which keeps its
/// capacity between uses, so publishing allocates only when a payload is
/// larger than any before it in that slot).
#[derive(Debug, Default)]
pub(crate) struct Extra {
    key_hash: u64,
    /// A pointer (8 bytes) to the buffer, allocated the first time its
    /// slot carries bytes.
    #[allow(clippy::box_collection)]
    bytes: Option<Box<Vec<u8>>>,
}

/// Internal bit of the flags byte: the slot's [`Extra`] holds this
/// message's bytes. Masked out of [`Delivered::flags`].
const HAS_BYTES: u8 = 0x80;

/// Bits of `Slot::meta` below the flags byte.
const OFFSET_BITS: u32 = 56;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// Largest log sequence a slot carries: 2^56 - 1, some 2,000 years of
/// records at a million synced records a second.
pub(crate) const OFFSET_MAX: u64 = OFFSET_MASK;

/// A ring's side column: one [`Extra`] per slot, found from the slot's
/// address (`(address - base) / 16`). The index is computed, and the cell
/// touched, only for messages that have a key or bytes.
pub(crate) struct SideColumn {
    /// Address of slot 0.
    base: usize,
    cells: Box<[UnsafeCell<Extra>]>,
}

// SAFETY: a cell is reached only through an `Envelope` (made from the
// `&mut Slot` of the same index: in `ring.rs`, the one the crate hands a
// producer between its claim and its publish; in `Scratch`, its own slot
// under `&mut self`) or a `Delivered` (made from the `&Slot` a poller's
// guard hands out between the publish and the release). The crate never
// has a slot claimed and readable at once, so a cell is never written
// while read; and its cursor publish (Release) / poller read (Acquire),
// poller release (Release) / producer claim (Acquire) pairs order the
// cell's accesses as they order the slot's. `Extra` is `Send`.
unsafe impl Sync for SideColumn {}

impl SideColumn {
    /// `size` empty cells for the ring whose slot 0 is at `base`.
    pub(crate) fn new(base: usize, size: usize) -> SideColumn {
        SideColumn {
            base,
            cells: (0..size).map(|_| UnsafeCell::default()).collect(),
        }
    }

    /// The cell of `slot`.
    ///
    /// # Safety
    /// `slot` is one of this column's ring's slots (what `Envelope::new`
    /// and `Delivered::new` require of their callers). Unchecked so that a
    /// handler that never reads a message's key or bytes costs no load of
    /// the flags for them: with a bounds check's panic on the path, the
    /// compiler kept both flag tests in every subscriber's loop.
    #[inline]
    unsafe fn cell(&self, slot: &Slot) -> &UnsafeCell<Extra> {
        let index = (slot as *const Slot as usize - self.base) / std::mem::size_of::<Slot>();
        debug_assert!(index < self.cells.len(), "slot outside the column's ring");
        // SAFETY: the caller's contract puts `slot` in the ring of
        // `cells.len()` slots that starts at `base`.
        unsafe { self.cells.get_unchecked(index) }
    }
}

/// A slot being written, and the way to its side cell.
pub(crate) struct Envelope<'a> {
    slot: &'a mut Slot,
    side: &'a SideColumn,
}

impl<'a> Envelope<'a> {
    /// # Safety
    /// `slot` lies in the ring whose column `side` is, and the caller may
    /// write `slot`'s cell for `'a` as it may write `slot` (no one else
    /// reads or writes either meanwhile).
    #[inline]
    pub(crate) unsafe fn new(slot: &'a mut Slot, side: &'a SideColumn) -> Envelope<'a> {
        Envelope { slot, side }
    }

    #[inline]
    fn extra(&mut self) -> &mut Extra {
        // SAFETY: `new`'s contract: `slot` is in `side`'s ring, this
        // envelope has the cell to itself, and `&mut self` keeps this the
        // only reference made from it.
        unsafe { &mut *self.side.cell(self.slot).get() }
    }

    /// Writes a message. A word touches the slot alone, with stores only
    /// (no load of a line the consumer last read); the side cell is
    /// written only for a key or bytes.
    #[inline]
    pub(crate) fn fill(&mut self, key_hash: u64, flags: u8, word: u64, bytes: &[u8]) {
        let mut flags = flags & !HAS_BYTES;
        if flags & FLAG_KEYED != 0 {
            self.extra().key_hash = key_hash;
        }
        if !bytes.is_empty() {
            flags |= HAS_BYTES;
            let extra = self.extra();
            match &mut extra.bytes {
                Some(buffer) => {
                    buffer.clear();
                    buffer.extend_from_slice(bytes);
                }
                None => extra.bytes = Some(Box::new(bytes.to_vec())),
            }
        }
        // Stores, not a read-modify-write of the slot: the offset is
        // zeroed here and set after the fill by durable topics only.
        self.slot.store(word, u64::from(flags) << OFFSET_BITS);
    }

    /// Sets the log sequence, at most [`OFFSET_MAX`] (a log refuses to
    /// grow past it).
    #[inline]
    pub(crate) fn set_offset(&mut self, offset: u64) {
        debug_assert!(offset <= OFFSET_MAX, "log sequence past 2^56");
        self.slot.meta = (self.slot.meta & !OFFSET_MASK) | (offset & OFFSET_MASK);
    }

    /// What was filled in, as a subscriber would see it.
    pub(crate) fn delivered(&self) -> Delivered<'_> {
        Delivered {
            slot: self.slot,
            side: self.side,
        }
    }
}

/// A slot and side cell owned outside any ring (encoding spill records).
pub(crate) struct Scratch {
    slot: Slot,
    /// One cell; its base is set to `slot`'s address at each use (the
    /// scratch may have moved).
    side: SideColumn,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            slot: Slot::default(),
            side: SideColumn::new(0, 1),
        }
    }
}

impl Scratch {
    pub(crate) fn envelope(&mut self) -> Envelope<'_> {
        self.side.base = &self.slot as *const Slot as usize;
        // SAFETY: `&mut self` gives this envelope the slot and its one
        // cell to itself for its lifetime.
        unsafe { Envelope::new(&mut self.slot, &self.side) }
    }
}

/// A filled slot, read, and the way to its side cell.
#[derive(Clone, Copy)]
pub(crate) struct Delivered<'a> {
    slot: &'a Slot,
    side: &'a SideColumn,
}

impl<'a> Delivered<'a> {
    /// # Safety
    /// `slot` lies in the ring whose column `side` is, and no one writes
    /// `slot` or its cell for `'a`.
    #[inline]
    pub(crate) unsafe fn new(slot: &'a Slot, side: &'a SideColumn) -> Delivered<'a> {
        Delivered { slot, side }
    }

    #[inline]
    fn extra(&self) -> &'a Extra {
        // SAFETY: `new`'s contract: `slot` is in `side`'s ring, and
        // nothing writes the cell for `'a`.
        unsafe { &*self.side.cell(self.slot).get() }
    }

    /// The flags byte, internal bit included.
    #[inline]
    fn all_flags(&self) -> u8 {
        (self.slot.meta >> OFFSET_BITS) as u8
    }

    /// [`FLAG_BACKPRESSURE`], [`FLAG_KEYED`].
    #[inline]
    pub(crate) fn flags(&self) -> u8 {
        self.all_flags() & !HAS_BYTES
    }

    #[inline]
    pub(crate) fn word(&self) -> u64 {
        self.slot.word
    }

    /// `stable_hash(key)` for a keyed message, 0 otherwise.
    #[inline]
    pub(crate) fn key_hash(&self) -> u64 {
        if self.all_flags() & FLAG_KEYED == 0 {
            return 0;
        }
        self.extra().key_hash
    }

    /// The log sequence (durable topics).
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.slot.meta & OFFSET_MASK
    }

    /// The message as a handler sees it, read at `partition`'s `sequence`
    /// (with its log `offset` on a durable topic).
    #[inline]
    pub(crate) fn message(
        &self,
        partition: u32,
        sequence: i64,
        offset: Option<u64>,
    ) -> Message<'a> {
        Message {
            partition,
            sequence,
            key_hash: self.key_hash(),
            flags: self.flags(),
            word: self.word(),
            bytes: self.bytes(),
            offset,
        }
    }

    /// The byte payload (empty for a word).
    #[inline]
    pub(crate) fn bytes(&self) -> &'a [u8] {
        if self.all_flags() & HAS_BYTES == 0 {
            return &[];
        }
        self.extra().bytes.as_deref().map_or(&[], Vec::as_slice)
    }
}

/// A delivered message, borrowed from the ring for the duration of the
/// handler call.
#[derive(Debug, Clone, Copy)]
pub struct Message<'a> {
    /// The partition it was read from.
    pub partition: u32,
    /// Its position in that partition (0 for the first).
    pub sequence: i64,
    /// `stable_hash(key)` for keyed messages, 0 otherwise.
    pub key_hash: u64,
    /// [`FLAG_BACKPRESSURE`], [`FLAG_KEYED`].
    pub flags: u8,
    /// The word payload (`publish_word`), 0 for byte payloads.
    pub word: u64,
    /// The byte payload (`publish`), empty for word payloads.
    pub bytes: &'a [u8],
    /// On a durable topic, its sequence in the partition's log: the
    /// position [`Subscriber::commit`](super::Subscriber::commit) records
    /// (as the one after it). `None` on other topics.
    pub offset: Option<u64>,
}

impl Message<'_> {
    /// True if published while the bus was under backpressure.
    pub fn backpressure(&self) -> bool {
        self.flags & FLAG_BACKPRESSURE != 0
    }
}

/// 64-bit FNV-1a: stable across processes, machines and versions, so a key
/// lands on the same partition everywhere (partition = hash % count).
pub fn stable_hash(key: &[u8]) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    key.iter()
        .fold(OFFSET, |h, &b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_envelope_keeps_flags_offset_and_bytes_apart() {
        let mut scratch = Scratch::default();
        let mut e = scratch.envelope();
        e.fill(7, FLAG_KEYED | FLAG_BACKPRESSURE, 42, b"abc");
        e.set_offset(OFFSET_MAX);
        let d = e.delivered();
        assert_eq!((d.key_hash(), d.word(), d.flags()), (7, 42, 3));
        assert_eq!((d.offset(), d.bytes()), (OFFSET_MAX, &b"abc"[..]));
        e.set_offset(5);
        assert_eq!((e.delivered().flags(), e.delivered().offset()), (3, 5));
        // A word after bytes, unkeyed after keyed: the side cell keeps its
        // old contents, the flags say they are not this message's.
        e.fill(9, 0, 1, &[]);
        let d = e.delivered();
        assert_eq!(
            (d.flags(), d.offset(), d.bytes(), d.key_hash()),
            (0, 0, &[][..], 0)
        );
        // The internal bit cannot be set from outside.
        e.fill(0, FLAG_KEYED | HAS_BYTES, 1, &[]);
        assert_eq!(
            (e.delivered().flags(), e.delivered().bytes()),
            (FLAG_KEYED, &[][..])
        );
        e.fill(0, FLAG_KEYED, 1, b"xy");
        assert_eq!(
            (e.delivered().flags(), e.delivered().bytes()),
            (FLAG_KEYED, &b"xy"[..])
        );
    }

    #[test]
    fn stable_hash_matches_published_fnv1a_vectors() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
