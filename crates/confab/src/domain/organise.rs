//! How a user organises chats (SPEC §9): tags, the archived filter, a chat's changes.

use super::values::{ChatName, ValueError};

/// A chat's tags: at most [`Tags::MAX_COUNT`], each 1 to [`Tags::MAX_CHARS`] characters
/// after trimming, no control characters, each once (the first spelling kept, in the
/// order given). Tags compare exactly: `Work` and `work` are two tags.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    pub const MAX_COUNT: usize = 20;
    pub const MAX_CHARS: usize = 64;

    pub fn parse(values: &[String]) -> Result<Self, ValueError> {
        if values.len() > Self::MAX_COUNT {
            return Err(ValueError(format!(
                "tags holds at most {} tags",
                Self::MAX_COUNT
            )));
        }
        let mut tags: Vec<String> = Vec::with_capacity(values.len());
        for value in values {
            let tag = Self::parse_one(value)?;
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
        Ok(Tags(tags))
    }

    /// One tag, as a filter names it.
    pub fn parse_one(value: &str) -> Result<String, ValueError> {
        let tag = value.trim();
        let chars = tag.chars().count();
        if chars == 0 || chars > Self::MAX_CHARS {
            return Err(ValueError(format!(
                "each tag must be 1 to {} characters",
                Self::MAX_CHARS
            )));
        }
        if tag.chars().any(char::is_control) {
            return Err(ValueError(
                "tags must not contain control characters".into(),
            ));
        }
        Ok(tag.to_owned())
    }

    /// As stored: a JSON array of strings.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(&self.0).unwrap_or_else(|_| "[]".into())
    }

    /// From the stored JSON; `None` when it is not an array of strings.
    pub fn from_stored(text: &str) -> Option<Self> {
        serde_json::from_str::<Vec<String>>(text).ok().map(Tags)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// Which chats a list shows by their `archived` flag (`?archived=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ArchivedFilter {
    /// Only chats that are not archived (no parameter, or `false`).
    #[default]
    Hidden,
    /// Only archived chats (`true`).
    Only,
    /// Every chat (`all`).
    All,
}

impl ArchivedFilter {
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        match value {
            "false" => Ok(ArchivedFilter::Hidden),
            "true" => Ok(ArchivedFilter::Only),
            "all" => Ok(ArchivedFilter::All),
            _ => Err(ValueError(
                "archived must be \"true\", \"false\" or \"all\"".into(),
            )),
        }
    }

    /// The SQL condition on the `archived` column (fixed text, nothing bound).
    pub fn condition(self) -> &'static str {
        match self {
            ArchivedFilter::Hidden => " AND archived = 0",
            ArchivedFilter::Only => " AND archived = 1",
            ArchivedFilter::All => "",
        }
    }
}

/// Which of a user's or tenant's chats a list shows.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatFilter {
    pub archived: ArchivedFilter,
    /// Only chats with this tag.
    pub tag: Option<String>,
}

/// A change to a chat's name and organisation (`PATCH`): `None` leaves a field alone.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ChatChanges {
    pub name: Option<ChatName>,
    pub archived: Option<bool>,
    pub pinned: Option<bool>,
    pub tags: Option<Tags>,
}

impl ChatChanges {
    pub fn is_empty(&self) -> bool {
        self.name.is_none()
            && self.archived.is_none()
            && self.pinned.is_none()
            && self.tags.is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn tags_are_trimmed_deduplicated_and_bounded() {
        let tags = Tags::parse(&strings(&[" work ", "work", "Work", "ünï"])).ok();
        assert_eq!(
            tags.as_ref().map(Tags::as_slice),
            Some(&strings(&["work", "Work", "ünï"])[..])
        );
        assert!(Tags::parse(&strings(&[""])).is_err());
        assert!(Tags::parse(&strings(&["   "])).is_err());
        assert!(Tags::parse(&strings(&[&"x".repeat(65)])).is_err());
        assert!(Tags::parse(&strings(&[&"é".repeat(64)])).is_ok());
        assert!(Tags::parse(&strings(&["a\nb"])).is_err());
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        assert!(Tags::parse(&many).is_err());
        assert!(Tags::parse(&many[..20]).is_ok());
    }

    #[test]
    fn tags_round_trip_through_storage() {
        let tags = Tags::parse(&strings(&["a\"b", "c,d"])).unwrap_or_default();
        assert_eq!(Tags::from_stored(&tags.to_stored()), Some(tags));
        assert_eq!(Tags::from_stored("{}"), None);
    }

    #[test]
    fn archived_filters_parse() {
        assert_eq!(ArchivedFilter::parse("all").ok(), Some(ArchivedFilter::All));
        assert_eq!(
            ArchivedFilter::parse("true").ok(),
            Some(ArchivedFilter::Only)
        );
        assert_eq!(
            ArchivedFilter::parse("false").ok(),
            Some(ArchivedFilter::Hidden)
        );
        assert!(ArchivedFilter::parse("yes").is_err());
    }
}
