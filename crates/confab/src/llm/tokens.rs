//! The history sent with a request, fitted to the context budget: tokens counted with
//! OpenAI's `o200k_base` encoding (exact for OpenAI's current models, close for others),
//! the oldest messages left out first.

use std::sync::OnceLock;
use tiktoken_rs::CoreBPE;

/// Tokens each message costs beside its text (role and separators), as OpenAI counts.
const PER_MESSAGE: usize = 4;

fn encoding() -> Option<&'static CoreBPE> {
    static ENCODING: OnceLock<Option<CoreBPE>> = OnceLock::new();
    ENCODING
        .get_or_init(|| match tiktoken_rs::o200k_base() {
            Ok(encoding) => Some(encoding),
            Err(error) => {
                tracing::error!("the token encoding did not load ({error}); counting bytes / 4");
                None
            }
        })
        .as_ref()
}

/// Loads the encoding now (a fraction of a second), so the first reply does not wait.
pub fn warm_up() {
    encoding();
}

/// A text's tokens.
pub fn count(text: &str) -> usize {
    match encoding() {
        Some(encoding) => encoding.encode_ordinary(text).len(),
        None => text.len().div_ceil(4),
    }
}

/// How many of the oldest `texts` to leave out so that the rest, plus `fixed` tokens (the
/// system prompt), fit `budget`. The newest message is always kept (a provider with a
/// smaller window then refuses it, which the reply reports).
pub fn oldest_to_drop(texts: &[&str], fixed: usize, budget: usize) -> usize {
    let mut total = fixed;
    let mut kept = 0;
    for text in texts.iter().rev() {
        let cost = count(text) + PER_MESSAGE;
        if kept > 0 && total + cost > budget {
            break;
        }
        total += cost;
        kept += 1;
    }
    texts.len() - kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_with_a_real_tokenizer() {
        assert_eq!(count("hello world"), 2);
        assert!(count("Grüße aus Köln, 東京") > 4);
    }

    #[test]
    fn the_oldest_go_first_and_the_newest_stays() {
        let texts = ["one two three four five six", "seven", "eight nine"];
        assert_eq!(oldest_to_drop(&texts, 0, 1000), 0);
        let newest_two = count("seven") + count("eight nine") + 2 * PER_MESSAGE;
        assert_eq!(oldest_to_drop(&texts, 0, newest_two), 1);
        assert_eq!(oldest_to_drop(&texts, 0, newest_two - 1), 2);
        assert_eq!(
            oldest_to_drop(&texts, 10_000, 1),
            2,
            "the newest is always sent"
        );
    }
}
