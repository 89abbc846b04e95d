//! A ZIP's size, told from its end record before the archive is opened.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom};

use super::reader::{ReadError, MAX_ZIP_ENTRIES};

/// The most bytes a ZIP's central directory (its list of entries) may take: opening the
/// archive reads all of it into memory.
const MAX_CENTRAL_DIRECTORY_BYTES: u64 = 16 * 1024 * 1024;

/// Refuses a ZIP whose central directory is too large to open, from its end record
/// (and ZIP64's), before the archive is parsed. A file without one is left to the ZIP
/// reader to refuse.
pub(super) fn check_central_directory(file: &mut File) -> Result<(), ReadError> {
    let len = file.seek(SeekFrom::End(0))?;
    // The end record (22 bytes) follows at most 64 KiB of comment.
    let tail_len = len.min(22 + 65_535 + 20);
    file.seek(SeekFrom::Start(len - tail_len))?;
    let mut tail = vec![0u8; usize::try_from(tail_len).unwrap_or(0)];
    file.read_exact(&mut tail)?;
    file.seek(SeekFrom::Start(0))?;
    let Some(end) = tail.windows(4).rposition(|w| w == b"PK\x05\x06") else {
        return Ok(());
    };
    let field = |at: usize, width: usize| -> u64 {
        tail.get(at..at + width).map_or(0, |bytes| {
            bytes
                .iter()
                .rev()
                .fold(0u64, |value, &b| value << 8 | u64::from(b))
        })
    };
    let (mut entries, mut size) = (field(end + 10, 2), field(end + 12, 4));
    if entries == 0xFFFF || size == 0xFFFF_FFFF {
        // ZIP64: the locator just before the end record names the real record.
        let record = end
            .checked_sub(20)
            .filter(|&at| tail.get(at..at + 4) == Some(b"PK\x06\x07"))
            .map(|at| field(at + 8, 8));
        let Some(record) = record.filter(|&at| at.saturating_add(56) <= len) else {
            return Err(ReadError::BadZip("a ZIP64 end record is missing".into()));
        };
        let mut zip64 = [0u8; 56];
        file.seek(SeekFrom::Start(record))?;
        file.read_exact(&mut zip64)?;
        file.seek(SeekFrom::Start(0))?;
        let read = |at: usize| {
            zip64[at..at + 8]
                .iter()
                .rev()
                .fold(0u64, |value, &b| value << 8 | u64::from(b))
        };
        (entries, size) = (read(32), read(40));
    }
    if entries > MAX_ZIP_ENTRIES as u64 || size > MAX_CENTRAL_DIRECTORY_BYTES {
        return Err(ReadError::TooLarge(format!(
            "the ZIP lists {entries} entries in {size} bytes; at most {MAX_ZIP_ENTRIES} entries \
             in {} MiB are read",
            MAX_CENTRAL_DIRECTORY_BYTES / (1024 * 1024)
        )));
    }
    Ok(())
}
