//! A tenant chat's `metadata`: a JSON object kept byte for byte as the client sent it.
//!
//! Parsing it into a `serde_json::Value` would round numbers to `f64`
//! (`123456789012345678901234567890` became `1.2345678901234568e+29`) and silently keep
//! the last of duplicate keys, so it is validated and kept as raw text instead: an
//! object, at most [`MAX_METADATA_BYTES`], nested at most [`MAX_METADATA_DEPTH`] deep,
//! with no key twice in any object (keys compared after unescaping, so `"a"` and
//! `"\u0061"` are the same key).

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::fmt;

/// The largest `metadata`, in bytes of JSON as sent.
pub const MAX_METADATA_BYTES: usize = 16 * 1024;
/// The deepest nesting of objects and arrays (the outer object is level 1).
pub const MAX_METADATA_DEPTH: usize = 32;

/// Validated metadata: a JSON object, as its client wrote it.
#[derive(Clone)]
pub struct Metadata(Box<RawValue>);

/// Why metadata was refused (the message is shown to the client).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataError(pub String);

impl Metadata {
    /// Validates raw JSON taken from a request body.
    pub fn from_raw(raw: Box<RawValue>) -> Result<Metadata, MetadataError> {
        validate(&raw)?;
        Ok(Metadata(raw))
    }

    /// Validates JSON text (tools and tests).
    pub fn parse(text: &str) -> Result<Metadata, MetadataError> {
        let raw = RawValue::from_string(text.trim().to_owned())
            .map_err(|e| MetadataError(format!("metadata is not valid JSON: {e}")))?;
        Self::from_raw(raw)
    }

    /// Text read back from the database, validated when it was written; checked for
    /// JSON syntax only (a corrupt row fails rather than producing broken output).
    pub fn from_stored(text: String) -> Result<Metadata, serde_json::Error> {
        RawValue::from_string(text).map(Metadata)
    }

    pub fn as_str(&self) -> &str {
        self.0.get()
    }
}

impl PartialEq for Metadata {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Metadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Metadata {
    /// Written into the response as the exact bytes given.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

fn validate(raw: &RawValue) -> Result<(), MetadataError> {
    if raw.get().len() > MAX_METADATA_BYTES {
        return Err(MetadataError(format!(
            "metadata must be at most {MAX_METADATA_BYTES} bytes of JSON"
        )));
    }
    if !raw.get().starts_with('{') {
        return Err(MetadataError("metadata must be a JSON object".to_owned()));
    }
    check(raw, 1)
}

/// Checks one value at nesting level `depth`: its objects' keys are unique, and nothing
/// nests deeper than the limit. Each level re-reads only its own subtree, so the work is
/// at most size × depth (16 KiB × 32).
fn check(raw: &RawValue, depth: usize) -> Result<(), MetadataError> {
    let text = raw.get();
    let children: Vec<&RawValue> = match text.as_bytes().first() {
        Some(b'{') => {
            let Entries(children) = serde_json::from_str(text)
                .map_err(|e| MetadataError(format!("metadata is not a valid JSON object: {e}")))?;
            children
        }
        Some(b'[') => serde_json::from_str(text)
            .map_err(|e| MetadataError(format!("metadata is not valid JSON: {e}")))?,
        _ => return Ok(()),
    };
    if depth > MAX_METADATA_DEPTH {
        return Err(MetadataError(format!(
            "metadata must nest at most {MAX_METADATA_DEPTH} levels deep"
        )));
    }
    children
        .into_iter()
        .try_for_each(|child| check(child, depth + 1))
}

/// An object's values, read once its keys proved unique.
struct Entries<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> Deserialize<'de> for Entries<'a> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

struct EntriesVisitor<'a>(std::marker::PhantomData<&'a ()>);

impl<'de: 'a, 'a> Visitor<'de> for EntriesVisitor<'a> {
    type Value = Entries<'a>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'a>, A::Error> {
        let mut keys = HashSet::new();
        let mut values = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if !keys.insert(key) {
                return Err(serde::de::Error::custom("duplicate key in metadata"));
            }
            values.push(map.next_value::<&'a RawValue>()?);
        }
        Ok(Entries(values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_byte_for_byte() {
        for text in [
            r#"{"big": 123456789012345678901234567890}"#,
            r#"{"f":1.10,"e":1E400 ,"s":"\u00e9", "nested":{"a":[1,{"b":null}]}}"#,
            "{}",
        ] {
            assert_eq!(
                Metadata::parse(text).map(|m| m.as_str().to_owned()),
                Ok(text.to_owned())
            );
        }
    }

    #[test]
    fn duplicate_keys_are_refused_at_every_level() {
        for text in [
            r#"{"a": 1, "a": 2}"#,
            r#"{"x": {"a": 1, "a": 2}}"#,
            r#"{"x": [{"a": 1, "\u0061": 2}]}"#,
            r#"{"x": [[{"k": {"a": 1, "a": 1}}]]}"#,
        ] {
            assert!(Metadata::parse(text).is_err(), "{text}");
        }
        assert!(Metadata::parse(r#"{"x": {"a": 1}, "y": {"a": 1}}"#).is_ok());
    }

    #[test]
    fn shape_size_and_depth() {
        for text in ["[1]", "\"text\"", "1", "null", "{", r#"{"a":}"#] {
            assert!(Metadata::parse(text).is_err(), "{text}");
        }
        let deep = |levels: usize| format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels));
        assert!(Metadata::parse(&deep(MAX_METADATA_DEPTH)).is_ok());
        assert!(Metadata::parse(&deep(MAX_METADATA_DEPTH + 1)).is_err());
        let arrays = format!(
            "{{\"a\":{}1{}}}",
            "[".repeat(MAX_METADATA_DEPTH),
            "]".repeat(MAX_METADATA_DEPTH)
        );
        assert!(Metadata::parse(&arrays).is_err());
        let big = format!("{{\"k\":\"{}\"}}", "x".repeat(MAX_METADATA_BYTES));
        assert!(Metadata::parse(&big).is_err());
    }
}
