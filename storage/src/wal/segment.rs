//! Segment files: a 64-byte header (`zerocopy`), then records back to back,
//! then zeros up to the preallocated size. Named `{base_sequence:020}.wal`.

use zerocopy::byteorder::little_endian::{U32, U64};
use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

use super::record::{self, Decoded, RecordError, RecordRef};

/// First eight bytes of every segment.
pub const SEGMENT_MAGIC: [u8; 8] = *b"KEELWAL\0";
/// The format version this code writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes of the header; records start here.
pub const SEGMENT_HEADER_BYTES: usize = 64;
/// File name extension of segments.
pub const SEGMENT_EXTENSION: &str = "wal";

/// The segment header, little-endian and unaligned so it can be read from
/// any byte slice.
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable)]
#[repr(C)]
pub struct SegmentHeader {
    /// [`SEGMENT_MAGIC`].
    pub magic: [u8; 8],
    /// [`FORMAT_VERSION`].
    pub format_version: U32,
    /// [`SEGMENT_HEADER_BYTES`]: where the first record starts.
    pub header_bytes: U32,
    /// Sequence of the first record in this segment.
    pub base_sequence: U64,
    /// Size the file was preallocated to.
    pub segment_bytes: U64,
    /// Creation time, nanoseconds since the Unix epoch.
    pub created_unix_ns: U64,
    /// Zero.
    pub reserved: [u8; 20],
    /// CRC32C of the 60 bytes before it.
    pub header_crc: U32,
}

const _: () = assert!(std::mem::size_of::<SegmentHeader>() == SEGMENT_HEADER_BYTES);

/// Why a segment header was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// Fewer than 64 bytes.
    #[error("file is {0} bytes, shorter than the 64-byte header")]
    Short(u64),
    /// Not a Keel segment.
    #[error("bad magic {0:02x?}")]
    BadMagic([u8; 8]),
    /// Written by another format version.
    #[error("format version {0}, this build reads {FORMAT_VERSION}")]
    Version(u32),
    /// The header checksum does not match.
    #[error("header crc32c stored {stored:#010x}, computed {computed:#010x}")]
    BadChecksum {
        /// On disk.
        stored: u32,
        /// Of the bytes on disk.
        computed: u32,
    },
    /// The header length field is not 64.
    #[error("header length {0}, expected {SEGMENT_HEADER_BYTES}")]
    BadHeaderLength(u32),
    /// The base sequence disagrees with the file name.
    #[error("base sequence {found} but the file name says {expected}")]
    NameMismatch {
        /// From the name.
        expected: u64,
        /// From the header.
        found: u64,
    },
}

impl SegmentHeader {
    /// A sealed header for a new segment.
    pub fn new(base_sequence: u64, segment_bytes: u64, created_unix_ns: u64) -> SegmentHeader {
        let mut h = SegmentHeader {
            magic: SEGMENT_MAGIC,
            format_version: U32::new(FORMAT_VERSION),
            header_bytes: U32::new(SEGMENT_HEADER_BYTES as u32),
            base_sequence: U64::new(base_sequence),
            segment_bytes: U64::new(segment_bytes),
            created_unix_ns: U64::new(created_unix_ns),
            reserved: [0; 20],
            header_crc: U32::new(0),
        };
        h.header_crc = U32::new(h.computed_crc());
        h
    }

    fn computed_crc(&self) -> u32 {
        crc32c::crc32c(&self.as_bytes()[..SEGMENT_HEADER_BYTES - 4])
    }

    /// Reads and checks the header at the start of `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<SegmentHeader, HeaderError> {
        let Ok((h, _)) = SegmentHeader::read_from_prefix(bytes) else {
            return Err(HeaderError::Short(bytes.len() as u64));
        };
        if h.magic != SEGMENT_MAGIC {
            return Err(HeaderError::BadMagic(h.magic));
        }
        let (stored, computed) = (h.header_crc.get(), h.computed_crc());
        if stored != computed {
            return Err(HeaderError::BadChecksum { stored, computed });
        }
        if h.format_version.get() != FORMAT_VERSION {
            return Err(HeaderError::Version(h.format_version.get()));
        }
        if h.header_bytes.get() as usize != SEGMENT_HEADER_BYTES {
            return Err(HeaderError::BadHeaderLength(h.header_bytes.get()));
        }
        Ok(h)
    }
}

/// The file name of the segment starting at `base_sequence`.
pub fn file_name(base_sequence: u64) -> String {
    format!("{base_sequence:020}.{SEGMENT_EXTENSION}")
}

/// The base sequence named by a segment file name, if it is one.
pub fn parse_file_name(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".wal")?;
    if stem.len() != 20 || !stem.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    stem.parse().ok()
}

/// How a scan of a segment's records ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScanEnd {
    /// Zeros (or the end of the file) after the last record.
    Clean,
    /// A bad record: everything from its offset on is not part of the log.
    Bad(RecordError),
}

/// The result of walking a segment's records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scan {
    /// The checked header.
    pub base_sequence: u64,
    /// Records found valid.
    pub records: u64,
    /// Offset just past the last valid record.
    pub end_offset: u64,
    /// Timestamp of the first and last valid record (0 if none).
    pub first_timestamp_ns: u64,
    /// Timestamp of the last valid record (0 if none).
    pub last_timestamp_ns: u64,
    /// Why the walk stopped.
    pub end: ScanEnd,
}

impl Scan {
    /// Sequence the next record after this segment would get.
    pub fn next_sequence(&self) -> u64 {
        self.base_sequence + self.records
    }
}

