//! confab's own export, read back: one chat per NDJSON line,
//! `{"chat": {…}, "source_id": …, "messages": [{…, "files": […]}]}`, the chat as the
//! tenant API shows it and each message as both APIs do (written by
//! `views::export`). Ids in the file only link messages to their parents; the import
//! hands out new ones.

use serde::Deserialize;
use serde_json::value::RawValue;
use std::collections::HashMap;
use uuid::Uuid;

use super::{Conversation, ConversationError, ConversationFile, ConversationMessage, ReplyState};
use crate::domain::{Actor, Timestamp};

/// One line, as exported.
#[derive(Deserialize)]
struct Line {
    chat: LineChat,
    #[serde(default)]
    source_id: Option<String>,
    messages: Vec<LineMessage>,
}

#[derive(Deserialize)]
struct LineChat {
    id: Uuid,
    name: String,
    #[serde(default)]
    model: String,
    #[serde(default)]
    metadata: Option<Box<RawValue>>,
    created_at: String,
    updated_at: String,
    current_message_id: Option<i64>,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    pinned: bool,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct LineMessage {
    id: i64,
    actor: String,
    message: String,
    created_at: String,
    updated_at: String,
    parent_id: Option<i64>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    usage: Option<LineUsage>,
    #[serde(default)]
    error: Option<LineError>,
    #[serde(default)]
    files: Vec<LineFile>,
}

#[derive(Deserialize)]
struct LineUsage {
    prompt_tokens: i64,
    completion_tokens: i64,
}

#[derive(Deserialize)]
struct LineError {
    code: String,
    message: String,
}

#[derive(Deserialize)]
struct LineFile {
    title: String,
    text: String,
    language: String,
    extension: String,
    created_at: String,
    updated_at: String,
}

/// Only the chat's id, to name a line that does not parse whole.
#[derive(Deserialize)]
struct LineId {
    chat: ChatId,
}

#[derive(Deserialize)]
struct ChatId {
    id: String,
}

/// One exported line (its raw JSON) as a conversation.
pub fn conversation(raw: &RawValue, position: usize) -> Result<Conversation, ConversationError> {
    let line: Line = serde_json::from_str(raw.get()).map_err(|e| {
        let source = serde_json::from_str::<LineId>(raw.get()).map_or_else(
            |_| format!("#{position}"),
            |line| format!("confab:{}", line.chat.id),
        );
        ConversationError::new(source, format!("not a confab chat line: {e}"))
    })?;
    let source_id = line
        .source_id
        .clone()
        .unwrap_or_else(|| format!("confab:{}", line.chat.id));
    let fail = |message: String| ConversationError::new(source_id.clone(), message);
    let time = |what: &str, text: &str| {
        Timestamp::parse_rfc3339(text)
            .ok_or_else(|| fail(format!("{what}: not an RFC 3339 time: {text:?}")))
    };
    let mut index_of: HashMap<i64, usize> = HashMap::with_capacity(line.messages.len());
    let mut messages = Vec::with_capacity(line.messages.len());
    for (index, message) in line.messages.into_iter().enumerate() {
        let parent = match message.parent_id {
            None => None,
            Some(parent) => Some(*index_of.get(&parent).ok_or_else(|| {
                fail(format!(
                    "message {} follows {parent}, which is not listed before it",
                    message.id
                ))
            })?),
        };
        if index_of.insert(message.id, index).is_some() {
            return Err(fail(format!("message {} is listed twice", message.id)));
        }
        let actor = Actor::parse(&message.actor).map_err(|e| fail(e.0))?;
        let files = message
            .files
            .into_iter()
            .map(|file| {
                Ok(ConversationFile {
                    created_at: time("file created_at", &file.created_at)?,
                    updated_at: time("file updated_at", &file.updated_at)?,
                    title: file.title,
                    text: file.text,
                    language: file.language,
                    extension: file.extension,
                })
            })
            .collect::<Result<Vec<_>, ConversationError>>()?;
        let status = message.status.unwrap_or_else(|| "complete".to_owned());
        let reply = (status != "complete" || message.model.is_some()).then(|| ReplyState {
            status: if status == "generating" {
                "interrupted".to_owned()
            } else {
                status
            },
            usage: message
                .usage
                .map(|u| (u.prompt_tokens, u.completion_tokens)),
            error: message.error.map(|e| (e.code, e.message)),
        });
        messages.push(ConversationMessage {
            parent,
            actor,
            text: message.message,
            created_at: Some(time("created_at", &message.created_at)?),
            updated_at: Some(time("updated_at", &message.updated_at)?),
            model: message.model,
            files: Some(files),
            reply,
        });
    }
    let current = match line.chat.current_message_id {
        None => None,
        Some(id) => Some(*index_of.get(&id).ok_or_else(|| {
            fail(format!(
                "current_message_id {id} is not one of its messages"
            ))
        })?),
    };
    Ok(Conversation {
        source_id: source_id.clone(),
        uuid: Some(line.chat.id),
        title: Some(line.chat.name),
        model: Some(line.chat.model),
        created_at: Some(time("created_at", &line.chat.created_at)?),
        updated_at: Some(time("updated_at", &line.chat.updated_at)?),
        archived: line.chat.archived,
        pinned: line.chat.pinned,
        tags: line.chat.tags,
        metadata: line.chat.metadata.map(|raw| raw.get().to_owned()),
        messages,
        current,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(line: &str) -> Result<Conversation, ConversationError> {
        conversation(&RawValue::from_string(line.to_owned()).expect("json"), 3)
    }

    #[test]
    fn a_line_becomes_its_tree() {
        let line = r#"{"chat":{"id":"7b0c2f9e-1d5a-4c1e-9a7b-0c2f9e1d5a4c","name":"n","model":"m",
            "metadata":{"b":1,"a":12345678901234567890123},"created_at":"2024-01-01T00:00:00.000001Z",
            "updated_at":"2024-01-02T00:00:00Z","current_message_id":12,"archived":true,"pinned":false,"tags":["x"]},
            "source_id":"chatgpt:abc",
            "messages":[
              {"id":10,"actor":"user","message":"q","created_at":"2024-01-01T00:00:01Z","updated_at":"2024-01-01T00:00:01Z","parent_id":null,"status":"complete"},
              {"id":11,"actor":"assistant","message":"a1","created_at":"2024-01-01T00:00:02Z","updated_at":"2024-01-01T00:00:03Z","parent_id":10,"status":"generating","model":"gpt"},
              {"id":12,"actor":"assistant","message":"```rs\nx\n```","created_at":"2024-01-01T00:00:04Z","updated_at":"2024-01-01T00:00:04Z","parent_id":10,"files":[
                {"id":1,"title":"t","text":"x","language":"rust","extension":"rs","created_at":"2024-01-01T00:00:04Z","updated_at":"2024-01-01T00:00:05Z"}]}
            ]}"#;
        let read = read(&line.replace('\n', " ")).expect("reads");
        assert_eq!(read.source_id, "chatgpt:abc");
        assert_eq!(
            read.metadata.as_deref(),
            Some(r#"{"b":1,"a":12345678901234567890123}"#)
        );
        assert_eq!(read.current, Some(2));
        assert_eq!(
            read.messages.iter().map(|m| m.parent).collect::<Vec<_>>(),
            [None, Some(0), Some(0)]
        );
        assert_eq!(
            read.messages[1].reply.as_ref().map(|r| r.status.as_str()),
            Some("interrupted")
        );
        assert_eq!(read.messages[0].reply, None);
        let files = read.messages[2].files.as_ref().expect("files");
        assert_eq!(
            (files[0].title.as_str(), files[0].updated_at),
            ("t", Timestamp(1_704_067_205_000_000))
        );
        assert_eq!(read.created_at, Some(Timestamp(1_704_067_200_000_001)));
    }

    #[test]
    fn broken_lines_are_named_by_their_chat() {
        let orphan = r#"{"chat":{"id":"7b0c2f9e-1d5a-4c1e-9a7b-0c2f9e1d5a4c","name":"n","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z","current_message_id":null},"messages":[{"id":2,"actor":"user","message":"q","created_at":"2024-01-01T00:00:00Z","updated_at":"2024-01-01T00:00:00Z","parent_id":1}]}"#;
        let error = read(orphan).expect_err("orphan");
        assert_eq!(
            error.source_id,
            "confab:7b0c2f9e-1d5a-4c1e-9a7b-0c2f9e1d5a4c"
        );
        assert!(
            error.message.contains("not listed before"),
            "{}",
            error.message
        );
        let shapeless = read(r#"{"chat":{"id":"x"},"messages":3}"#).expect_err("shape");
        assert_eq!(shapeless.source_id, "confab:x");
        assert_eq!(read("[1]").expect_err("no chat").source_id, "#3");
    }
}
