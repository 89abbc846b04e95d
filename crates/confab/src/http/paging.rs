//! Keyset pagination: `limit` and opaque cursors (the tenant API's listings and both
//! APIs' search).

use crate::domain::cursor::{self, CursorKind, Position, SearchPosition};
use crate::http::error::ApiError;

/// Rows per page when `limit` is not given.
pub const DEFAULT_LIMIT: u32 = 20;
/// The most rows one page may hold.
pub const MAX_LIMIT: u32 = 100;

/// `limit` from the query string: 1 to [`MAX_LIMIT`], default [`DEFAULT_LIMIT`] when
/// absent or empty; anything else is a 400.
pub fn limit(raw: Option<&str>) -> Result<u32, ApiError> {
    match raw.map(str::trim).filter(|text| !text.is_empty()) {
        None => Ok(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_limit",
                    format!("limit must be an integer from 1 to {MAX_LIMIT}"),
                )
            }),
    }
}

/// A cursor from the query string (absent or empty: the first page); a cursor that is not
/// one this listing handed out is a 400.
pub fn cursor(kind: CursorKind, raw: Option<&str>) -> Result<Option<Position>, ApiError> {
    match raw.filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => cursor::decode(kind, text)
            .map(Some)
            .map_err(|e| ApiError::bad_request("invalid_cursor", e.0)),
    }
}

/// A search cursor from the query string (absent or empty: the first page).
pub fn search_cursor(raw: Option<&str>) -> Result<Option<SearchPosition>, ApiError> {
    match raw.filter(|text| !text.is_empty()) {
        None => Ok(None),
        Some(text) => cursor::decode_search(text)
            .map(Some)
            .map_err(|e| ApiError::bad_request("invalid_cursor", e.0)),
    }
}

/// Given up to `limit + 1` rows fetched in listing order, keeps the first `limit` and
/// returns the cursor after the last kept row when more rows follow (else `None`, so a
/// client never fetches an empty last page).
pub fn finish<T>(
    rows: &mut Vec<T>,
    limit: u32,
    kind: CursorKind,
    position: impl Fn(&T) -> Position,
) -> Option<String> {
    let limit = limit as usize;
    if rows.len() <= limit {
        return None;
    }
    rows.truncate(limit);
    rows.last().map(|row| cursor::encode(kind, position(row)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;

    #[test]
    fn limits() {
        assert_eq!(limit(None), Ok(DEFAULT_LIMIT));
        assert_eq!(limit(Some("")), Ok(DEFAULT_LIMIT));
        assert_eq!(limit(Some("1")), Ok(1));
        assert_eq!(limit(Some("100")), Ok(100));
        for bad in ["0", "101", "-1", "ten", "1.5", "99999999999"] {
            assert_eq!(
                limit(Some(bad)).map_err(|e| e.code),
                Err("invalid_limit"),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_full_page_gets_a_cursor_a_short_one_does_not() {
        let at = |id: i64| Position {
            created_at: Timestamp(id * 10),
            id,
        };
        let mut rows = vec![1, 2, 3];
        assert_eq!(finish(&mut rows, 3, CursorKind::Chats, |&id| at(id)), None);
        assert_eq!(rows, [1, 2, 3]);
        let mut rows = vec![1, 2, 3, 4];
        let next = finish(&mut rows, 3, CursorKind::Chats, |&id| at(id));
        assert_eq!(rows, [1, 2, 3]);
        assert_eq!(
            cursor(CursorKind::Chats, next.as_deref()),
            Ok(Some(at(3))),
            "the cursor points at the last row shown"
        );
        assert_eq!(
            cursor(CursorKind::Messages, next.as_deref()).map_err(|e| e.code),
            Err("invalid_cursor")
        );
    }
}
