//! Snippets: the part of a hit's text around its best match, as plain text, with the
//! `[start, end)` character offsets of every matched term in it.

use super::query::{Query, Term};
use super::text::{tokens, Token};

/// Most characters in a snippet.
pub const SNIPPET_CHARS: usize = 240;
/// Characters of context kept before the first match of the chosen window.
const LEAD_CHARS: usize = 40;
/// Matches looked at when choosing the window (a word repeated thousands of times needs
/// no more).
const MAX_MATCHES: usize = 256;

/// A snippet and its highlights.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet {
    pub text: String,
    pub highlights: Vec<[usize; 2]>,
}

/// Where one term matched: characters `[start, end)` of the text.
#[derive(Debug, Clone, Copy)]
struct Match {
    term: usize,
    start: usize,
    end: usize,
}

/// The snippet of `text` for `query`: the window of at most [`SNIPPET_CHARS`] characters
/// holding the most distinct terms (then the most matches, then the earliest), with a
/// little context before its first match. Whitespace becomes spaces, one for one, so a
/// snippet is one line.
pub fn snippet(text: &str, query: &Query) -> Snippet {
    let matches = matches(&tokens(text), query);
    let chars: Vec<char> = text.chars().collect();
    let width = SNIPPET_CHARS.min(chars.len());
    let start = best_window(&matches, query.terms.len(), chars.len(), width);
    let end = start + width;
    let mut highlights: Vec<[usize; 2]> = Vec::new();
    for m in matches.iter().filter(|m| m.start >= start && m.end <= end) {
        match highlights.last_mut() {
            Some(last) if m.start - start <= last[1] => last[1] = last[1].max(m.end - start),
            _ => highlights.push([m.start - start, m.end - start]),
        }
    }
    let text = chars[start..end]
        .iter()
        .map(|&c| if c.is_whitespace() { ' ' } else { c })
        .collect();
    Snippet { text, highlights }
}

/// Every match of every term, ordered by start (then longest first), at most
/// [`MAX_MATCHES`].
fn matches(tokens: &[Token], query: &Query) -> Vec<Match> {
    let mut found = Vec::new();
    'tokens: for i in 0..tokens.len() {
        for (t, term) in query.terms.iter().enumerate() {
            if let Some(end) = match_at(tokens, i, term) {
                found.push(Match {
                    term: t,
                    start: tokens[i].start,
                    end,
                });
                if found.len() >= MAX_MATCHES {
                    break 'tokens;
                }
            }
        }
    }
    found.sort_by_key(|m| (m.start, usize::MAX - m.end));
    found
}

/// Whether `term` matches the tokens starting at `i`; if so, where the match ends.
fn match_at(tokens: &[Token], i: usize, term: &Term) -> Option<usize> {
    let candidates = tokens.get(i..i + term.words.len())?;
    let last = term.words.len() - 1;
    for (k, (token, word)) in candidates.iter().zip(&term.words).enumerate() {
        let hit = if k == last && term.prefix {
            token.text.starts_with(word.as_str())
        } else {
            token.text == *word
        };
        if !hit {
            return None;
        }
    }
    candidates.last().map(|t| t.end)
}

/// The first character of the best window of `width` characters in a text of `length`.
fn best_window(matches: &[Match], terms: usize, length: usize, width: usize) -> usize {
    let mut best: Option<((usize, usize), usize)> = None;
    for anchor in matches {
        let start = anchor.start.saturating_sub(LEAD_CHARS).min(length - width);
        let end = start + width;
        let mut seen = vec![false; terms];
        let mut count = 0;
        for m in matches.iter().filter(|m| m.start >= start && m.end <= end) {
            seen[m.term] = true;
            count += 1;
        }
        let score = (seen.iter().filter(|s| **s).count(), count);
        if best.is_none_or(|(b, _)| score > b) {
            best = Some((score, start));
        }
    }
    best.map_or(0, |(_, start)| start)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn highlighted(s: &Snippet) -> Vec<String> {
        let chars: Vec<char> = s.text.chars().collect();
        s.highlights
            .iter()
            .map(|[a, b]| chars[*a..*b].iter().collect())
            .collect()
    }

    #[test]
    fn highlights_every_term_in_the_original_spelling() {
        let q = Query::parse(r#"cafe "new york" conf*"#).expect("parses");
        let s = snippet("The Café in New\nYork configures CONFAB.", &q);
        assert_eq!(s.text, "The Café in New York configures CONFAB.");
        assert_eq!(
            highlighted(&s),
            ["Café", "New\nYork", "configures", "CONFAB"].map(|h| h.replace('\n', " "))
        );
    }

    #[test]
    fn long_text_is_cut_around_the_best_match() {
        let text = format!(
            "{} needle haystack {}",
            "filler ".repeat(100),
            "tail ".repeat(100)
        );
        let s = snippet(&text, &Query::parse("needle haystack").expect("parses"));
        assert_eq!(s.text.chars().count(), SNIPPET_CHARS);
        assert_eq!(highlighted(&s), ["needle", "haystack"]);
        assert!(s.highlights[0][0] >= LEAD_CHARS - 1, "{s:?}");
    }

    #[test]
    fn unspaced_substrings_are_highlighted_whole() {
        let s = snippet("私は東京都に住む", &Query::parse("東京都").expect("parses"));
        assert_eq!(highlighted(&s), ["東京都"]);
    }

    #[test]
    fn no_match_gives_the_start() {
        let s = snippet(&"x".repeat(500), &Query::parse("absent").expect("parses"));
        assert_eq!(s.text.len(), SNIPPET_CHARS);
        assert!(s.highlights.is_empty());
        assert_eq!(snippet("", &Query::parse("a").expect("parses")).text, "");
    }
}
