//! Scenario 9's text: a deterministic corpus of chat messages in English-like prose
//! (a generated vocabulary drawn Zipf-like), with code blocks and Chinese/Japanese
//! sentences mixed in, and the search queries that run against it.

/// Words of the vocabulary, most frequent first.
const VOCABULARY: usize = 4_000;
/// Zipf exponent of word frequencies.
const ZIPF: f64 = 1.0;
/// The band of ranks two-word queries draw from.
pub const MIDDLE_BAND: std::ops::Range<usize> = 100..2_000;
/// Distinct CJK characters used.
const CJK_CHARACTERS: usize = 300;

/// Real English words for the most frequent ranks; the rest of the vocabulary is generated.
const COMMON: &str = "the of and to a in is it you that he was for on are with as i his they \
    be at one have this from or had by not word but what some we can out other were all there \
    when up use your how said an each she which do their time if will way about many then them \
    write would like so these her long make thing see him two has look more day could go come \
    did number sound no most people my over know water than call first who may down side been \
    now find any new work part take get place made live where after back little only round man \
    year came show every good me give our under name very through just form sentence great think \
    say help low line differ turn cause much mean before move right boy old too same tell does \
    set three want air well also play small end put home read hand port large spell add even \
    land here must big high such follow act why ask men change went light kind off need house \
    picture try us again animal point mother world near build self earth father head stand own \
    page should country found answer school grow study still learn plant cover food sun four \
    between state keep eye never last let thought city tree cross farm hard start might story saw";

const ONSETS: [&str; 24] = [
    "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z", "br",
    "ch", "st", "tr", "pl", "gr",
];
const NUCLEI: [&str; 8] = ["a", "e", "i", "o", "u", "ea", "ou", "ai"];
const CODAS: [&str; 8] = ["", "", "n", "r", "s", "t", "l", "nd"];

/// SplitMix64: small, fast and deterministic.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `range` (which must not be empty).
    pub fn below(&mut self, range: std::ops::Range<usize>) -> usize {
        let span = (range.end - range.start).max(1) as u64;
        range.start + (self.next_u64() % span) as usize
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn chance(&mut self, probability: f64) -> bool {
        self.unit() < probability
    }
}

/// One generated message.
pub struct Message {
    pub text: String,
    pub role: &'static str,
    /// The English sentences of the text, as vocabulary ranks (for phrase queries).
    pub sentences: Vec<Vec<usize>>,
}

/// The vocabulary and the tables to draw from it.
pub struct Corpus {
    pub words: Vec<String>,
    cumulative: Vec<f64>,
    cjk: Vec<char>,
    seed: u64,
}

