//! Following a chunked body byte by byte to find where it ends, by the grammar hyper's
//! decoder accepts (so both agree on the boundary whenever both accept the body).

/// Where in the chunked body we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading a chunk-size.
    Size,
    SizeLws,
    Extension,
    SizeLf,
    Data,
    DataCr,
    DataLf,
    /// After the last chunk: a CR ends the body, anything else starts a trailer line.
    EndCr,
    Trailer,
    TrailerLf,
    EndLf,
}

/// A chunked body's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chunked {
    state: State,
    /// The current chunk's size while reading it, then the data bytes still to come.
    size: u64,
}

/// The body's framing is broken (hyper will refuse it too).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BadChunk;

impl Default for Chunked {
    fn default() -> Self {
        Chunked {
            state: State::Size,
            size: 0,
        }
    }
}

impl Chunked {
    /// Consumes `bytes`; `Some(n)` when the body ends after the first `n` of them.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<usize>, BadChunk> {
        let mut at = 0;
        while at < bytes.len() {
            if self.state == State::Data {
                let take = usize::try_from(self.size)
                    .unwrap_or(usize::MAX)
                    .min(bytes.len() - at);
                at += take;
                self.size -= take as u64;
                if self.size == 0 {
                    self.state = State::DataCr;
                }
                continue;
            }
            let byte = bytes[at];
            at += 1;
            self.state = match (self.state, byte) {
                (State::Size, b'0'..=b'9' | b'a'..=b'f' | b'A'..=b'F') => {
                    let value = (byte as char).to_digit(16).unwrap_or(0);
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|size| size.checked_add(u64::from(value)))
                        .ok_or(BadChunk)?;
                    State::Size
                }
                (State::Size | State::SizeLws, b'\t' | b' ') => State::SizeLws,
                (State::Size | State::SizeLws, b';') => State::Extension,
                (State::Size | State::SizeLws | State::Extension, b'\r') => State::SizeLf,
                (State::Extension, b'\n') => return Err(BadChunk),
                (State::Extension, _) => State::Extension,
                (State::SizeLf, b'\n') if self.size == 0 => State::EndCr,
                (State::SizeLf, b'\n') => State::Data,
                (State::DataCr, b'\r') => State::DataLf,
                (State::DataLf, b'\n') => State::Size,
                (State::EndCr, b'\r') => State::EndLf,
                (State::Trailer, b'\r') => State::TrailerLf,
                (State::EndCr | State::Trailer, _) => State::Trailer,
                (State::TrailerLf, b'\n') => State::EndCr,
                (State::EndLf, b'\n') => {
                    *self = Chunked::default();
                    return Ok(Some(at));
                }
                _ => return Err(BadChunk),
            };
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_of(body: &[u8]) -> Result<Option<usize>, BadChunk> {
        Chunked::default().feed(body)
    }

    #[test]
    fn finds_the_end_however_the_bytes_arrive() {
        let body = b"5;ext=1\r\nhello\r\n1A \r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nTrailer: x\r\n\r\nGET /next";
        let end = body.len() - b"GET /next".len();
        assert_eq!(end_of(body), Ok(Some(end)));
        // One byte at a time.
        let mut chunked = Chunked::default();
        let mut seen = None;
        for (i, byte) in body.iter().enumerate() {
            if let Some(n) = chunked.feed(std::slice::from_ref(byte)).ok().flatten() {
                seen = Some(i + n);
                break;
            }
        }
        assert_eq!(seen, Some(end));
        assert_eq!(end_of(b"0\r\n\r\n"), Ok(Some(5)));
        assert_eq!(end_of(b"3\r\nab"), Ok(None));
    }

    #[test]
    fn broken_framing() {
        for body in [
            &b"5\r\nhelloX\r\n"[..],
            b"5\nhello\r\n",
            b"g\r\n",
            b"5;a\nb\r\n",
            b"1FFFFFFFFFFFFFFFF\r\n",
            b"0\r\n\rX",
        ] {
            assert_eq!(
                end_of(body),
                Err(BadChunk),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
