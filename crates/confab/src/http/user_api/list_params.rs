//! `?limit=&before=&after=` of the user API's list routes.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::http::error::ApiError;
use crate::http::extract::parse_positive_id;

/// The most rows one `limit` may ask for.
pub const MAX_LIMIT: u32 = 1000;

/// Optional keyset pagination; without it the whole list is returned.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Only rows listed after the one with this id (exclusive).
    #[param(value_type = Option<i64>, minimum = 1)]
    after: Option<String>,
    /// Only rows listed before the one with this id (exclusive).
    #[param(value_type = Option<i64>, minimum = 1)]
    before: Option<String>,
    /// At most this many rows (1 to 1000): the first ones after `after` (or of the whole
    /// list), or the last ones before `before`.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 1000)]
    limit: Option<String>,
}

/// Parsed [`PageParams`]: anchor ids and a limit.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Page {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub limit: Option<u32>,
}

impl PageParams {
    /// Validates the parameters; an empty value counts as absent.
    pub fn parse(&self) -> Result<Page, ApiError> {
        let given = |raw: &Option<String>| raw.clone().filter(|text| !text.is_empty());
        let id = |name: &str, raw: Option<String>| match raw {
            None => Ok(None),
            Some(text) => parse_positive_id(&text).map(Some).ok_or_else(|| {
                ApiError::validation(format!("{name} must be a positive integer id"))
            }),
        };
        let after = id("after", given(&self.after))?;
        let before = id("before", given(&self.before))?;
        if after.is_some() && before.is_some() {
            return Err(ApiError::validation("give before or after, not both"));
        }
        let limit = match given(&self.limit) {
            None => None,
            Some(text) => Some(
                parse_positive_id(&text)
                    .and_then(|n| u32::try_from(n).ok())
                    .filter(|n| *n <= MAX_LIMIT)
                    .ok_or_else(|| {
                        ApiError::validation(format!(
                            "limit must be an integer from 1 to {MAX_LIMIT}"
                        ))
                    })?,
            ),
        };
        Ok(Page {
            after,
            before,
            limit,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(after: &str, before: &str, limit: &str) -> PageParams {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
        PageParams {
            after: some(after),
            before: some(before),
            limit: some(limit),
        }
    }

    #[test]
    fn valid_and_invalid_parameters() {
        assert_eq!(params("", "", "").parse(), Ok(Page::default()));
        assert_eq!(
            params("5", "", "10").parse(),
            Ok(Page {
                after: Some(5),
                before: None,
                limit: Some(10)
            })
        );
        assert_eq!(params("", "7", "").parse().map(|p| p.before), Ok(Some(7)));
        for (after, before, limit) in [
            ("0", "", ""),
            ("-1", "", ""),
            ("x", "", ""),
            ("", "1.5", ""),
            ("1", "2", ""),
            ("", "", "0"),
            ("", "", "1001"),
            ("", "", "ten"),
            ("", "", "99999999999"),
        ] {
            assert!(
                params(after, before, limit).parse().is_err(),
                "{after:?} {before:?} {limit:?}"
            );
        }
    }
}