impl Corpus {
    pub fn new(seed: u64) -> Self {
        let mut words: Vec<String> = Vec::with_capacity(VOCABULARY);
        let mut seen = std::collections::HashSet::new();
        for word in COMMON.split_whitespace() {
            if seen.insert(word.to_owned()) {
                words.push(word.to_owned());
            }
        }
        let mut rng = Rng::new(seed ^ 0x766F_6361_6275_6C61);
        while words.len() < VOCABULARY {
            let syllables = match rng.below(0..10) {
                0..=2 => 1,
                3..=7 => 2,
                _ => 3,
            };
            let mut word = String::new();
            for _ in 0..syllables {
                word.push_str(ONSETS[rng.below(0..ONSETS.len())]);
                word.push_str(NUCLEI[rng.below(0..NUCLEI.len())]);
                word.push_str(CODAS[rng.below(0..CODAS.len())]);
            }
            if word.len() >= 3 && seen.insert(word.clone()) {
                words.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (0..VOCABULARY)
            .map(|rank| {
                total += 1.0 / ((rank + 1) as f64).powf(ZIPF);
                total
            })
            .collect();
        // Hiragana, then common-range Han characters spread over the block.
        let mut cjk: Vec<char> = ('\u{3041}'..='\u{3093}').collect();
        let mut code = 0x4E00u32;
        while cjk.len() < CJK_CHARACTERS {
            if let Some(c) = char::from_u32(code) {
                cjk.push(c);
            }
            code += 37;
        }
        Corpus {
            words,
            cumulative,
            cjk,
            seed,
        }
    }

    /// A rank drawn Zipf-like.
    fn draw(&self, rng: &mut Rng) -> usize {
        let total = self.cumulative.last().copied().unwrap_or(1.0);
        let target = rng.unit() * total;
        self.cumulative
            .partition_point(|&c| c < target)
            .min(VOCABULARY - 1)
    }

    fn sentence_ranks(&self, rng: &mut Rng) -> Vec<usize> {
        let length = rng.below(5..31);
        (0..length).map(|_| self.draw(rng)).collect()
    }

    fn render_sentence(&self, ranks: &[usize], rng: &mut Rng, out: &mut String) {
        for (i, &rank) in ranks.iter().enumerate() {
            let word = &self.words[rank];
            if i == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                if i > 3 && i + 2 < ranks.len() && rng.chance(0.06) {
                    out.push(',');
                }
                out.push(' ');
                out.push_str(word);
            }
        }
        out.push(match rng.below(0..10) {
            0 => '?',
            1 => '!',
            _ => '.',
        });
    }

    fn cjk_sentence(&self, rng: &mut Rng, out: &mut String) {
        let japanese = rng.chance(0.5);
        let length = rng.below(8..31);
        for _ in 0..length {
            // Zipf-like over the characters too; Chinese sentences use Han only.
            let skip = if japanese { 0 } else { 83 };
            let span = self.cjk.len() - skip;
            let index = skip + ((rng.unit().powi(2)) * span as f64) as usize;
            out.push(self.cjk[index.min(self.cjk.len() - 1)]);
        }
        out.push('。');
    }

    fn identifier(&self, rng: &mut Rng, camel: bool) -> String {
        let parts = 2 + rng.below(0..2);
        let mut name = String::new();
        for i in 0..parts {
            let word = &self.words[rng.below(100..VOCABULARY)];
            if i > 0 && camel {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    name.extend(first.to_uppercase());
                    name.push_str(chars.as_str());
                }
            } else {
                if i > 0 {
                    name.push('_');
                }
                name.push_str(word);
            }
        }
        name
    }

    fn code_block(&self, rng: &mut Rng, out: &mut String) {
        let (a, b, c) = (
            self.identifier(rng, false),
            self.identifier(rng, false),
            self.identifier(rng, true),
        );
        let n = rng.below(2..100);
        let block = match rng.below(0..3) {
            0 => format!(
                "```rust\nfn {a}(items: &[u32]) -> Option<u32> {{\n    let {b} = items.iter().filter(|x| **x > {n}).count();\n    Some({b} as u32)\n}}\n```"
            ),
            1 => format!(
                "```python\ndef {a}(rows):\n    {b} = [r for r in rows if r > {n}]\n    return len({b})\n```"
            ),
            _ => format!(
                "```ts\nexport function {c}(items: number[]): number {{\n  const {b} = items.filter((x) => x > {n});\n  return {b}.length;\n}}\n```"
            ),
        };
        out.push_str(&block);
    }

    /// The messages of chat `chat`, always the same for the same seed.
    pub fn chat_messages(&self, chat: usize, count: usize) -> Vec<Message> {
        let mut rng = Rng::new(self.seed ^ (chat as u64).wrapping_mul(0xA24B_AED4_963E_E407));
        (0..count)
            .map(|i| {
                let role = if i % 2 == 0 { "user" } else { "assistant" };
                let mut text = String::new();
                let mut sentences = Vec::new();
                for s in 0..rng.below(1..7) {
                    if s > 0 {
                        text.push(' ');
                    }
                    let ranks = self.sentence_ranks(&mut rng);
                    self.render_sentence(&ranks, &mut rng, &mut text);
                    sentences.push(ranks);
                }
                if rng.chance(0.05) {
                    for _ in 0..rng.below(1..3) {
                        text.push(' ');
                        self.cjk_sentence(&mut rng, &mut text);
                    }
                }
                if rng.chance(0.10) {
                    text.push_str("\n\n");
                    self.code_block(&mut rng, &mut text);
                }
                Message {
                    text,
                    role,
                    sentences,
                }
            })
            .collect()
    }

