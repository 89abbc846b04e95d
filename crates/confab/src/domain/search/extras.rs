//! What the index holds of a text beyond its words: each word's head, its first
//! [`MIN_PREFIX_CHARS`] characters. A prefix of exactly that length (`con*`) is then one
//! list, not the union of the lists of every word it begins, which the engines build
//! in full before returning a single match (tens of milliseconds at a million messages
//! for a prefix that begins many words). A head is exactly the set of words its prefix
//! matches, so it replaces the prefix in the query; longer prefixes begin few enough
//! words to be expanded.

use super::query::MIN_PREFIX_CHARS;
use super::text::is_unspaced;
use super::Term;

/// The head of `word`, if it has one: its first [`MIN_PREFIX_CHARS`] characters, for a
/// word of at least that many outside the unspaced scripts.
pub fn head(word: &str) -> Option<&str> {
    let mut ends = word.char_indices().map(|(at, c)| (at + c.len_utf8(), c));
    let mut end = 0;
    for _ in 0..MIN_PREFIX_CHARS {
        let (at, c) = ends.next()?;
        if is_unspaced(c) {
            return None;
        }
        end = at;
    }
    Some(&word[..end])
}

/// The distinct heads of a document's `words`, sorted.
pub fn heads(words: &[String]) -> Vec<&str> {
    let mut heads: Vec<&str> = words.iter().filter_map(|w| head(w)).collect();
    heads.sort_unstable();
    heads.dedup();
    heads
}

/// The head that stands for `term`: a lone prefix exactly as long as a head.
pub fn term_head(term: &Term) -> Option<&str> {
    match term.words.as_slice() {
        [word] if term.prefix && head(word) == Some(word.as_str()) => Some(word.as_str()),
        _ => None,
    }
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
    }

    #[test]
    fn a_lone_three_letter_prefix_is_its_head() {
        let q = Query::parse("bra* brai* snake_cas* word 東*").expect("q");
        let heads: Vec<Option<&str>> = q.terms.iter().map(term_head).collect();
        assert_eq!(heads, [Some("bra"), None, None, None, None]);
    }
}
