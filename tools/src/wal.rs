//! `keel wal inspect PATH` and `keel wal verify PATH`: read-only tools over
//! a segment file or a partition directory (segments plus offsets).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use keel_storage::{
    decode_offsets, parse_segment_file_name, scan_segment, Backend, OsBackend, ScanEnd,
    SegmentHeader, OFFSETS_FILE,
};

/// What `keel wal` does.
#[derive(Debug, Subcommand)]
pub enum WalCommand {
    /// Prints segment headers, records and consumer offsets.
    Inspect {
        /// A segment file (`*.wal`) or a partition directory.
        path: PathBuf,
        /// Records printed per segment at most (the rest are counted).
        #[arg(long, default_value_t = 20)]
        records: usize,
    },
    /// Checks every header, checksum and sequence; exits non-zero naming
    /// the first bad record.
    Verify {
        /// A segment file (`*.wal`) or a partition directory.
        path: PathBuf,
    },
}

/// Runs a `keel wal` command.
pub fn run(command: WalCommand) -> ExitCode {
    let result = match command {
        WalCommand::Inspect { path, records } => inspect(&path, records),
        WalCommand::Verify { path } => verify(&path),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("keel wal: {message}");
            ExitCode::FAILURE
        }
    }
}

/// The segment files of `path`, oldest first, and the offsets file if any.
fn targets(path: &Path) -> Result<(Vec<PathBuf>, Option<PathBuf>), String> {
    if !path.is_dir() {
        return Ok((vec![path.to_path_buf()], None));
    }
    let names = OsBackend
        .list(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut segments: Vec<(u64, PathBuf)> = names
        .iter()
        .filter_map(|n| Some((parse_segment_file_name(n)?, path.join(n))))
        .collect();
    segments.sort();
    let offsets = names
        .iter()
        .any(|n| n == OFFSETS_FILE)
        .then(|| path.join(OFFSETS_FILE));
    Ok((segments.into_iter().map(|(_, p)| p).collect(), offsets))
}

fn inspect(path: &Path, max_records: usize) -> Result<(), String> {
    let (segments, offsets) = targets(path)?;
    for seg in &segments {
        let bytes = OsBackend
            .read(seg)
            .map_err(|e| format!("{}: {e}", seg.display()))?;
        println!("segment {} ({} bytes)", seg.display(), bytes.len());
        match SegmentHeader::parse(&bytes) {
            Ok(h) => println!(
                "  header: version {} base_sequence {} segment_bytes {} created_unix_ns {}",
                h.format_version.get(),
                h.base_sequence.get(),
                h.segment_bytes.get(),
                h.created_unix_ns.get()
            ),
            Err(e) => {
                println!("  header: BAD: {e}");
                continue;
            }
        }
        let mut shown = 0;
        let scan = scan_segment(&bytes, |offset, r| {
            if shown < max_records {
                println!(
                    "  record seq {} offset {offset} timestamp_ns {} payload {} bytes {}",
                    r.sequence,
                    r.timestamp_ns,
                    r.payload.len(),
                    preview(r.payload)
                );
                shown += 1;
            }
        })
        .map_err(|e| format!("{}: {e}", seg.display()))?;
        if scan.records as usize > shown {
            println!("  ... {} more records", scan.records as usize - shown);
        }
        println!(
            "  {} records, sequences {}..{}, {} bytes used",
            scan.records,
            scan.base_sequence,
            scan.next_sequence(),
            scan.end_offset
        );
        match scan.end {
            ScanEnd::Clean => println!("  end: clean"),
            ScanEnd::Bad(e) => println!("  end: BAD: {e}"),
        }
    }
    if let Some(p) = offsets {
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        println!("offsets {}", p.display());
        match decode_offsets(&bytes) {
            Ok(map) => {
                for (consumer, next) in map {
                    println!("  consumer {consumer:?} next_sequence {next}");
                }
            }
            Err(e) => println!("  BAD: {e}"),
        }
    }
    Ok(())
}

fn preview(payload: &[u8]) -> String {
    let head = &payload[..payload.len().min(16)];
    let hex: String = head.iter().map(|b| format!("{b:02x}")).collect();
    if payload.len() > head.len() {
        format!("{hex}..")
    } else {
        hex
    }
}

fn verify(path: &Path) -> Result<(), String> {
    let (segments, offsets) = targets(path)?;
    if segments.is_empty() {
        return Err(format!("{}: no segment files", path.display()));
    }
    let mut records = 0u64;
    let mut expected: Option<u64> = None;
    for seg in &segments {
        let bytes = OsBackend
            .read(seg)
            .map_err(|e| format!("{}: {e}", seg.display()))?;
        let scan = scan_segment(&bytes, |_, _| {})
            .map_err(|e| format!("FAIL {}: bad header: {e}", seg.display()))?;
        if let Some(want) = expected {
            if scan.base_sequence != want {
                return Err(format!(
                    "FAIL {}: starts at sequence {}, previous segment ended at {want}",
                    seg.display(),
                    scan.base_sequence
                ));
            }
        }
        if let ScanEnd::Bad(e) = &scan.end {
            return Err(format!(
                "FAIL {}: first bad record (sequence {}): {e}",
                seg.display(),
                scan.next_sequence()
            ));
        }
        records += scan.records;
        expected = Some(scan.next_sequence());
    }
    if let Some(p) = offsets {
        let bytes = std::fs::read(&p).map_err(|e| format!("{}: {e}", p.display()))?;
        decode_offsets(&bytes).map_err(|e| format!("FAIL {}: {e}", p.display()))?;
    }
    println!("OK {} segments, {records} records", segments.len());
    Ok(())
}
