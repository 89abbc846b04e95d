//! Reading an import file: a JSON array (or one object), NDJSON, or ChatGPT's ZIP (with
//! `conversations.json` or its `conversations-NNN.json` shards), one conversation at a
//! time, in bounded memory.
//!
//! A file is read twice. The first pass checks all of it (JSON syntax, that it is the
//! format it was said to be, its size, a ZIP's uncompressed size) without keeping
//! anything, so a file that is not JSON, truncated, of another format or a ZIP bomb is
//! refused before a single chat is stored. The second pass hands the conversations over
//! one by one. Memory holds one conversation, whatever the file's size.

use serde::de::{DeserializeOwned, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::cell::Cell;
use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::marker::PhantomData;

use super::probe::{Probe, Probed};
use super::zip_limits::check_central_directory;
use super::{chatgpt, confab, openwebui, Conversation, ConversationError, ImportFormat};

/// Why a whole file is refused (nothing is stored).
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("the file is not valid JSON: {0}")]
    NotJson(String),
    #[error("{0}")]
    WrongFormat(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("the ZIP cannot be read: {0}")]
    BadZip(String),
    #[error("the file cannot be read: {0}")]
    Io(#[from] std::io::Error),
}

/// Bounds on what reading one file may take.
#[derive(Debug, Clone, Copy)]
pub struct ReadLimits {
    /// The most bytes of JSON read from the file, or from a ZIP's entries together.
    pub max_bytes: u64,
}

/// The most conversations-NNN.json shards (and entries scanned) in one ZIP.
pub(super) const MAX_ZIP_ENTRIES: usize = 100_000;

/// Checks the whole file, then calls `each` with every conversation in file order
/// (`Err` for one that cannot be imported, with its source id); `each` returns `false`
/// to stop early.
///
/// `keep_going` is asked between conversations of the first pass: once it says no (the
/// caller is gone), the rest of the file is not read.
pub fn read(
    file: &mut File,
    format: ImportFormat,
    limits: ReadLimits,
    keep_going: &dyn Fn() -> bool,
    each: &mut dyn FnMut(Result<Conversation, ConversationError>) -> bool,
) -> Result<(), ReadError> {
    let mut seen = Probed::default();
    for_each_document(file, format, limits, &mut |document| {
        walk::<Probe>(document, format, &mut |probe| {
            seen.note(&probe, format);
            keep_going()
        })
    })?;
    if !keep_going() {
        return Ok(());
    }
    seen.check(format)?;
    let mut position = 0;
    for_each_document(file, format, limits, &mut |document| match format {
        // A confab line is parsed from its raw text, so metadata keeps its exact bytes.
        ImportFormat::Confab => walk::<Box<RawValue>>(document, format, &mut |raw| {
            position += 1;
            each(confab::conversation(&raw, position - 1))
        }),
        ImportFormat::ChatGpt | ImportFormat::OpenWebUi => {
            walk::<serde_json::Value>(document, format, &mut |value| {
                position += 1;
                each(if format == ImportFormat::ChatGpt {
                    chatgpt::conversation(value, position - 1)
                } else {
                    openwebui::conversation(value, position - 1)
                })
            })
        }
    })
}

