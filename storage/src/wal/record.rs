//! One log record: `[length u32][crc32c u32][sequence u64][timestamp u64][payload]`,
//! little-endian, unaligned, packed back to back after the segment header.

/// Bytes before the payload: length, checksum, sequence, timestamp.
pub const RECORD_HEADER_BYTES: usize = 24;
/// Largest payload a record may carry (a segment must also fit it).
pub const RECORD_PAYLOAD_BYTES_MAX: usize = 4 << 20;

const _: () = assert!(RECORD_HEADER_BYTES == 4 + 4 + 8 + 8);
const _: () = assert!(RECORD_PAYLOAD_BYTES_MAX < u32::MAX as usize);

/// A record read back from a segment, borrowing its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordRef<'a> {
    /// The record's sequence number (dense, starting at the log's first).
    pub sequence: u64,
    /// Wall-clock time of the append, nanoseconds since the Unix epoch.
    pub timestamp_ns: u64,
    /// The bytes the producer appended.
    pub payload: &'a [u8],
}

/// Why the bytes at an offset are not a valid record. Recovery cuts the
/// log at the first one; `keel wal verify` names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Fewer bytes remain than the record header or its declared length needs.
    #[error("short record at offset {offset}: needs {needed} bytes, {available} left")]
    Short {
        /// Offset of the record in its segment.
        offset: u64,
        /// Bytes the record needs.
        needed: u64,
        /// Bytes left in the segment.
        available: u64,
    },
    /// The declared payload length is over the limit.
    #[error("record at offset {offset} declares {length} payload bytes (max {max})")]
    BadLength {
        /// Offset of the record in its segment.
        offset: u64,
        /// Declared payload length.
        length: u64,
        /// The limit.
        max: u64,
    },
    /// The stored checksum does not match the bytes.
    #[error("record at offset {offset}: crc32c stored {stored:#010x}, computed {computed:#010x}")]
    BadChecksum {
        /// Offset of the record in its segment.
        offset: u64,
        /// Checksum on disk.
        stored: u32,
        /// Checksum of the bytes on disk.
        computed: u32,
    },
    /// A valid record whose sequence breaks the dense order.
    #[error("record at offset {offset}: sequence {found}, expected {expected}")]
    BadSequence {
        /// Offset of the record in its segment.
        offset: u64,
        /// The sequence that should come next.
        expected: u64,
        /// The sequence on disk.
        found: u64,
    },
    /// An end-of-records marker (zero length) followed by non-zero bytes.
    #[error("zeroed record header at offset {offset} followed by data at offset {data_at}")]
    DataAfterEnd {
        /// Offset of the zero header.
        offset: u64,
        /// First non-zero byte after it.
        data_at: u64,
    },
}

/// Bytes a record with `payload_len` payload bytes takes on disk.
pub const fn encoded_len(payload_len: usize) -> usize {
    RECORD_HEADER_BYTES + payload_len
}

fn checksum(length: u32, sequence: u64, timestamp_ns: u64, payload: &[u8]) -> u32 {
    let mut fixed = [0u8; 20];
    fixed[..4].copy_from_slice(&length.to_le_bytes());
    fixed[4..12].copy_from_slice(&sequence.to_le_bytes());
    fixed[12..20].copy_from_slice(&timestamp_ns.to_le_bytes());
    crc32c::crc32c_append(crc32c::crc32c(&fixed), payload)
}

/// Appends the encoded record to `out`. The checksum covers the length,
/// sequence, timestamp and payload.
pub fn encode(out: &mut Vec<u8>, sequence: u64, timestamp_ns: u64, payload: &[u8]) {
    assert!(
        payload.len() <= RECORD_PAYLOAD_BYTES_MAX,
        "payload over limit"
    );
    let length = payload.len() as u32;
    let crc = checksum(length, sequence, timestamp_ns, payload);
    let start = out.len();
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(&crc.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&timestamp_ns.to_le_bytes());
    out.extend_from_slice(payload);
    debug_assert_eq!(out.len() - start, encoded_len(payload.len()));
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[at..at + 4]);
    u32::from_le_bytes(b)
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    let mut b = [0u8; 8];
    b.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(b)
}

/// What sits at an offset of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// A valid record and the bytes it took.
    Record(RecordRef<'a>, usize),
    /// A zero length field: no record was ever written here.
    End,
}

/// Decodes the record at `bytes[0..]`, found at `offset` in its segment.
/// Never panics, whatever the bytes.
pub fn decode(bytes: &[u8], offset: u64) -> Result<Decoded<'_>, RecordError> {
    let available = bytes.len() as u64;
    if bytes.len() < 4 {
        return if bytes.iter().all(|&b| b == 0) {
            Ok(Decoded::End)
        } else {
            Err(RecordError::Short {
                offset,
                needed: RECORD_HEADER_BYTES as u64,
                available,
            })
        };
    }
    let length = u32_at(bytes, 0);
    if length == 0
        && bytes[..bytes.len().min(RECORD_HEADER_BYTES)]
            .iter()
            .all(|&b| b == 0)
    {
        return Ok(Decoded::End);
    }
    if length as usize > RECORD_PAYLOAD_BYTES_MAX {
        return Err(RecordError::BadLength {
            offset,
            length: u64::from(length),
            max: RECORD_PAYLOAD_BYTES_MAX as u64,
        });
    }
    let total = encoded_len(length as usize);
    if bytes.len() < total {
        return Err(RecordError::Short {
            offset,
            needed: total as u64,
            available,
        });
    }
    let stored = u32_at(bytes, 4);
    let sequence = u64_at(bytes, 8);
    let timestamp_ns = u64_at(bytes, 16);
    let payload = &bytes[RECORD_HEADER_BYTES..total];
    let computed = checksum(length, sequence, timestamp_ns, payload);
    if stored != computed {
        return Err(RecordError::BadChecksum {
            offset,
            stored,
            computed,
        });
    }
    let record = RecordRef {
        sequence,
        timestamp_ns,
        payload,
    };
    Ok(Decoded::Record(record, total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let mut buf = Vec::new();
        encode(&mut buf, 7, 11, b"hello");
        assert_eq!(buf.len(), encoded_len(5));
        let Decoded::Record(r, used) = decode(&buf, 0).unwrap() else {
            panic!("expected a record");
        };
        assert_eq!(
            (r.sequence, r.timestamp_ns, r.payload, used),
            (7, 11, &b"hello"[..], 29)
        );
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let mut buf = Vec::new();
        encode(&mut buf, 3, 4, b"payload bytes");
        for bit in 0..buf.len() * 8 {
            let mut bad = buf.clone();
            bad[bit / 8] ^= 1 << (bit % 8);
            assert!(
                !matches!(decode(&bad, 0), Ok(Decoded::Record(..))),
                "flip of bit {bit} went unnoticed"
            );
        }
    }

    #[test]
    fn short_and_empty() {
        let mut buf = Vec::new();
        encode(&mut buf, 1, 1, b"abc");
        assert!(matches!(
            decode(&buf[..10], 5),
            Err(RecordError::Short { offset: 5, .. })
        ));
        assert_eq!(decode(&[0u8; 40], 0), Ok(Decoded::End));
        assert_eq!(decode(&[], 0), Ok(Decoded::End));
    }
}
