//! Relevance, computed by confab itself so both engines rank alike: BM25 over the very
//! words the index holds ([`indexed_words`]).
//!
//! A term's weight (BM25's IDF) comes from how many documents it matches, counted up to
//! [`COUNT_CAP`]: rarer terms weigh more, and every term in that many documents or more
//! weighs the same (counting further would cost as much as the documents it matches).
//! The cap is no larger than a band (500 by default), so a query whose newest band is
//! full needs no counting at all: each of its terms is in at least that many documents.

use super::text::{indexed_words, MAX_INDEXED_WORDS, MAX_TOKEN_CHARS};
use super::{Query, Term};
use memchr::memmem::Finder;

/// BM25's usual constants: how fast repeated occurrences stop adding, and how much a
/// document's length dilutes them.
const K1: f64 = 1.2;
const B: f64 = 0.75;

/// Documents counted per term for its weight.
pub const COUNT_CAP: u32 = 500;

/// How one document matches a query: each term's occurrences, and its length in words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matched {
    pub occurrences: Vec<u32>,
    pub length: u32,
}

impl Matched {
    /// Matches `query` against `text` word by word, as the index does (see [`Scorer`]
    /// for many texts).
    pub fn new(query: &Query, text: &str) -> Matched {
        Scorer::new(query).matched(text)
    }

    /// [`Matched::new`] for a text that is not ASCII: folded word by word.
    fn folded(query: &Query, text: &str) -> Matched {
        let words = indexed_words(text);
        let same = |have: &String, want: &str, prefix: bool| {
            if prefix {
                have.starts_with(want)
            } else {
                have == want
            }
        };
        Matched::of(query, &words, same)
    }

    /// An ASCII text word by word, without folding, decoding or a string per word: its
    /// words are alphanumeric byte runs, compared case-insensitively and cut as the index
    /// cuts them.
    fn ascii_by_words(query: &Query, text: &str) -> Matched {
        let words: Vec<&[u8]> = text
            .as_bytes()
            .split(|b| !b.is_ascii_alphanumeric())
            .filter(|w| !w.is_empty())
            .take(MAX_INDEXED_WORDS)
            .map(|w| &w[..w.len().min(MAX_TOKEN_CHARS)])
            .collect();
        let same = |have: &&[u8], want: &str, prefix: bool| {
            let want = want.as_bytes();
            if prefix {
                have.len() >= want.len() && have[..want.len()].eq_ignore_ascii_case(want)
            } else {
                have.eq_ignore_ascii_case(want)
            }
        };
        Matched::of(query, &words, same)
    }

    /// The common case, an ASCII text, without splitting it into words: they are counted
    /// in one pass, and each term is found as a substring of the lowercased text
    /// (`lower`, a buffer kept between texts), then checked to stand on word
    /// boundaries. `None` for a text of more than [`MAX_INDEXED_WORDS`] words, whose cut
    /// could make that differ from matching word by word.
    fn ascii(
        query: &Query,
        finders: &[Finder<'_>],
        text: &[u8],
        lower: &mut Vec<u8>,
    ) -> Option<Matched> {
        let length = ascii_word_count(text);
        if length > MAX_INDEXED_WORDS {
            return None;
        }
        lower.clear();
        lower.extend(text.iter().map(u8::to_ascii_lowercase));
        Some(Matched {
            occurrences: query
                .terms
                .iter()
                .zip(finders)
                .map(|(term, finder)| ascii_occurrences(term, finder, lower))
                .collect(),
            length: u32::try_from(length).unwrap_or(u32::MAX),
        })
    }

    fn of<W>(query: &Query, words: &[W], same: impl Fn(&W, &str, bool) -> bool) -> Matched {
        Matched {
            occurrences: query
                .terms
                .iter()
                .map(|t| occurrences(t, words, &same))
                .collect(),
            length: u32::try_from(words.len()).unwrap_or(u32::MAX),
        }
    }
}

/// A query made ready to match the many texts of a band: the substring finder of each
/// term's first word is built once, and the buffer for a lowercased text is kept.
pub struct Scorer<'q> {
    query: &'q Query,
    /// `None` where the index's cuts could make substrings differ from words: a query
    /// word of [`MAX_TOKEN_CHARS`] characters or more (or none, or one not folded).
    finders: Option<Vec<Finder<'q>>>,
    lower: Vec<u8>,
}

