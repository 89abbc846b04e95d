//! The first pass's view of a conversation: which keys tell its format, read through
//! the same checks the second pass's parse applies, keeping nothing.

use serde::de::{MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

use super::reader::ReadError;

/// The visitor methods of JSON scalars, each read (and checked by the parser) and
/// answered with `$value`: a scalar tells nothing of a conversation's format.
macro_rules! accept_scalars {
    ($value:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok($value)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok($value)
        }
    };
}
use super::ImportFormat;

/// What the first pass looks at in each conversation: which of the keys that tell the
/// formats apart it has (everything else is parsed and dropped). Any JSON value reads
/// as a probe: one that is not an object has none of the keys (the second pass reports
/// it as that conversation's error).
#[derive(Default)]
pub(super) struct Probe {
    mapping: bool,
    current_node: bool,
    chat: bool,
    history: bool,
    messages: bool,
}

impl<'de> Deserialize<'de> for Probe {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ProbeVisitor)
    }
}

struct ProbeVisitor;

impl<'de> Visitor<'de> for ProbeVisitor {
    type Value = Probe;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a conversation")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Probe, A::Error> {
        CheckedVisitor
            .visit_seq(seq)
            .map(|Checked| Probe::default())
    }

    accept_scalars!(Probe::default());

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Probe, A::Error> {
        let mut probe = Probe::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            map.next_value::<Checked>()?;
            match key.as_ref() {
                "mapping" => probe.mapping = true,
                "current_node" => probe.current_node = true,
                "chat" => probe.chat = true,
                "history" => probe.history = true,
                "messages" => probe.messages = true,
                _ => {}
            }
        }
        Ok(probe)
    }
}

/// What the first pass saw: conversations, and how many looked like the format.
#[derive(Default)]
pub(super) struct Probed {
    conversations: u64,
    matching: u64,
}

impl Probed {
    pub(super) fn note(&mut self, probe: &Probe, format: ImportFormat) {
        self.conversations += 1;
        let matches = match format {
            ImportFormat::ChatGpt => probe.mapping || probe.current_node,
            // A chat wraps its `history` or flat `messages` in `chat`, or is the inner
            // object itself; a confab line has `chat` and `messages` side by side.
            ImportFormat::OpenWebUi => probe.history || (probe.chat != probe.messages),
            ImportFormat::Confab => probe.chat && probe.messages,
        };
        self.matching += u64::from(matches);
    }

    /// A file none of whose conversations has its format's keys was sent with the
    /// wrong `format` (one corrupt conversation among good ones is reported alone).
    pub(super) fn check(&self, format: ImportFormat) -> Result<(), ReadError> {
        if self.conversations > 0 && self.matching == 0 {
            let keys = match format {
                ImportFormat::ChatGpt => "`mapping` or `current_node`",
                ImportFormat::OpenWebUi => "`chat` or `history`",
                ImportFormat::Confab => "`chat` and `messages`",
            };
            return Err(ReadError::WrongFormat(format!(
                "this is not a {} export: no conversation in it has {keys}",
                format.as_str()
            )));
        }
        Ok(())
    }
}

/// Any JSON value, read and dropped through the same checks as a parse that keeps it
/// (nesting depth, strings' UTF-8 and escapes, numbers' range), unlike `IgnoredAny`: a
/// file the first pass accepts, the second pass reads.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }

    accept_scalars!(Checked);

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
}
