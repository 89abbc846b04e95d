//! Opaque pagination cursors for keyset listings.
//!
//! A cursor names a position `(created_at, id)` in a listing ordered by that pair. It is
//! encoded as unpadded base64url (safe in a query string without escaping) of
//! `[version, kind, created_at (8 bytes BE), id (8 bytes BE)]`. The version byte lets the
//! format change later without misreading old cursors; the kind byte keeps a cursor of
//! one listing from being accepted by another. Decoding refuses anything else, and never
//! panics, whatever the input.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;

use super::{Timestamp, ValueError};

const VERSION: u8 = 1;
const ENCODED_BYTES: usize = 18;
/// Base64 of [`ENCODED_BYTES`] without padding; longer input is refused unread.
const ENCODED_CHARS: usize = 24;

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

/// A position in a keyset listing: the last row of the page a cursor continues after.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub created_at: Timestamp,
    pub id: i64,
}

/// The opaque text of a cursor at `position` in a `kind` listing.
pub fn encode(kind: CursorKind, position: Position) -> String {
    let mut bytes = [0u8; ENCODED_BYTES];
    bytes[0] = VERSION;
    bytes[1] = kind.tag();
    bytes[2..10].copy_from_slice(&position.created_at.micros().to_be_bytes());
    bytes[10..18].copy_from_slice(&position.id.to_be_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The position a cursor of a `kind` listing names; refuses anything [`encode`] did not
/// produce for that kind.
pub fn decode(kind: CursorKind, text: &str) -> Result<Position, ValueError> {
    let invalid = || ValueError("cursor is not valid for this listing".to_owned());
    if text.len() != ENCODED_CHARS {
        return Err(invalid());
    }
    let bytes = URL_SAFE_NO_PAD.decode(text).map_err(|_| invalid())?;
    let bytes: [u8; ENCODED_BYTES] = bytes.try_into().map_err(|_| invalid())?;
    if bytes[0] != VERSION || bytes[1] != kind.tag() {
        return Err(invalid());
    }
    let mut created_at = [0u8; 8];
    created_at.copy_from_slice(&bytes[2..10]);
    let mut id = [0u8; 8];
    id.copy_from_slice(&bytes[10..18]);
    let id = i64::from_be_bytes(id);
    if id <= 0 {
        return Err(invalid());
    }
    Ok(Position {
        created_at: Timestamp(i64::from_be_bytes(created_at)),
        id,
    })
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

    proptest! {
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
