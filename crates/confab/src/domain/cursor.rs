//! Opaque pagination cursors for keyset listings.
//!
//! A cursor names a position `(created_at, id)` in a listing ordered by that pair. It is
//! encoded as unpadded base64url (safe in a query string without escaping) of
//! `[version, kind, created_at (8 bytes BE), id (8 bytes BE)]`. The version byte lets the
//! format change later without misreading old cursors; the kind byte keeps a cursor of
//! one listing from being accepted by another. A search cursor also carries the score
//! its results are ranked by: `[version, 's', score (f64 bits), doc]`.
//! Decoding refuses anything else, and never panics, whatever the input.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::{Timestamp, ValueError};

const VERSION: u8 = 1;
/// A listing cursor's bytes, and their base64 length (longer input is refused unread).
#[cfg(test)]
const ENCODED_BYTES: usize = 18;
#[cfg(test)]
const ENCODED_CHARS: usize = 24;
/// A search cursor's bytes: version, kind, band (16), score (8), document id (8).
#[cfg(test)]
const SEARCH_BYTES: usize = 34;

/// Which listing a cursor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorKind {
    /// A tenant's chats, newest first.
    Chats,
    /// A chat's messages, oldest first.
    Messages,
}

impl CursorKind {
    fn tag(self) -> u8 {
        match self {
            CursorKind::Chats => b'c',
            CursorKind::Messages => b'm',
        }
    }
}

/// The tag of search cursors (their position has a score as well).
const SEARCH_TAG: u8 = b's';

/// A position in a keyset listing: the last row of the page a cursor continues after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: Timestamp,
    pub id: i64,
}

/// A position in search results: within a [`Band`], ordered by `score` (lower is
/// better), then by `doc` descending (newest message first). `doc` is a message id, or a
/// chat's id negated for a hit on its name.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SearchPosition {
    pub band: Band,
    pub score: f64,
    pub doc: i64,
}

/// The matches ranked together: the newest few messages with an id below
/// `messages_below`, and the newest few chat names with an id below `names_below`
/// (1: none left). Results go band after band, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Band {
    pub messages_below: i64,
    pub names_below: i64,
}

impl Band {
    /// The newest matches.
    pub const FIRST: Band = Band {
        messages_below: i64::MAX,
        names_below: i64::MAX,
    };
    /// A ceiling below every id: no matches of that kind left.
    pub const NONE_LEFT: i64 = 1;

    /// Whether neither kind has matches left.
    pub fn is_exhausted(self) -> bool {
        self.messages_below <= Self::NONE_LEFT && self.names_below <= Self::NONE_LEFT
    }
}

