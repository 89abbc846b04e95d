//! What the index holds of a text beyond its words.
//!
//! * Each word's head, its first [`MIN_PREFIX_CHARS`] characters. A prefix of exactly that
//!   length (`con*`) is then one list, not the union of the lists of every word it begins,
//!   which the engines build in full before returning a single match (tens of
//!   milliseconds at a million messages for a prefix that begins many words). A head is
//!   exactly the set of words its prefix matches, so it replaces the prefix in the query.
//!   SQLite's documents also hold each word's long head, one character more
//!   ([`LONG_HEAD_CHARS`]), for the same reason; longer prefixes begin few enough words
//!   to be expanded.
//! * Each pair of adjacent [common](is_common) words (`of the`), in runs (see
//!   [`pair_runs`]). A phrase of common words only (`"one of the"`) is then a phrase of
//!   rare pairs, where its words would each be in nearly every document: the engine
//!   checks the positions of every document that holds all of them, hundreds of
//!   thousands at a million messages, for a phrase that may be in a handful.

use super::query::MIN_PREFIX_CHARS;
use super::text::is_unspaced;
use super::Term;

/// Characters of a long head.
pub const LONG_HEAD_CHARS: usize = MIN_PREFIX_CHARS + 1;

/// The first `chars` characters of `word`, for a word of at least that many outside the
/// unspaced scripts.
fn first_chars(word: &str, chars: usize) -> Option<&str> {
    let mut ends = word.char_indices().map(|(at, c)| (at + c.len_utf8(), c));
    let mut end = 0;
    for _ in 0..chars {
        let (at, c) = ends.next()?;
        if is_unspaced(c) {
            return None;
        }
        end = at;
    }
    Some(&word[..end])
}

/// The head of `word`, if it has one: its first [`MIN_PREFIX_CHARS`] characters.
pub fn head(word: &str) -> Option<&str> {
    first_chars(word, MIN_PREFIX_CHARS)
}

/// The long head of `word`, if it has one: its first [`LONG_HEAD_CHARS`] characters.
pub fn long_head(word: &str) -> Option<&str> {
    first_chars(word, LONG_HEAD_CHARS)
}

/// The distinct heads of a document's `words`, sorted.
pub fn heads(words: &[String]) -> Vec<&str> {
    distinct(words, head)
}

/// The distinct long heads of a document's `words`, sorted.
pub fn long_heads(words: &[String]) -> Vec<&str> {
    distinct(words, long_head)
}

fn distinct(words: &[String], of: fn(&str) -> Option<&str>) -> Vec<&str> {
    let mut heads: Vec<&str> = words.iter().filter_map(|w| of(w)).collect();
    heads.sort_unstable();
    heads.dedup();
    heads
}

/// The head that stands for `term`: a lone prefix exactly as long as a head.
pub fn term_head(term: &Term) -> Option<&str> {
    lone_prefix(term, head)
}

/// The long head that stands for `term`: a lone prefix exactly as long as a long head.
pub fn term_long_head(term: &Term) -> Option<&str> {
    lone_prefix(term, long_head)
}

fn lone_prefix(term: &Term, of: fn(&str) -> Option<&str>) -> Option<&str> {
    match term.words.as_slice() {
        [word] if term.prefix && of(word) == Some(word.as_str()) => Some(word.as_str()),
        _ => None,
    }
}

/// Common English words: function words (articles, pronouns, prepositions,
/// conjunctions, auxiliaries) and a few as frequent. Sorted (for [`is_common`]'s binary
/// search); each at most [`MAX_COMMON_CHARS`] lowercase ASCII letters, so a pair written
/// `a0b` is one token that no other pair or word is (see [`pair_entry`]). Changing the
/// list changes the documents: it needs a migration that indexes every row again.
const COMMON: [&str; 136] = [
    "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any",
    "are", "as", "at", "be", "because", "been", "before", "being", "below", "between", "both",
    "but", "by", "can", "could", "did", "do", "does", "doing", "down", "during", "each", "even",
    "few", "for", "from", "further", "get", "got", "had", "has", "have", "having", "he", "her",
    "here", "hers", "him", "his", "how", "i", "if", "in", "into", "is", "it", "its", "just",
    "like", "make", "many", "may", "me", "might", "more", "most", "much", "must", "my", "no",
    "nor", "not", "now", "of", "off", "on", "once", "one", "only", "or", "other", "our", "ours",
    "out", "over", "own", "said", "same", "say", "shall", "she", "should", "so", "some", "such",
    "than", "that", "the", "their", "theirs", "them", "then", "there", "these", "they", "this",
    "those", "through", "to", "too", "two", "under", "until", "up", "upon", "us", "very", "was",
    "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with",
    "would", "you", "your", "yours",
];