impl<'q> Scorer<'q> {
    pub fn new(query: &'q Query) -> Scorer<'q> {
        let plain = |w: &String| {
            !w.is_empty() && w.len() < MAX_TOKEN_CHARS && !w.bytes().any(|b| b.is_ascii_uppercase())
        };
        let finders = query
            .terms
            .iter()
            .map(|t| match t.words.first() {
                Some(first) if t.words.iter().all(plain) => Some(Finder::new(first.as_bytes())),
                _ => None,
            })
            .collect();
        Scorer {
            query,
            finders,
            lower: Vec::new(),
        }
    }

    /// How `text` matches the query, as [`Matched::new`].
    pub fn matched(&mut self, text: &str) -> Matched {
        if !text.is_ascii() {
            return Matched::folded(self.query, text);
        }
        self.by_substrings(text.as_bytes())
            .unwrap_or_else(|| Matched::ascii_by_words(self.query, text))
    }

    /// An ASCII text matched by substrings, where that is exact.
    fn by_substrings(&mut self, text: &[u8]) -> Option<Matched> {
        let finders = self.finders.as_ref()?;
        Matched::ascii(self.query, finders, text, &mut self.lower)
    }
}

/// How many words (runs of ASCII letters and digits) `text` holds: the bytes that start
/// one, counted without a branch per byte.
fn ascii_word_count(text: &[u8]) -> usize {
    let word = |b: &u8| b.is_ascii_alphanumeric();
    let first = usize::from(text.first().is_some_and(word));
    let starts: usize = text
        .iter()
        .zip(text.iter().skip(1))
        .map(|(before, at)| usize::from(word(at) & !word(before)))
        .sum();
    first + starts
}

/// Where `term` occurs in `lower` (a lowercased ASCII text), as [`occurrences`] counts
/// it over the text's words: each place its first word starts a word, followed by its
/// other words, each a whole word but for a prefix at the end.
fn ascii_occurrences(term: &Term, first: &Finder<'_>, lower: &[u8]) -> u32 {
    let last = term.words.len() - 1;
    let word = |at: usize| lower.get(at).is_some_and(u8::is_ascii_alphanumeric);
    let mut found = 0u32;
    for start in first.find_iter(lower) {
        if start > 0 && word(start - 1) {
            continue;
        }
        let mut at = start;
        let matches = term.words.iter().enumerate().all(|(i, want)| {
            while i > 0 && at < lower.len() && !word(at) {
                at += 1;
            }
            if !lower[at..].starts_with(want.as_bytes()) {
                return false;
            }
            at += want.len();
            (i == last && term.prefix) || !word(at)
        });
        found = found.saturating_add(u32::from(matches));
    }
    found
}

/// Where `term` occurs in `words`: its words in a row, the last one a prefix for `word*`.
fn occurrences<W>(term: &Term, words: &[W], same: &impl Fn(&W, &str, bool) -> bool) -> u32 {
    let Some(last) = term.words.len().checked_sub(1) else {
        return 0;
    };
    let at = |window: &[W]| {
        term.words
            .iter()
            .zip(window)
            .enumerate()
            .all(|(i, (want, have))| same(have, want, i == last && term.prefix))
    };
    let found = words.windows(last + 1).filter(|w| at(w)).count();
    u32::try_from(found).unwrap_or(u32::MAX)
}

/// A term's weight from the documents it matches (`count`, at most [`COUNT_CAP`]).
pub fn weight(count: u32) -> f64 {
    let matching = f64::from(count.min(COUNT_CAP));
    let documents = 10.0 * f64::from(COUNT_CAP);
    (1.0 + (documents - matching + 0.5) / (matching + 0.5)).ln()
}

/// BM25 of a document: `weights` per term, `average_length` of the documents ranked
/// together. Higher is better.
pub fn bm25(matched: &Matched, weights: &[f64], average_length: f64) -> f64 {
    let dilution = K1 * (1.0 - B + B * f64::from(matched.length) / average_length.max(1.0));
    matched
        .occurrences
        .iter()
        .zip(weights)
        .map(|(&found, weight)| {
            let found = f64::from(found);
            weight * found * (K1 + 1.0) / (found + dilution)
        })
        .sum()
}

/// The average length of `matched` documents (1 for none).
pub fn average_length<'a>(matched: impl IntoIterator<Item = &'a Matched>) -> f64 {
    let (total, count) = matched
        .into_iter()
        .fold((0f64, 0f64), |(t, c), m| (t + f64::from(m.length), c + 1.0));
    if count == 0.0 {
        1.0
    } else {
        total / count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(q: &str, text: &str) -> Matched {
        Matched::new(&Query::parse(q).expect("parses"), text)
    }

    #[test]
    fn counts_words_phrases_and_prefixes_as_the_index_matches_them() {
        assert_eq!(
            matched(
                r#"Café "new york" conf*"#,
                "cafe NEW York, new-york; confab conf con"
            ),
            Matched {
                occurrences: vec![1, 2, 2],
                length: 8
            }
        );
        assert_eq!(matched("東京", "東京都と東京").occurrences, vec![2]);
        assert_eq!(matched(r#""york new""#, "new york").occurrences, vec![0]);
    }

    #[test]
    fn ascii_texts_match_as_the_folding_path_does() {
        let long = "x".repeat(150);
        let many = "a b ".repeat(MAX_INDEXED_WORDS);
        for (q, text) in [
            (
                r#"Café "new york" conf*"#,
                "cafe NEW York, new-york; confab conf con",
            ),
            ("snake case", "snake_case SNAKE case"),
            (long.as_str(), &*format!("{long}y {long}")),
            ("abc*", "ABC abcd xabc a_bc"),
            ("abc", ",,abc, def abc"),
            ("b", &many),
        ] {
            let query = Query::parse(q).expect("parses");
            let folded = Matched::of(&query, &indexed_words(text), |have, want, prefix| {
                if prefix {
                    have.starts_with(want)
                } else {
                    have == want
                }
            });
            assert_eq!(Matched::new(&query, text), folded, "{q:?} in {text:?}");
            assert_eq!(
                Matched::ascii_by_words(&query, text),
                folded,
                "{q:?} in {text:?}"
            );
        }
        // The substring path leaves to the word path what the index's cuts could change.
        let query = Query::parse("b").expect("parses");
        assert_eq!(Scorer::new(&query).by_substrings(many.as_bytes()), None);
        let query = Query::parse(&long).expect("parses");
        assert_eq!(Scorer::new(&query).by_substrings(b"x"), None);
    }

    proptest::proptest! {
        /// Finding terms as substrings counts what matching word by word counts, for
        /// texts and queries of a few letters, digits and separators (so words repeat,
        /// run into each other and start one another).
        #[test]
        fn substrings_count_what_words_count(
            text in "[abAB1 ,._-]{0,40}",
            query in "[abB1 *\"]{1,12}",
        ) {
            if let Ok(query) = Query::parse(&query) {
                if let Some(found) = Scorer::new(&query).by_substrings(text.as_bytes()) {
                    proptest::prop_assert_eq!(found, Matched::ascii_by_words(&query, &text));
                }
            }
        }
    }

    #[test]
    fn rarer_terms_more_occurrences_and_shorter_documents_score_higher() {
        assert!(weight(1) > weight(100));
        assert!(weight(100) > weight(COUNT_CAP));
        assert_eq!(weight(COUNT_CAP), weight(COUNT_CAP * 5));
        let once = Matched {
            occurrences: vec![1],
            length: 10,
        };
        let twice = Matched {
            occurrences: vec![2],
            length: 10,
        };
        let long = Matched {
            occurrences: vec![1],
            length: 100,
        };
        let w = [weight(10)];
        assert!(bm25(&twice, &w, 20.0) > bm25(&once, &w, 20.0));
        assert!(bm25(&once, &w, 20.0) > bm25(&long, &w, 20.0));
        assert_eq!(average_length([&once, &long]), 55.0);
        assert_eq!(average_length(std::iter::empty()), 1.0);
    }
}
