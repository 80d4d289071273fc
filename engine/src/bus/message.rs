//! What travels on a topic's ring: preallocated envelopes, and the view a
//! subscriber gets of one.

/// Set on messages published while the bus was in Warning or worse.
pub const FLAG_BACKPRESSURE: u8 = 1;
/// Set on messages published with a key.
pub const FLAG_KEYED: u8 = 2;

/// One ring slot. Preallocated at start-up; the byte buffer keeps its
/// capacity between uses, so publishing allocates only when a payload is
/// larger than any before it in that slot.
#[derive(Debug, Default)]
pub struct Envelope {
    pub(crate) key_hash: u64,
    pub(crate) word: u64,
    pub(crate) flags: u8,
    /// Its sequence in its partition's log (durable topics only; left
    /// stale on others, whose subscribers never read it).
    pub(crate) offset: u64,
    pub(crate) bytes: Vec<u8>,
}

impl Envelope {
    #[inline]
    pub(crate) fn fill(&mut self, key_hash: u64, flags: u8, word: u64, bytes: &[u8]) {
        self.key_hash = key_hash;
        self.flags = flags;
        self.word = word;
        self.bytes.clear();
        self.bytes.extend_from_slice(bytes);
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
    fn stable_hash_matches_published_fnv1a_vectors() {
        assert_eq!(stable_hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(stable_hash(b"foobar"), 0x8594_4171_f739_67e8);
    }
}