/// Opens each JSON document of the file in turn: the file itself, or a ChatGPT ZIP's
/// conversation entries in name order. Counts the bytes read against the limit.
fn for_each_document(
    file: &mut File,
    format: ImportFormat,
    limits: ReadLimits,
    open: &mut dyn FnMut(&mut dyn BufRead) -> Result<(), ReadError>,
) -> Result<(), ReadError> {
    file.seek(SeekFrom::Start(0))?;
    let mut magic = [0u8; 4];
    let is_zip = file.read(&mut magic)? == 4 && magic == *b"PK\x03\x04";
    file.seek(SeekFrom::Start(0))?;
    if !is_zip {
        let mut limited = Limited::new(&mut *file, limits.max_bytes);
        let outcome = open(&mut BufReader::new(&mut limited));
        // Past the budget the document ends early: that, not the parse error, is why.
        return limited.check().and(outcome);
    }
    if format != ImportFormat::ChatGpt {
        return Err(ReadError::WrongFormat(format!(
            "a ZIP is read only for format=chatgpt; send the {} export's JSON itself",
            format.as_str()
        )));
    }
    check_central_directory(file)?;
    let mut archive =
        zip::ZipArchive::new(&mut *file).map_err(|e| ReadError::BadZip(e.to_string()))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(ReadError::TooLarge(format!(
            "the ZIP has {} entries; at most {MAX_ZIP_ENTRIES} are read",
            archive.len()
        )));
    }
    let mut shards: Vec<String> = archive
        .file_names()
        .filter(|name| is_conversations_entry(name))
        .map(str::to_owned)
        .collect();
    if shards.is_empty() {
        return Err(ReadError::WrongFormat(
            "the ZIP holds no conversations.json (nor conversations-NNN.json shards)".into(),
        ));
    }
    shards.sort();
    let mut budget = limits.max_bytes;
    for name in shards {
        let entry = archive
            .by_name(&name)
            .map_err(|e| ReadError::BadZip(e.to_string()))?;
        // The declared size refuses an honest bomb at once; the counted read catches one
        // that lies about its size.
        if entry.size() > budget {
            return Err(too_large_unzipped(limits.max_bytes));
        }
        let mut limited = Limited::new(entry, budget);
        let outcome = open(&mut BufReader::new(&mut limited));
        limited.check().and(outcome).map_err(|e| match e {
            ReadError::TooLarge(_) => too_large_unzipped(limits.max_bytes),
            ReadError::NotJson(message) => ReadError::NotJson(format!("{name}: {message}")),
            ReadError::Io(error) => ReadError::BadZip(format!("{name}: {error}")),
            other => other,
        })?;
        budget -= limited.read;
    }
    Ok(())
}

fn too_large_unzipped(max: u64) -> ReadError {
    ReadError::TooLarge(format!(
        "the ZIP's conversations are more than {max} bytes uncompressed"
    ))
}