    /// A chat's name: two to four words.
    pub fn chat_name(&self, chat: usize) -> String {
        let mut rng = Rng::new(self.seed ^ 0x6E61_6D65 ^ (chat as u64).wrapping_mul(31));
        let count = rng.below(2..5);
        let words: Vec<&str> = (0..count)
            .map(|_| self.words[self.draw(&mut rng)].as_str())
            .collect();
        words.join(" ")
    }

    /// `count` queries of two words from the middle frequency band.
    pub fn two_word_queries(&self, count: usize, rng: &mut Rng) -> Vec<String> {
        (0..count)
            .map(|_| {
                let a = rng.below(MIDDLE_BAND);
                let mut b = rng.below(MIDDLE_BAND);
                if a == b {
                    b = MIDDLE_BAND.start + (b + 1 - MIDDLE_BAND.start) % MIDDLE_BAND.len();
                }
                format!("{} {}", self.words[a], self.words[b])
            })
            .collect()
    }

    /// `count` phrases of 2–3 consecutive words, each from a message of one of `chats`.
    pub fn phrase_queries(
        &self,
        count: usize,
        chats: std::ops::Range<usize>,
        per_chat: usize,
        rng: &mut Rng,
    ) -> Vec<String> {
        let mut queries = Vec::with_capacity(count);
        while queries.len() < count {
            let messages = self.chat_messages(rng.below(chats.clone()), per_chat);
            for _ in 0..10 {
                let message = &messages[rng.below(0..messages.len())];
                let sentence = &message.sentences[rng.below(0..message.sentences.len())];
                let length = rng.below(2..4);
                let start = rng.below(0..sentence.len() + 1 - length);
                let words: Vec<&str> = sentence[start..start + length]
                    .iter()
                    .map(|&rank| self.words[rank].as_str())
                    .collect();
                queries.push(format!("\"{}\"", words.join(" ")));
            }
        }
        queries.truncate(count);
        queries
    }

    /// `count` prefix queries: the first 3–5 letters of a vocabulary word, then `*`.
    pub fn prefix_queries(&self, count: usize, rng: &mut Rng) -> Vec<String> {
        let mut queries = Vec::with_capacity(count);
        while queries.len() < count {
            let word = &self.words[rng.below(MIDDLE_BAND)];
            let length = rng.below(3..6);
            if word.len() > length {
                queries.push(format!("{}*", &word[..length]));
            }
        }
        queries
    }
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3);
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_shaped() {
        let corpus = Corpus::new(7);
        assert_eq!(corpus.words.len(), VOCABULARY);
        let a = corpus.chat_messages(3, 100);
        let b = Corpus::new(7).chat_messages(3, 100);
        assert!(a.iter().zip(&b).all(|(x, y)| x.text == y.text));
        let all: Vec<Message> = (0..100)
            .flat_map(|c| corpus.chat_messages(c, 100))
            .collect();
        let code = all.iter().filter(|m| m.text.contains("```")).count();
        let cjk = all.iter().filter(|m| m.text.contains('。')).count();
        assert!((800..1200).contains(&code), "{code} code blocks");
        assert!((350..650).contains(&cjk), "{cjk} CJK messages");
        let mut rng = Rng::new(1);
        assert!(corpus
            .phrase_queries(20, 0..5, 100, &mut rng)
            .iter()
            .all(|q| q.starts_with('"')));
        assert_eq!(encode("\"a b\" c*"), "%22a%20b%22%20c%2A");
    }
}
