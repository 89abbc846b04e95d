//! Text as search sees it: a sequence of normalised tokens, each knowing where it came from.
//!
//! One tokenizer serves the index, the query and the snippet, so the three can never
//! disagree about what a word is:
//!
//! * every character is folded on its own: compatibility-decomposed (NFKD, so `ｃａｆé` and
//!   `ﬁ` become `cafe` and `fi`), stripped of nonspacing marks (diacritics), lowercased;
//! * a word is a run of letters and digits; anything else separates words;
//! * Chinese and Japanese (Han, Hiragana, Katakana), written without spaces, become the
//!   overlapping pairs of their characters (`東京都` → `東京`, `京都`), so a substring of two
//!   or more characters is a phrase of pairs; a lone character stays itself. They are
//!   composed (NFKC) rather than stripped, so voiced kana (が) stay apart from unvoiced (か).
//!
//! Offsets are in characters (Unicode code points) of the original text.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::UnicodeNormalization as _;

/// Longer words are cut to this many characters (in the index and in queries alike).
pub const MAX_TOKEN_CHARS: usize = 100;

/// Words of one text that are indexed: the first this many (PostgreSQL keeps positions up
/// to 16,383; both engines index the same words so they give the same answers).
pub const MAX_INDEXED_WORDS: usize = 16_383;
/// Bytes of words of one text that are indexed: with their heads (see
/// [`extras`](super::extras), at most 16,383 of 13 bytes) under the 1 MiB of lexemes a
/// PostgreSQL `tsvector` holds.
pub const MAX_INDEXED_BYTES: usize = 750_000;

/// A normalised word and the characters `[start, end)` of the original it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Whether `c` belongs to a script written without spaces between words.
pub fn is_unspaced(c: char) -> bool {
    matches!(c as u32,
        0x3005..=0x3007        // 々 〆 〇
        | 0x3040..=0x30FF      // Hiragana, Katakana
        | 0x31F0..=0x31FF      // Katakana phonetic extensions
        | 0x3400..=0x4DBF      // CJK extension A
        | 0x4E00..=0x9FFF      // CJK unified ideographs
        | 0xF900..=0xFAFF      // CJK compatibility ideographs
        | 0xFF66..=0xFF9F      // half-width Katakana
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

/// What a character contributes: nothing (a mark, which leaves words whole), a word
/// break, word characters, or one character of an unspaced script.
enum Folded {
    Nothing,
    Separator,
    Word,
    Unspaced(char),
}

/// Folds `c`, pushing word characters onto `out`.
fn fold(c: char, out: &mut String) -> Folded {
    // ASCII decomposes to itself and holds no marks: the common case, taken quickly.
    if c.is_ascii() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
            return Folded::Word;
        }
        return Folded::Separator;
    }
    if is_unspaced(c) {
        // Composed compatibility form: half-width Katakana becomes full-width, and voiced
        // marks stay on their kana (が is not か: the mark changes the word in Japanese).
        let mut full = None;
        for d in std::iter::once(c).nfkc() {
            if full.is_none() {
                full = Some(d);
            }
        }
        let full = full.unwrap_or(c);
        return if full.is_alphanumeric() {
            Folded::Unspaced(full)
        } else if is_combining_mark(full) {
            Folded::Nothing
        } else {
            Folded::Separator
        };
    }
    decompose_compatible(c, |d| {
        for lower in d.to_lowercase() {
            if lower.is_alphanumeric() {
                out.push(lower);
            } else if !is_combining_mark(lower) {
                // A separator inside a decomposition (`½` → `1⁄2`) ends the word there;
                // a diacritic is dropped.
                out.push(' ');
            }
        }
    });
    if out.is_empty() {
        Folded::Nothing
    } else if out.chars().any(char::is_alphanumeric) {
        Folded::Word
    } else {
        Folded::Separator
    }
}