/// `conversations.json` or `conversations-NNN.json`, at the top of the ZIP or in one
/// folder.
fn is_conversations_entry(name: &str) -> bool {
    let mut parts = name.split('/');
    let (Some(first), second, None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    let base = second.unwrap_or(first);
    base == "conversations.json"
        || base
            .strip_prefix("conversations-")
            .and_then(|rest| rest.strip_suffix(".json"))
            .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

/// Reads one document's conversations: the elements of a top-level array (or one
/// top-level object) of JSON, or the lines of NDJSON (blank lines skipped).
fn walk<T: DeserializeOwned>(
    document: &mut dyn BufRead,
    format: ImportFormat,
    each: &mut dyn FnMut(T) -> bool,
) -> Result<(), ReadError> {
    if format == ImportFormat::Confab {
        let mut line = Vec::new();
        let mut number = 0usize;
        loop {
            line.clear();
            // One line is one conversation: never read more of it than one may be.
            let read = (&mut *document)
                .take(MAX_CONVERSATION_BYTES + 1)
                .read_until(b'\n', &mut line)?;
            if read == 0 {
                return Ok(());
            }
            number += 1;
            if line.len() as u64 > MAX_CONVERSATION_BYTES {
                return Err(conversation_too_large(number - 1));
            }
            if line.trim_ascii().is_empty() {
                continue;
            }
            if number == 1 && line.trim_ascii_start().starts_with(b"[") {
                return Err(ReadError::WrongFormat(
                    "this is a JSON array, not a confab export (NDJSON: one chat object per \
                     line); ChatGPT and Open WebUI exports take format=chatgpt or openwebui"
                        .into(),
                ));
            }
            let item = serde_json::from_slice::<T>(&line)
                .map_err(|e| ReadError::NotJson(format!("line {number}: {e}")))?;
            if !each(item) {
                return Ok(());
            }
        }
    }
    let first = loop {
        let buffer = document.fill_buf()?;
        match buffer.iter().position(|b| !b.is_ascii_whitespace()) {
            Some(at) => break Some(buffer[at]),
            None if buffer.is_empty() => break None,
            None => {
                let len = buffer.len();
                document.consume(len);
            }
        }
    };
    let offset = Cell::new(0u64);
    let mut json = serde_json::Deserializer::from_reader(Counting {
        inner: document,
        offset: &offset,
    });
    let mut too_large = None;
    let result = match first {
        Some(b'[') => {
            let mut stopped = false;
            let outcome = serde::Deserializer::deserialize_seq(
                &mut json,
                Elements {
                    each,
                    stopped: &mut stopped,
                    offset: &offset,
                    too_large: &mut too_large,
                    _item: PhantomData,
                },
            );
            if stopped {
                return Ok(());
            }
            outcome
        }
        Some(b'{') => T::deserialize(&mut json).map(|item| {
            if offset.get() > MAX_CONVERSATION_BYTES {
                too_large = Some(0);
            } else {
                each(item);
            }
        }),
        Some(_) | None => {
            return Err(ReadError::NotJson(
                "expected a JSON array of conversations (or one conversation object)".into(),
            ))
        }
    };
    if let Some(position) = too_large {
        return Err(conversation_too_large(position));
    }
    result.and_then(|()| json.end()).map_err(|e| {
        if e.is_io() {
            // The bytes could not be read (a ZIP entry failing its checksum, a disk).
            ReadError::Io(std::io::Error::other(e.to_string()))
        } else {
            ReadError::NotJson(e.to_string())
        }
    })
}

/// The most bytes of JSON one conversation may take: what the second pass holds of it
/// (parsed, some times its size) stays bounded.
pub const MAX_CONVERSATION_BYTES: u64 = 16 * 1024 * 1024;

fn conversation_too_large(position: usize) -> ReadError {
    ReadError::TooLarge(format!(
        "conversation #{position} is more than {} MiB of JSON",
        MAX_CONVERSATION_BYTES / (1024 * 1024)
    ))
}

/// A reader that counts the bytes the parser took, so each conversation's size is known.
struct Counting<'a, R: ?Sized> {
    inner: &'a mut R,
    offset: &'a Cell<u64>,
}

impl<R: Read + ?Sized> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.offset.set(self.offset.get() + n as u64);
        Ok(n)
    }
}

/// Hands each element of a JSON array to `each` as it is parsed; stops at one larger
/// than [`MAX_CONVERSATION_BYTES`] (its position in `too_large`).
struct Elements<'a, T> {
    each: &'a mut dyn FnMut(T) -> bool,
    stopped: &'a mut bool,
    offset: &'a Cell<u64>,
    too_large: &'a mut Option<usize>,
    _item: PhantomData<T>,
}

impl<'de, T: DeserializeOwned> Visitor<'de> for Elements<'_, T> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of conversations")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut position = 0;
        loop {
            let start = self.offset.get();
            let Some(item) = seq.next_element::<T>()? else {
                return Ok(());
            };
            if self.offset.get() - start > MAX_CONVERSATION_BYTES {
                *self.too_large = Some(position);
                return Err(serde::de::Error::custom("conversation too large"));
            }
            if !(self.each)(item) {
                *self.stopped = true;
                return Ok(());
            }
            position += 1;
        }
    }
}

/// A reader that stops at a byte budget and says so.
struct Limited<R> {
    inner: R,
    read: u64,
    max: u64,
}

impl<R: Read> Limited<R> {
    fn new(inner: R, max: u64) -> Self {
        Limited {
            inner,
            read: 0,
            max,
        }
    }

