//! The provider's `text/event-stream`, read as it arrives: bytes in, each event's `data`
//! out. Only `data:` lines matter for chat completions; comments, `event:`, `id:` and
//! `retry:` lines are skipped.

/// Longest event the parser holds (a chunk of a reply is far smaller): a provider that
/// sends more without ending an event is cut off rather than filling memory.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

#[derive(Default)]
pub struct SseParser {
    /// Bytes of a line not yet ended.
    line: Vec<u8>,
    /// The current event's data lines, joined by `\n`.
    data: String,
    has_data: bool,
}

#[derive(Debug, PartialEq, Eq)]
pub enum SseError {
    /// An event over [`MAX_EVENT_BYTES`].
    TooLong,
    /// A line that is not UTF-8.
    NotText,
}

impl SseParser {
    /// Takes the next bytes; answers the data of every event they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<String>, SseError> {
        let mut events = Vec::new();
        for &byte in bytes {
            if byte == b'\n' {
                let mut line = std::mem::take(&mut self.line);
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                self.line_done(&line, &mut events)?;
            } else {
                self.line.push(byte);
                if self.line.len() + self.data.len() > MAX_EVENT_BYTES {
                    return Err(SseError::TooLong);
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8], events: &mut Vec<String>) -> Result<(), SseError> {
        if line.is_empty() {
            if self.has_data {
                events.push(std::mem::take(&mut self.data));
                self.has_data = false;
            }
            return Ok(());
        }
        let line = std::str::from_utf8(line).map_err(|_| SseError::NotText)?;
        let Some(value) = line.strip_prefix("data:") else {
            return Ok(());
        };
        let value = value.strip_prefix(' ').unwrap_or(value);
        if self.has_data {
            self.data.push('\n');
        }
        self.data.push_str(value);
        self.has_data = true;
        if self.data.len() > MAX_EVENT_BYTES {
            return Err(SseError::TooLong);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_split_anywhere_come_out_whole() {
        let stream =
            b": hi\r\ndata: {\"a\":1}\r\n\r\nevent: x\ndata:one\ndata: two\n\ndata: [DONE]\n\n";
        for cut in 0..stream.len() {
            let mut parser = SseParser::default();
            let mut events = parser.push(&stream[..cut]).expect("parses");
            events.extend(parser.push(&stream[cut..]).expect("parses"));
            assert_eq!(events, vec!["{\"a\":1}", "one\ntwo", "[DONE]"]);
        }
    }

    #[test]
    fn an_endless_event_is_refused() {
        let mut parser = SseParser::default();
        let long = vec![b'x'; MAX_EVENT_BYTES + 1];
        assert_eq!(parser.push(&long), Err(SseError::TooLong));
    }
}
