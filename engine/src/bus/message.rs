//! What travels on a topic's ring: preallocated envelopes, and the view a
//! subscriber gets of one.

/// Set on messages published while the bus was in Warning or worse.
pub const FLAG_BACKPRESSURE: u8 = 1;
/// Set on messages published with a key.
pub const FLAG_KEYED: u8 = 2;

/// One ring slot. Preallocated at start-up; the byte buffer keeps its
/// capacity between uses, so publishing allocates only when a payload is
/// larger than any before it in that slot.
///
/// 32 bytes and 32-aligned, so two share a cache line and none straddles
/// two: a batch moves half a line per message between the cores, where the
/// 56-byte layout (flags and offset apart, the byte `Vec` inline) moved
/// almost a whole one. The flags sit in the top byte of the offset word
/// and the byte buffer behind a pointer, allocated the first time its
/// slot carries bytes.
#[derive(Debug, Default)]
#[repr(align(32))]
pub struct Envelope {
    pub(crate) key_hash: u64,
    pub(crate) word: u64,
    /// Flags in the top byte; below them the message's sequence in its
    /// partition's log (durable topics only; 0 on others, whose
    /// subscribers never read it).
    flags_offset: u64,
    /// A pointer (8 bytes) to the buffer, not the buffer's 24-byte header:
    /// the envelope stays 32 bytes; the extra hop is taken by byte
    /// payloads only.
    #[allow(clippy::box_collection)]
    bytes: Option<Box<Vec<u8>>>,
}

const _: () = assert!(std::mem::size_of::<Envelope>() == 32);

/// Bits of `Envelope::flags_offset` below the flags byte.
const OFFSET_BITS: u32 = 56;
const OFFSET_MASK: u64 = (1 << OFFSET_BITS) - 1;
/// Largest log sequence an envelope carries: 2^56 - 1, some 2,000 years of
/// records at a million synced records a second.
pub(crate) const OFFSET_MAX: u64 = OFFSET_MASK;

impl Envelope {
    #[inline]
    pub(crate) fn fill(&mut self, key_hash: u64, flags: u8, word: u64, bytes: &[u8]) {
        self.key_hash = key_hash;
        self.word = word;
        // A store, not a read-modify-write of the slot: the offset is
        // zeroed here and set after the fill by durable topics only.
        self.flags_offset = u64::from(flags) << OFFSET_BITS;
        match &mut self.bytes {
            Some(buffer) => {
                buffer.clear();
                buffer.extend_from_slice(bytes);
            }
            None if bytes.is_empty() => {}
            None => self.bytes = Some(Box::new(bytes.to_vec())),
        }
    }

    /// [`FLAG_BACKPRESSURE`], [`FLAG_KEYED`].
    #[inline]
    pub(crate) fn flags(&self) -> u8 {
        (self.flags_offset >> OFFSET_BITS) as u8
    }

    /// The log sequence (durable topics).
    #[inline]
    pub(crate) fn offset(&self) -> u64 {
        self.flags_offset & OFFSET_MASK
    }

    /// Sets the log sequence, at most [`OFFSET_MAX`] (a log refuses to
    /// grow past it).
    #[inline]
    pub(crate) fn set_offset(&mut self, offset: u64) {
        debug_assert!(offset <= OFFSET_MAX, "log sequence past 2^56");
        self.flags_offset = (self.flags_offset & !OFFSET_MASK) | (offset & OFFSET_MASK);
    }

    /// The byte payload (empty for a word).
    #[inline]
    pub(crate) fn bytes(&self) -> &[u8] {
        self.bytes.as_deref().map_or(&[], Vec::as_slice)
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
        let mut e = Envelope::default();
        e.fill(7, FLAG_KEYED | FLAG_BACKPRESSURE, 42, b"abc");
        e.set_offset(OFFSET_MAX);
        assert_eq!((e.key_hash, e.word, e.flags()), (7, 42, 3));
        assert_eq!((e.offset(), e.bytes()), (OFFSET_MAX, &b"abc"[..]));
        e.set_offset(5);
        assert_eq!((e.flags(), e.offset()), (3, 5));
        e.fill(0, 0, 1, &[]);
        assert_eq!((e.flags(), e.offset(), e.bytes()), (0, 0, &[][..]));
        e.fill(0, FLAG_KEYED, 1, b"xy");
        assert_eq!((e.flags(), e.bytes()), (FLAG_KEYED, &b"xy"[..]));
    }

    #[test]
    fn stable_hash_matches_published_fnv1a_vectors() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