/// Offset of the first non-zero byte, checking 256-byte blocks at a time
/// (the OR-fold vectorises; the preallocated tail of a segment is mostly
/// zeros and is checked on every open).
pub fn first_nonzero(bytes: &[u8]) -> Option<usize> {
    const BLOCK: usize = 256;
    let mut blocks = bytes.chunks_exact(BLOCK);
    let mut at = 0;
    for block in &mut blocks {
        if block.iter().fold(0u8, |acc, &b| acc | b) != 0 {
            return block.iter().position(|&b| b != 0).map(|i| at + i);
        }
        at += BLOCK;
    }
    blocks
        .remainder()
        .iter()
        .position(|&b| b != 0)
        .map(|i| at + i)
}

/// Walks every record of a segment held in `bytes`, calling `visit` on
/// each valid one. Never panics, whatever the bytes: a bad header is an
/// error, a bad record ends the walk with [`ScanEnd::Bad`].
pub fn scan(bytes: &[u8], mut visit: impl FnMut(u64, RecordRef<'_>)) -> Result<Scan, HeaderError> {
    let header = SegmentHeader::parse(bytes)?;
    let base_sequence = header.base_sequence.get();
    let mut scan = Scan {
        base_sequence,
        records: 0,
        end_offset: SEGMENT_HEADER_BYTES as u64,
        first_timestamp_ns: 0,
        last_timestamp_ns: 0,
        end: ScanEnd::Clean,
    };
    let mut at = SEGMENT_HEADER_BYTES;
    loop {
        let offset = at as u64;
        match record::decode(&bytes[at..], offset) {
            Ok(Decoded::End) => {
                if let Some(nonzero) = first_nonzero(&bytes[at..]) {
                    scan.end = ScanEnd::Bad(RecordError::DataAfterEnd {
                        offset,
                        data_at: offset + nonzero as u64,
                    });
                }
                return Ok(scan);
            }
            Ok(Decoded::Record(r, used)) => {
                let expected = scan.next_sequence();
                if r.sequence != expected {
                    scan.end = ScanEnd::Bad(RecordError::BadSequence {
                        offset,
                        expected,
                        found: r.sequence,
                    });
                    return Ok(scan);
                }
                if scan.records == 0 {
                    scan.first_timestamp_ns = r.timestamp_ns;
                }
                scan.last_timestamp_ns = r.timestamp_ns;
                scan.records += 1;
                visit(offset, r);
                at += used;
                scan.end_offset = at as u64;
            }
            Err(e) => {
                scan.end = ScanEnd::Bad(e);
                return Ok(scan);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(records: &[&[u8]], size: usize) -> Vec<u8> {
        let mut bytes = SegmentHeader::new(10, size as u64, 1).as_bytes().to_vec();
        for (i, p) in records.iter().enumerate() {
            record::encode(&mut bytes, 10 + i as u64, 100 + i as u64, p);
        }
        bytes.resize(size.max(bytes.len()), 0);
        bytes
    }

    #[test]
    fn scans_records_and_stops_at_zeros() {
        let bytes = segment(&[b"a", b"bb", b"ccc"], 4096);
        let mut seen = Vec::new();
        let scan = scan(&bytes, |_, r| seen.push(r.payload.to_vec())).unwrap();
        assert_eq!(seen, vec![b"a".to_vec(), b"bb".to_vec(), b"ccc".to_vec()]);
        assert_eq!(
            (scan.records, scan.next_sequence(), scan.end),
            (3, 13, ScanEnd::Clean)
        );
        assert_eq!(scan.end_offset, 64 + 25 + 26 + 27);
        assert_eq!(
            (scan.first_timestamp_ns, scan.last_timestamp_ns),
            (100, 102)
        );
    }

    #[test]
    fn header_faults_are_named() {
        let bytes = segment(&[], 128);
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert!(matches!(
            SegmentHeader::parse(&bad),
            Err(HeaderError::BadMagic(_))
        ));
        let mut bad = bytes.clone();
        bad[20] ^= 1;
        assert!(matches!(
            SegmentHeader::parse(&bad),
            Err(HeaderError::BadChecksum { .. })
        ));
        assert_eq!(
            SegmentHeader::parse(&bytes[..10]).unwrap_err(),
            HeaderError::Short(10)
        );
    }

    #[test]
    fn first_nonzero_finds_the_byte_in_any_block() {
        for len in [0usize, 1, 255, 256, 257, 1_000] {
            let zeros = vec![0u8; len];
            assert_eq!(first_nonzero(&zeros), None);
            for at in [0, len / 2, len.saturating_sub(1)] {
                if at < len {
                    let mut b = zeros.clone();
                    b[at] = 9;
                    assert_eq!(first_nonzero(&b), Some(at), "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn names_round_trip() {
        assert_eq!(parse_file_name(&file_name(42)), Some(42));
        assert_eq!(parse_file_name("42.wal"), None);
        assert_eq!(parse_file_name("0000000000000000004x.wal"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 10_000, ..ProptestConfig::default() })]

        /// Random bytes, alone or after a valid header, never panic the reader.
        #[test]
        fn random_bytes_never_panic(
            garbage in proptest::collection::vec(any::<u8>(), 0..512),
            with_header in any::<bool>(),
        ) {
            let mut bytes = if with_header { segment(&[b"x"], 0) } else { Vec::new() };
            bytes.extend_from_slice(&garbage);
            if let Ok(s) = scan(&bytes, |_, _| {}) {
                prop_assert!(s.end_offset as usize <= bytes.len());
            }
        }
    }
}