/// The tokens of `text`, in order.
pub fn tokens(text: &str) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut word = String::new();
    let mut word_start = 0;
    let mut unspaced: Vec<(char, usize)> = Vec::new();
    let mut scratch = String::new();
    for (index, c) in text.chars().enumerate() {
        scratch.clear();
        match fold(c, &mut scratch) {
            Folded::Nothing => {}
            Folded::Unspaced(u) => {
                end_word(&mut tokens, &mut word, word_start, index);
                unspaced.push((u, index));
            }
            Folded::Separator => {
                end_word(&mut tokens, &mut word, word_start, index);
                end_unspaced(&mut tokens, &mut unspaced);
            }
            Folded::Word => {
                end_unspaced(&mut tokens, &mut unspaced);
                for (i, piece) in scratch.split(' ').enumerate() {
                    if i > 0 {
                        end_word(&mut tokens, &mut word, word_start, index + 1);
                    }
                    if !piece.is_empty() {
                        if word.is_empty() {
                            word_start = index;
                        }
                        word.push_str(piece);
                    }
                }
            }
        }
    }
    let length = text.chars().count();
    end_word(&mut tokens, &mut word, word_start, length);
    end_unspaced(&mut tokens, &mut unspaced);
    tokens
}

/// The words of `text` the index holds, in order: its tokens, at most
/// [`MAX_INDEXED_WORDS`] and [`MAX_INDEXED_BYTES`].
pub fn indexed_words(text: &str) -> Vec<String> {
    let mut bytes = 0;
    tokens(text)
        .into_iter()
        .map(|t| t.text)
        .take(MAX_INDEXED_WORDS)
        .take_while(|word| {
            bytes += word.len();
            bytes <= MAX_INDEXED_BYTES
        })
        .collect()
}

fn end_word(tokens: &mut Vec<Token>, word: &mut String, start: usize, end: usize) {
    if word.is_empty() {
        return;
    }
    let mut text = std::mem::take(word);
    if let Some((cut, _)) = text.char_indices().nth(MAX_TOKEN_CHARS) {
        text.truncate(cut);
    }
    tokens.push(Token { text, start, end });
}

fn end_unspaced(tokens: &mut Vec<Token>, run: &mut Vec<(char, usize)>) {
    match run.as_slice() {
        [] => {}
        [(c, index)] => tokens.push(Token {
            text: c.to_string(),
            start: *index,
            end: index + 1,
        }),
        pairs => {
            for pair in pairs.windows(2) {
                let (a, start) = pair[0];
                let (b, last) = pair[1];
                tokens.push(Token {
                    text: [a, b].iter().collect(),
                    start,
                    end: last + 1,
                });
            }
        }
    }
    run.clear();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(text: &str) -> Vec<String> {
        tokens(text).into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn words_are_folded_runs_of_letters_and_digits() {
        assert_eq!(words("Café, NAÏVE façade!"), ["cafe", "naive", "facade"]);
        assert_eq!(
            words("snake_case src/main.rs v2"),
            ["snake", "case", "src", "main", "rs", "v2"]
        );
        assert_eq!(words("ｃａｆｅ ﬁne"), ["cafe", "fine"]);
        assert_eq!(words("½"), ["1", "2"]);
        assert_eq!(words("Cafe\u{301}s e\u{301}te\u{301}"), ["cafes", "ete"]);
        assert_eq!(words("ｶﾞ・カ"), ["カ", "カ"]); // a half-width dakuten is dropped
        assert_eq!(words("  ...  "), Vec::<String>::new());
    }

    #[test]
    fn unspaced_scripts_become_pairs() {
        assert_eq!(words("東京都"), ["東京", "京都"]);
        assert_eq!(words("私"), ["私"]);
        assert_eq!(
            words("Tokyo東京タワー!"),
            ["tokyo", "東京", "京タ", "タワ", "ワー"]
        );
        assert_eq!(words("ｶﾀｶﾅ"), ["カタ", "タカ", "カナ"]);
        assert_eq!(words("がき かき"), ["がき", "かき"]);
    }

    #[test]
    fn offsets_point_into_the_original() {
        let text = "Ünïcode 東京都 end";
        let chars: Vec<char> = text.chars().collect();
        for token in tokens(text) {
            let original: String = chars[token.start..token.end].iter().collect();
            assert_eq!(words(&original).first(), Some(&token.text), "{token:?}");
        }
    }

    #[test]
    fn long_words_are_cut() {
        let long = "a".repeat(300);
        assert_eq!(tokens(&long)[0].text.chars().count(), MAX_TOKEN_CHARS);
        assert_eq!(tokens(&long)[0].end, 300);
    }
}
