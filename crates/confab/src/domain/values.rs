//! Small value types that can only hold valid data.

use serde::{Deserialize, Serialize};
use std::fmt;

use super::normalize;

/// Why an input value was refused; the text is shown to API clients as is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ValueError(pub String);

fn refuse(message: impl Into<String>) -> ValueError {
    ValueError(message.into())
}

/// Text columns are stored the same way on every backend; PostgreSQL cannot hold NUL,
/// so NUL is refused everywhere rather than accepted on one backend only.
fn check_text(field: &str, value: &str, max_bytes: usize) -> Result<(), ValueError> {
    if value.contains('\0') {
        return Err(refuse(format!("{field} must not contain NUL characters")));
    }
    if value.len() > max_bytes {
        return Err(refuse(format!("{field} must be at most {max_bytes} bytes")));
    }
    Ok(())
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Actor {
    User,
    Assistant,
    System,
}

impl Actor {
    pub fn as_str(self) -> &'static str {
        match self {
            Actor::User => "user",
            Actor::Assistant => "assistant",
            Actor::System => "system",
        }
    }

    pub fn parse(value: &str) -> Result<Self, ValueError> {
        match value {
            "user" => Ok(Actor::User),
            "assistant" => Ok(Actor::Assistant),
            "system" => Ok(Actor::System),
            other => Err(refuse(format!(
                "unknown actor {other:?}: expected \"user\", \"assistant\" or \"system\""
            ))),
        }
    }
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A chat's display name: 1 to 255 characters after trimming.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatName(String);

impl ChatName {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Err(refuse("name must not be empty"));
        }
        if trimmed.chars().count() > Self::MAX_CHARS {
            return Err(refuse(format!(
                "name must be at most {} characters",
                Self::MAX_CHARS
            )));
        }
        check_text("name", trimmed, Self::MAX_CHARS * 4)?;
        Ok(ChatName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The model a chat talks to; may be empty, at most 255 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ModelName(String);

impl ModelName {
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        let trimmed = value.trim();
        if trimmed.chars().count() > 255 {
            return Err(refuse("model must be at most 255 characters"));
        }
        check_text("model", trimmed, 255 * 4)?;
        Ok(ModelName(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of a message: non-empty, no NUL, at most the configured size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageText(String);

impl MessageText {
    pub fn parse(value: String, max_bytes: usize) -> Result<Self, ValueError> {
        if value.is_empty() {
            return Err(refuse("message must not be empty"));
        }
        check_text("message", &value, max_bytes)?;
        Ok(MessageText(value))
    }

    /// A generated reply's text: whatever the provider sent (NUL characters removed,
    /// which PostgreSQL's text cannot hold), empty while it starts.
    pub fn generated(mut value: String) -> Self {
        value.retain(|c| c != '\0');
        MessageText(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// An email address as given (trimmed, in NFKC, invisible characters removed);
/// compared in its folded form (see [`super::normalize`]), so look-alike spellings name
/// one account.
#[derive(Clone, PartialEq, Eq)]
pub struct Email {
    display: String,
    normalized: String,
}

impl Email {
    pub fn parse(value: &str) -> Result<Self, ValueError> {
        // Checked after normalising: `＠` and `．` only become `@` and `.` under NFKC.
        let visible = normalize::visible_nfkc(value);
        let trimmed = visible.trim();
        let invalid = || refuse("email must be a valid address like name@example.com");
        if trimmed.len() > 254 || trimmed.chars().any(|c| c.is_whitespace() || c == '\0') {
            return Err(invalid());
        }
        let (local, domain) = trimmed.split_once('@').ok_or_else(invalid)?;
        if local.is_empty()
            || domain.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
        {
            return Err(invalid());
        }
        Ok(Email {
            normalized: normalize::fold(trimmed),
            display: trimmed.to_owned(),
        })
    }

    /// The address as the user typed it.
    pub fn as_str(&self) -> &str {
        &self.display
    }

    /// The folded form (NFKC, no invisible characters, lower case) that uniqueness and
    /// login use.
    pub fn normalized(&self) -> &str {
        &self.normalized
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display)
    }
}

/// A password as typed; never printed.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_BYTES: usize = 1024;

    /// For new passwords: enforces the length rules and refuses passwords with nothing
    /// visible in them (only whitespace or invisible characters).
    pub fn parse_new(value: &str) -> Result<Self, ValueError> {
        if normalize::is_blank(value) {
            return Err(refuse("password must not be only whitespace"));
        }
        if value.chars().count() < Self::MIN_CHARS {
            return Err(refuse(format!(
                "password must be at least {} characters",
                Self::MIN_CHARS
            )));
        }
        Self::parse_existing(value)
    }

    /// For login: any password within the size limit may be tried.
    pub fn parse_existing(value: &str) -> Result<Self, ValueError> {
        if value.len() > Self::MAX_BYTES {
            return Err(refuse(format!(
                "password must be at most {} bytes",
                Self::MAX_BYTES
            )));
        }
        Ok(Password(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_names_are_trimmed_and_non_empty() {
        assert_eq!(ChatName::parse("  hi ").map(|n| n.0), Ok("hi".into()));
        assert!(ChatName::parse("   ").is_err());
        assert!(ChatName::parse("").is_err());
        assert!(ChatName::parse("a\0b").is_err());
        assert!(ChatName::parse(&"x".repeat(256)).is_err());
        assert!(ChatName::parse(&"é".repeat(255)).is_ok());
    }

    #[test]
    fn emails_normalise_case_and_refuse_garbage() {
        let email = Email::parse(" Ann@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "Ann@Example.COM");
        assert_eq!(email.normalized(), "ann@example.com");
        let wide =
            Email::parse("ＡＮＮ＠ｅｘａｍｐｌｅ．ｃｏｍ\u{200B}").expect("valid under NFKC");
        assert_eq!(wide.as_str(), "ANN@example.com");
        assert_eq!(wide.normalized(), "ann@example.com");
        for bad in [
            "", "ann", "ann@", "@x.io", "a@b@c.io", "a b@c.io", "a@nodot", "a@.io",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} should be refused");
        }
    }

    #[test]
    fn messages_refuse_empty_and_nul_but_keep_emoji() {
        assert!(MessageText::parse(String::new(), 100).is_err());
        assert!(MessageText::parse("a\0".into(), 100).is_err());
        assert!(MessageText::parse("x".repeat(101), 100).is_err());
        let emoji = MessageText::parse("héllo 👋🏽".into(), 100).expect("valid");
        assert_eq!(emoji.as_str(), "héllo 👋🏽");
    }

    #[test]
    fn actors_parse_only_known_names() {
        assert_eq!(Actor::parse("assistant"), Ok(Actor::Assistant));
        assert!(Actor::parse("Assistant").is_err());
        assert!(Actor::parse("robot").is_err());
    }

    #[test]
    fn passwords_have_a_minimum_length_and_hide_in_debug() {
        assert!(Password::parse_new("short").is_err());
        assert!(Password::parse_new("          ").is_err());
        assert!(Password::parse_new("\t\u{3000}\u{200B}        ").is_err());
        let pw = Password::parse_new("long enough").expect("valid");
        assert_eq!(format!("{pw:?}"), "Password(<redacted>)");
    }
}