/// `[version, tag, payload]` as unpadded base64url.
fn seal(tag: u8, payload: &[&[u8; 8]]) -> String {
    let mut bytes = vec![VERSION, tag];
    for part in payload {
        bytes.extend_from_slice(&part[..]);
    }
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The payload's 8-byte words of a cursor [`seal`] made with `tag`, if `text` is one.
fn open<const WORDS: usize>(tag: u8, text: &str) -> Option<[[u8; 8]; WORDS]> {
    let length = 2 + 8 * WORDS;
    if text.len() != (length * 4).div_ceil(3) {
        return None;
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
    if bytes.len() != length || bytes[0] != VERSION || bytes[1] != tag {
        return None;
    }
    let mut words = [[0u8; 8]; WORDS];
    for (i, word) in words.iter_mut().enumerate() {
        word.copy_from_slice(&bytes[2 + 8 * i..10 + 8 * i]);
    }
    Some(words)
}

fn invalid() -> ValueError {
    ValueError("cursor is not valid for this listing".to_owned())
}

/// The opaque text of a cursor at `position` in a `kind` listing.
pub fn encode(kind: CursorKind, position: Position) -> String {
    seal(
        kind.tag(),
        &[
            &position.created_at.micros().to_be_bytes(),
            &position.id.to_be_bytes(),
        ],
    )
}

/// The position a cursor of a `kind` listing names; refuses anything [`encode`] did not
/// produce for that kind.
pub fn decode(kind: CursorKind, text: &str) -> Result<Position, ValueError> {
    let [created_at, id] = open::<2>(kind.tag(), text).ok_or_else(invalid)?;
    let id = i64::from_be_bytes(id);
    if id <= 0 {
        return Err(invalid());
    }
    Ok(Position {
        created_at: Timestamp(i64::from_be_bytes(created_at)),
        id,
    })
}

/// The opaque text of a cursor at `position` in search results.
pub fn encode_search(position: SearchPosition) -> String {
    seal(
        SEARCH_TAG,
        &[
            &position.band.messages_below.to_be_bytes(),
            &position.band.names_below.to_be_bytes(),
            &position.score.to_bits().to_be_bytes(),
            &position.doc.to_be_bytes(),
        ],
    )
}

/// The position a search cursor names; refuses anything [`encode_search`] did not
/// produce (including a score that is not a number).
pub fn decode_search(text: &str) -> Result<SearchPosition, ValueError> {
    let [messages_below, names_below, score, doc] =
        open::<4>(SEARCH_TAG, text).ok_or_else(invalid)?;
    let band = Band {
        messages_below: i64::from_be_bytes(messages_below),
        names_below: i64::from_be_bytes(names_below),
    };
    let score = f64::from_bits(u64::from_be_bytes(score));
    let doc = i64::from_be_bytes(doc);
    if !score.is_finite()
        || doc == 0
        || band.messages_below < Band::NONE_LEFT
        || band.names_below < Band::NONE_LEFT
    {
        return Err(invalid());
    }
    Ok(SearchPosition { band, score, doc })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn position(created_at: i64, id: i64) -> Position {
        Position {
            created_at: Timestamp(created_at),
            id,
        }
    }

    #[test]
    fn encodes_url_safe_fixed_length_text() {
        let text = encode(CursorKind::Chats, position(1_710_928_800_000_000, 42));
        assert_eq!(text.len(), ENCODED_CHARS);
        assert!(text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(
            decode(CursorKind::Chats, &text),
            Ok(position(1_710_928_800_000_000, 42))
        );
    }

    #[test]
    fn refuses_the_other_listings_cursor() {
        let text = encode(CursorKind::Messages, position(5, 7));
        assert!(decode(CursorKind::Chats, &text).is_err());
        assert_eq!(decode(CursorKind::Messages, &text), Ok(position(5, 7)));
    }

    #[test]
    fn refuses_garbage_and_other_versions() {
        let mut other_version = [0u8; ENCODED_BYTES];
        other_version[0] = VERSION + 1;
        other_version[1] = b'c';
        other_version[17] = 1;
        let zero_id = encode(CursorKind::Chats, position(5, 0));
        let good = encode(CursorKind::Chats, position(5, 9));
        for bad in [
            String::new(),
            "abc".to_owned(),
            "=".repeat(ENCODED_CHARS),
            "é".repeat(ENCODED_CHARS / 2),
            URL_SAFE_NO_PAD.encode(other_version),
            zero_id,
            format!("{good}A"),
            good[1..].to_owned(),
            good.replace(|_: char| true, "+"),
        ] {
            assert!(decode(CursorKind::Chats, &bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn search_cursors_are_their_own_listing() {
        let at = SearchPosition {
            band: Band {
                messages_below: 900,
                names_below: 1,
            },
            score: -1.25,
            doc: -3,
        };
        let text = encode_search(at);
        assert_eq!(text.len(), (SEARCH_BYTES * 4).div_ceil(3));
        assert_eq!(decode_search(&text), Ok(at));
        assert!(decode(CursorKind::Chats, &text).is_err());
        assert!(decode_search(&encode(CursorKind::Chats, position(5, 9))).is_err());
        let nan = SearchPosition {
            score: f64::NAN,
            ..at
        };
        assert!(decode_search(&encode_search(nan)).is_err());
        let no_band = SearchPosition {
            band: Band {
                messages_below: 0,
                names_below: 1,
            },
            ..at
        };
        assert!(decode_search(&encode_search(no_band)).is_err());
    }

    proptest! {
        #[test]
        fn search_positions_round_trip(
            score in -1e9f64..1e9,
            doc in any::<i64>(),
            messages_below in 1..=i64::MAX,
            names_below in 1..=i64::MAX,
        ) {
            prop_assume!(doc != 0);
            let band = Band { messages_below, names_below };
            let at = SearchPosition { band, score, doc };
            prop_assert_eq!(decode_search(&encode_search(at)), Ok(at));
        }

        #[test]
        fn round_trips(created_at in any::<i64>(), id in 1..=i64::MAX, messages in any::<bool>()) {
            let kind = if messages { CursorKind::Messages } else { CursorKind::Chats };
            let text = encode(kind, position(created_at, id));
            prop_assert_eq!(decode(kind, &text), Ok(position(created_at, id)));
        }

        /// Arbitrary text never panics, and whatever decodes re-encodes to the same text
        /// (one position, one spelling).
        #[test]
        fn garbage_never_panics(text in ".{0,40}") {
            if let Ok(found) = decode(CursorKind::Chats, &text) {
                prop_assert_eq!(encode(CursorKind::Chats, found), text);
            }
        }

        /// Arbitrary bytes of the right length, base64url-encoded, never panic either.
        #[test]
        fn arbitrary_payloads_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..32)) {
            let text = URL_SAFE_NO_PAD.encode(&bytes);
            if let Ok(found) = decode(CursorKind::Messages, &text) {
                prop_assert!(found.id > 0);
                prop_assert_eq!(encode(CursorKind::Messages, found), text);
            }
        }
    }
}