    /// `TooLarge` when the document went past the budget (its end was not reached).
    fn check(&self) -> Result<(), ReadError> {
        if self.read > self.max {
            return Err(ReadError::TooLarge(format!(
                "the import is more than {} bytes",
                self.max
            )));
        }
        Ok(())
    }
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.read > self.max {
            return Ok(0);
        }
        // One byte past the budget is read, so reaching it is told from ending at it.
        let room = usize::try_from((self.max - self.read).saturating_add(1)).unwrap_or(usize::MAX);
        let take = buf.len().min(room);
        let n = self.inner.read(&mut buf[..take])?;
        self.read += n as u64;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    /// Reads `text` as `format`: each conversation's source id (`Err`: prefixed `!`).
    fn read_text(text: &str, format: ImportFormat) -> Result<Vec<String>, ReadError> {
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(text.as_bytes()).expect("written");
        let mut seen = Vec::new();
        read(
            &mut file,
            format,
            ReadLimits { max_bytes: 1 << 20 },
            &|| true,
            &mut |c| {
                seen.push(match c {
                    Ok(c) => c.source_id,
                    Err(e) => format!("!{}", e.source_id),
                });
                true
            },
        )?;
        Ok(seen)
    }

    const CONVERSATION: &str = r#"{"id":"c1","current_node":"a","mapping":{"a":{"id":"a","parent":null,"children":[],
        "message":{"author":{"role":"user"},"content":{"content_type":"text","parts":["hi"]}}}}}"#;

    #[test]
    fn a_zip_listing_too_much_is_refused_before_it_is_opened() {
        let end_record = |entries: u16, size: u32| {
            let mut bytes = b"PK\x05\x06\0\0\0\0".to_vec();
            bytes.extend(entries.to_le_bytes());
            bytes.extend(entries.to_le_bytes());
            bytes.extend(size.to_le_bytes());
            bytes.extend([0u8; 6]);
            bytes
        };
        let check = |bytes: &[u8]| {
            let mut file = tempfile::tempfile().expect("temp file");
            file.write_all(bytes).expect("written");
            check_central_directory(&mut file)
        };
        assert!(check(&end_record(3, 150)).is_ok());
        assert!(matches!(
            check(&end_record(3, 100 << 20)),
            Err(ReadError::TooLarge(_))
        ));
        assert!(matches!(
            check(&end_record(0xFFFF, 150)),
            Err(ReadError::BadZip(_))
        ));
        assert!(check(b"PK\x03\x04 no end record").is_ok());
    }

    #[test]
    fn items_that_are_not_objects_fail_alone() {
        let text = format!("[{CONVERSATION}, \"text\", null, [1]]");
        assert_eq!(
            read_text(&text, ImportFormat::ChatGpt).expect("read"),
            ["chatgpt:c1", "!#1", "!#2", "!#3"]
        );
    }

    #[test]
    fn a_file_of_another_format_is_refused_whole() {
        let array = format!("[\n{CONVERSATION}\n]");
        for (text, format) in [
            (array.as_str(), ImportFormat::Confab),
            (array.as_str(), ImportFormat::OpenWebUi),
            (
                r#"{"chat":{"id":"x"},"messages":[]}"#,
                ImportFormat::OpenWebUi,
            ),
            (r#"[[1, 2], [3]]"#, ImportFormat::ChatGpt),
        ] {
            assert!(
                matches!(read_text(text, format), Err(ReadError::WrongFormat(_))),
                "{format:?}: {text}"
            );
        }
        assert!(matches!(
            read_text(&array[..array.len() / 2], ImportFormat::ChatGpt),
            Err(ReadError::NotJson(_))
        ));
    }

    #[test]
    fn shard_names_are_recognised() {
        for good in [
            "conversations.json",
            "conversations-000.json",
            "export/conversations-12.json",
        ] {
            assert!(is_conversations_entry(good), "{good}");
        }
        for bad in [
            "conversations-.json",
            "conversations-0a.json",
            "user.json",
            "a/b/conversations.json",
            "conversations.json.bak",
        ] {
            assert!(!is_conversations_entry(bad), "{bad}");
        }
    }
}
