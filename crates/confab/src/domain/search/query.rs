//! The query language, parsed by confab so that no user text ever reaches an engine's
//! own query syntax.
//!
//! * words separated by spaces: every one must match, as a whole word;
//! * `"exact phrase"`: its words adjacent and in order (an unclosed quote runs to the end);
//! * `prefix*`: words starting with the prefix, which needs at least
//!   [`MIN_PREFIX_CHARS`] characters (a shorter one would ask the engine to merge the
//!   lists of a large share of all words).
//!
//! Every other character is a separator, as in [`tokens`](super::text::tokens): a word
//! such as `snake_case` or `src/main.rs` becomes a phrase of its parts, and Chinese or
//! Japanese text becomes a phrase of its character pairs (a substring search).

use super::text::{is_unspaced, tokens};

/// Most characters in a query.
/// (500 characters of 4 bytes each, percent-encoded, still fit the default URL limit.)
pub const MAX_QUERY_CHARS: usize = 500;
/// Most words a query may hold across all its terms.
pub const MAX_QUERY_TOKENS: usize = 256;
/// Most terms (words, phrases, prefixes) a query may hold.
pub const MAX_QUERY_TERMS: usize = 32;
/// Fewest characters of a prefix (Chinese and Japanese excepted: a lone character there
/// finds the character pairs it begins, a short list).
pub const MIN_PREFIX_CHARS: usize = 3;

/// One thing that must match: a phrase of one or more normalised words, the last of
/// which may be a prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A parsed query: every term must match the same message (or chat name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Query {
    pub terms: Vec<Term>,
}

/// Why a query cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("q must contain a word to search for")]
    Empty,
    #[error("q is longer than {MAX_QUERY_CHARS} characters")]
    TooLong,
    #[error("q holds more than {MAX_QUERY_TOKENS} words")]
    TooManyWords,
    #[error("q holds more than {MAX_QUERY_TERMS} terms (words, phrases or prefixes)")]
    TooManyTerms,
    #[error("a prefix* in q needs at least {MIN_PREFIX_CHARS} characters before the *")]
    ShortPrefix,
}

impl Query {
    /// Parses `q`; never fails on content other than length and emptiness.
    pub fn parse(q: &str) -> Result<Query, QueryError> {
        if q.chars().count() > MAX_QUERY_CHARS {
            return Err(QueryError::TooLong);
        }
        let mut terms: Vec<Term> = Vec::new();
        let mut rest = q;
        while let Some(c) = rest.chars().next() {
            if c == '"' {
                let inner = &rest[1..];
                let (phrase, after) = match inner.find('"') {
                    Some(end) => (&inner[..end], &inner[end + 1..]),
                    None => (inner, ""),
                };
                push_term(&mut terms, phrase, false);
                rest = after;
            } else if c.is_whitespace() {
                rest = &rest[c.len_utf8()..];
            } else {
                let end = rest
                    .find(|c: char| c.is_whitespace() || c == '"')
                    .unwrap_or(rest.len());
                let word = &rest[..end];
                let stem = word.trim_end_matches('*');
                push_term(&mut terms, stem, stem.len() < word.len());
                rest = &rest[end..];
            }
        }
        if terms.is_empty() {
            return Err(QueryError::Empty);
        }
        if terms.iter().map(|t| t.words.len()).sum::<usize>() > MAX_QUERY_TOKENS {
            return Err(QueryError::TooManyWords);
        }
        if terms.len() > MAX_QUERY_TERMS {
            return Err(QueryError::TooManyTerms);
        }
        if terms.iter().any(Term::is_short_prefix) {
            return Err(QueryError::ShortPrefix);
        }
        Ok(Query { terms })
    }
}

impl Term {
    /// A prefix of fewer than [`MIN_PREFIX_CHARS`] characters (outside the unspaced
    /// scripts).
    fn is_short_prefix(&self) -> bool {
        self.prefix
            && self.words.last().is_some_and(|w| {
                !w.chars().all(is_unspaced) && w.chars().count() < MIN_PREFIX_CHARS
            })
    }
}

fn push_term(terms: &mut Vec<Term>, text: &str, prefix: bool) {
    let words: Vec<String> = tokens(text).into_iter().map(|t| t.text).collect();
    let Some(last) = words.last() else { return };
    let unspaced = last.chars().all(is_unspaced);
    // Pairs already search substrings; a lone character of those scripts finds the pairs
    // it begins.
    let prefix = if unspaced {
        words.len() == 1 && last.chars().count() == 1
    } else {
        prefix
    };
    terms.push(Term { words, prefix });
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn term(words: &[&str], prefix: bool) -> Term {
        Term {
            words: words.iter().map(|w| w.to_string()).collect(),
            prefix,
        }
    }

    #[test]
    fn words_phrases_and_prefixes() {
        let q = Query::parse(r#"Café "Exact  phrase" conf* snake_case"#).expect("parses");
        assert_eq!(
            q.terms,
            [
                term(&["cafe"], false),
                term(&["exact", "phrase"], false),
                term(&["conf"], true),
                term(&["snake", "case"], false),
            ]
        );
    }

    #[test]
    fn unspaced_scripts_search_substrings() {
        let q = Query::parse("東京都* 私").expect("parses");
        assert_eq!(
            q.terms,
            [term(&["東京", "京都"], false), term(&["私"], true)]
        );
    }

    #[test]
    fn odd_input_is_only_text() {
        let q = Query::parse(r#"a"b AND (c OR d)* NEAR/2 -e ^f "unclosed"#).expect("parses");
        assert_eq!(
            q.terms,
            [
                term(&["a"], false),
                term(&["b", "and", "c", "or", "d", "near", "2", "e", "f"], false),
                term(&["unclosed"], false),
            ]
        );
    }

    #[test]
    fn an_unclosed_quote_runs_to_the_end() {
        let q = Query::parse(r#"x "open phrase*"#).expect("parses");
        assert_eq!(
            q.terms,
            [term(&["x"], false), term(&["open", "phrase"], false)]
        );
    }

    #[test]
    fn nothing_to_search_for() {
        for q in ["", "   ", "***", "\"\"", "!! ?? --", "\u{301}"] {
            assert_eq!(Query::parse(q), Err(QueryError::Empty), "{q:?}");
        }
        assert_eq!(Query::parse(&"a".repeat(501)), Err(QueryError::TooLong));
        // 258 Han characters are 257 pairs.
        assert_eq!(
            Query::parse(&"東".repeat(258)),
            Err(QueryError::TooManyWords)
        );
        assert!(Query::parse(&"東".repeat(257)).is_ok());
        assert_eq!(
            Query::parse(&"a ".repeat(33)),
            Err(QueryError::TooManyTerms)
        );
        assert!(Query::parse(&"a ".repeat(32)).is_ok());
        for q in ["a*", "ab*", "x snake_c*", "é*"] {
            assert_eq!(Query::parse(q), Err(QueryError::ShortPrefix), "{q:?}");
        }
        for q in ["abc*", "東*", "snake_cas*", "\"ab*\"", "ab"] {
            assert!(Query::parse(q).is_ok(), "{q:?}");
        }
    }

    proptest! {
        #[test]
        fn any_text_parses_to_safe_words(q in "\\PC{0,200}") {
            if let Ok(query) = Query::parse(&q) {
                prop_assert!(!query.terms.is_empty());
                for term in &query.terms {
                    prop_assert!(!term.words.is_empty());
                    for word in &term.words {
                        prop_assert!(!word.is_empty());
                        prop_assert!(word.chars().all(char::is_alphanumeric), "{word:?}");
                    }
                }
            }
        }
    }
}