/// The longest common word.
const MAX_COMMON_CHARS: usize = 7;

/// Whether `word` is one of the [common](COMMON) words.
pub fn is_common(word: &str) -> bool {
    word.len() <= MAX_COMMON_CHARS && COMMON.binary_search(&word).is_ok()
}

/// One pair of adjacent common words as an index entry: `a0b` (common words hold no
/// digit, so the `0` cannot be part of either).
pub fn pair_entry(first: &str, second: &str) -> String {
    format!("{first}0{second}")
}

/// The pairs of adjacent common words of a document's `words`, in the order of the text,
/// each maximal run of them on its own. An engine writes the runs one after another with
/// a break between them, so two pairs are next to each other in what it holds only if
/// they are next to each other in the text: a phrase of the pairs of `"one of the"`
/// (`one0of of0the`) then matches exactly where the words do.
pub fn pair_runs(words: &[String]) -> Vec<Vec<String>> {
    let mut runs: Vec<Vec<String>> = Vec::new();
    let mut open = false;
    for pair in words.windows(2) {
        if is_common(&pair[0]) && is_common(&pair[1]) {
            let entry = pair_entry(&pair[0], &pair[1]);
            match runs.last_mut() {
                Some(run) if open => run.push(entry),
                _ => runs.push(vec![entry]),
            }
            open = true;
        } else {
            open = false;
        }
    }
    runs
}

/// The pairs that stand for `term`: a phrase (not a prefix) of two or more words, all
/// common.
pub fn term_pairs(term: &Term) -> Option<Vec<String>> {
    let words = &term.words;
    if term.prefix || words.len() < 2 || !words.iter().all(|w| is_common(w)) {
        return None;
    }
    Some(words.windows(2).map(|p| pair_entry(&p[0], &p[1])).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::Query;

    fn words(text: &str) -> Vec<String> {
        crate::domain::search::text::indexed_words(text)
    }

    #[test]
    fn documents_hold_the_heads_of_their_words() {
        assert_eq!(heads(&words("the cat saw the cat")), ["cat", "saw", "the"]);
        assert_eq!(heads(&words("a ab Été 東京都 x東京")), ["ete"]);
        assert_eq!(head("b東京"), None);
        assert_eq!(
            long_heads(&words("the cat saw the cats, naïve conf")),
            ["cats", "conf", "naiv"]
        );
        assert_eq!(long_head("ab東京"), None);
    }

    #[test]
    fn common_words_are_lowercase_letters_within_the_limit_and_distinct() {
        for word in COMMON {
            assert!(is_common(word), "{word}");
            assert!(word.len() <= MAX_COMMON_CHARS, "{word}");
            assert!(word.bytes().all(|b| b.is_ascii_lowercase()), "{word}");
        }
        assert!(
            COMMON.windows(2).all(|w| w[0] < w[1]),
            "sorted and distinct"
        );
        assert!(!is_common("The") && !is_common("otherwise") && !is_common(""));
    }

    #[test]
    fn runs_of_common_pairs_break_at_every_other_word() {
        let runs = pair_runs(&words(
            "One of the cats, and the other of them: a b c of the",
        ));
        assert_eq!(
            runs,
            [
                vec!["one0of", "of0the"],
                vec!["and0the", "the0other", "other0of", "of0them", "them0a"],
                vec!["of0the"],
            ]
        );
        // `a b` and `b c` would follow each other if nothing broke the runs.
        assert_eq!(
            pair_runs(&words("a but x but the")),
            [["a0but"], ["but0the"]]
        );
        assert!(pair_runs(&words("the")).is_empty());
    }

    #[test]
    fn only_phrases_of_common_words_are_pairs() {
        let q = Query::parse(r#""one of the" "of the cats" the of_the* of_the"#).expect("q");
        let pairs: Vec<Option<Vec<String>>> = q.terms.iter().map(term_pairs).collect();
        assert_eq!(
            pairs,
            [
                Some(vec!["one0of".to_string(), "of0the".to_string()]),
                None,
                None,
                None,
                Some(vec!["of0the".to_string()]),
            ]
        );
    }

    #[test]
    fn a_lone_three_letter_prefix_is_its_head() {
        let q = Query::parse("bra* brai* snake_cas* word 東*").expect("q");
        let heads: Vec<Option<&str>> = q.terms.iter().map(term_head).collect();
        assert_eq!(heads, [Some("bra"), None, None, None, None]);
        let long: Vec<Option<&str>> = q.terms.iter().map(term_long_head).collect();
        assert_eq!(long, [None, Some("brai"), None, None, None]);
    }
}
