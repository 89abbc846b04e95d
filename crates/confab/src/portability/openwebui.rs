//! Open WebUI's chat export: one chat of its JSON array to a [`Conversation`].
//!
//! Current versions keep the whole tree in `chat.history.messages` (every edit and
//! regeneration is a branch); older ones only a flat `chat.messages` list. Both go
//! through the same tree walk as ChatGPT's export, so the guarantees match.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::tree_walk::{self, text_field, Node, MAX_NODES};
use super::{epoch_seconds, Conversation, ConversationError, ConversationMessage};
use crate::domain::{Actor, Timestamp};

/// Reads one chat; `position` (its index in the file) names it in an error when it has
/// no id. Takes the export's wrapper (`{id, title, chat: {...}}`) or, when `history` or
/// `messages` sits at the top, the inner chat object itself.
pub fn conversation(value: Value, position: usize) -> Result<Conversation, ConversationError> {
    let Some(object) = value.as_object() else {
        return Err(ConversationError::new(
            format!("#{position}"),
            "a chat must be a JSON object",
        ));
    };
    let wrapped = object.get("chat");
    let id = text_field(object.get("id"))
        .or_else(|| text_field(wrapped.and_then(|chat| chat.get("id"))));
    let source_id = match &id {
        Some(id) => format!("openwebui:{id}"),
        None => format!("#{position}"),
    };
    let fail = |message: String| Err(ConversationError::new(source_id.clone(), message));
    let chat = match wrapped {
        Some(Value::Object(chat)) => chat,
        Some(_) => return fail("`chat` is not an object".into()),
        None if object.contains_key("history") || object.contains_key("messages") => object,
        None => return fail("the chat has no `chat` object".into()),
    };
    if id.is_none() {
        // Without an id a second import could not tell it was already imported.
        return fail("the chat has no id".into());
    }

    let default_model = chat
        .get("models")
        .and_then(Value::as_array)
        .and_then(|models| text_field(models.first()));
    let history = chat.get("history");
    let keyed = history
        .and_then(|h| h.get("messages"))
        .and_then(Value::as_object);
    let flat = chat.get("messages").and_then(Value::as_array);
    let read = |m: &Value| {
        (
            m.get("timestamp").and_then(epoch_seconds),
            read_message(m, default_model.as_deref()),
        )
    };
    let (nodes, current) = match (keyed, flat) {
        (Some(map), _) if !map.is_empty() => {
            if map.len() > MAX_NODES {
                return fail(format!("more than {MAX_NODES} messages"));
            }
            let current = history
                .and_then(|h| h.get("currentId"))
                .and_then(Value::as_str)
                .and_then(|id| map.keys().position(|key| key == id));
            (
                tree_walk::keyed_nodes(map, "parentId", "childrenIds", read),
                current,
            )
        }
        (_, Some(list)) => {
            if list.len() > MAX_NODES {
                return fail(format!("more than {MAX_NODES} messages"));
            }
            (flat_nodes(list, read), list.len().checked_sub(1))
        }
        (Some(_), None) => (Vec::new(), None),
        (None, None) => return fail("the chat has no messages".into()),
    };
    let tree = tree_walk::arrange(nodes, current);
    let model = default_model.or_else(|| tree_walk::nearest_model(&tree.messages, tree.current));

    Ok(Conversation {
        source_id,
        title: text_field(object.get("title")).or_else(|| text_field(chat.get("title"))),
        model,
        created_at: object
            .get("created_at")
            .and_then(epoch_seconds)
            .or_else(|| chat.get("timestamp").and_then(epoch_seconds)),
        updated_at: object.get("updated_at").and_then(epoch_seconds),
        archived: object.get("archived").and_then(Value::as_bool) == Some(true),
        pinned: object.get("pinned").and_then(Value::as_bool) == Some(true),
        tags: tags(object),
        messages: tree.messages,
        current: tree.current,
        ..Conversation::default()
    })
}

/// Older chats list their messages in order: each hangs from its `parentId` when that
/// names another message of the list (the first of a repeated id), else from the one
/// before it.
fn flat_nodes(
    list: &[Value],
    mut read: impl FnMut(&Value) -> (Option<Timestamp>, Option<ConversationMessage>),
) -> Vec<Node> {
    let mut index: HashMap<&str, usize> = HashMap::new();
    for (at, message) in list.iter().enumerate() {
        if let Some(id) = message.get("id").and_then(Value::as_str) {
            index.entry(id).or_insert(at);
        }
    }
    list.iter()
        .enumerate()
        .map(|(at, message)| {
            let named = message
                .get("parentId")
                .and_then(Value::as_str)
                .and_then(|id| index.get(id).copied())
                .filter(|&parent| parent != at);
            let (time, message) = read(message);
            Node {
                parent: named.or(at.checked_sub(1)),
                time,
                rank: 0,
                message,
            }
        })
        .collect()
}

/// A message, or `None` for roles confab has no actor for and for empty text.
fn read_message(message: &Value, default_model: Option<&str>) -> Option<ConversationMessage> {
    let actor = match message.get("role")?.as_str()? {
        "user" => Actor::User,
        "assistant" => Actor::Assistant,
        "system" => Actor::System,
        _ => return None,
    };
    let text = message.get("content")?.as_str()?;
    if text.trim().is_empty() {
        return None;
    }
    let model = match actor {
        Actor::Assistant => {
            text_field(message.get("model")).or_else(|| default_model.map(str::to_owned))
        }
        Actor::User | Actor::System => None,
    };
    let created_at = message.get("timestamp").and_then(epoch_seconds);
    Some(tree_walk::message(
        actor,
        text.to_owned(),
        created_at,
        model,
    ))
}

/// `meta.tags`: names as strings or as objects with a `name` (versions differ), trimmed,
/// blank ones and repeats dropped.
fn tags(object: &Map<String, Value>) -> Vec<String> {
    let Some(list) = object
        .get("meta")
        .and_then(|meta| meta.get("tags"))
        .and_then(Value::as_array)
    else {
        return Vec::new();
    };
    let mut tags: Vec<String> = Vec::new();
    for tag in list {
        let name = text_field(Some(tag)).or_else(|| text_field(tag.get("name")));
        if let Some(name) = name.filter(|name| !tags.contains(name)) {
            tags.push(name);
        }
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portability::tree_walk::testing::{fixture_item, msg, seconds};
    use serde_json::json;

    const FIXTURE: &str = include_str!("../../tests/fixtures/import/openwebui_chats.json");

    fn fixture(position: usize) -> Result<Conversation, ConversationError> {
        conversation(fixture_item(FIXTURE, position), position)
    }

    #[test]
    fn reads_the_history_tree_with_both_branches() {
        let c = fixture(0).expect("readable");
        assert_eq!(c.source_id, "openwebui:owui-tree");
        assert_eq!(c.title.as_deref(), Some("Weekend trip"));
        assert_eq!(c.model.as_deref(), Some("llama3:8b"));
        assert_eq!(c.created_at, seconds(1_710_000_000));
        assert_eq!(c.updated_at, seconds(1_710_000_900));
        assert!(c.pinned);
        assert!(!c.archived);
        assert_eq!(c.tags, vec!["travel".to_owned(), "planning".to_owned()]);
        // The stale flat copy is ignored, the tool message bridged, the millisecond
        // timestamp read as such.
        let expected = vec![
            msg(
                None,
                Actor::User,
                "Suggest a weekend trip.",
                seconds(1_710_000_010),
                None,
            ),
            msg(
                Some(0),
                Actor::Assistant,
                "How about the coast?",
                seconds(1_710_000_020),
                Some("llama3:8b"),
            ),
            msg(
                Some(1),
                Actor::User,
                "Somewhere colder?",
                seconds(1_710_000_030),
                None,
            ),
            msg(
                Some(2),
                Actor::Assistant,
                "Try the mountains.",
                seconds(1_710_000_040),
                Some("llama3:8b"),
            ),
            msg(
                Some(1),
                Actor::User,
                "Somewhere warmer?",
                seconds(1_710_000_050),
                None,
            ),
            msg(
                Some(4),
                Actor::Assistant,
                "Try the desert.",
                seconds(1_710_000_060),
                Some("mistral:7b"),
            ),
        ];
        assert_eq!(c.messages, expected);
        assert_eq!(c.current, Some(5));
    }

    #[test]
    fn reads_an_older_flat_chat() {
        let c = fixture(1).expect("readable");
        assert_eq!(c.source_id, "openwebui:owui-flat");
        assert_eq!(c.title.as_deref(), Some("Old chat"));
        assert_eq!(c.created_at, seconds(1_700_000_000));
        assert!(c.archived);
        assert!(!c.pinned);
        assert!(c.tags.is_empty());
        // No `models`: the nearest assistant above the last message that names one.
        assert_eq!(c.model.as_deref(), Some("gpt-3.5-turbo"));
        // The blank message is skipped; the one naming an unknown parent hangs from the
        // message before it, bridged to the nearest kept one.
        let expected = vec![
            msg(None, Actor::User, "Hi there.", seconds(1_700_000_001), None),
            msg(
                Some(0),
                Actor::Assistant,
                "Hello!",
                seconds(1_700_000_002),
                Some("gpt-3.5-turbo"),
            ),
            msg(
                Some(1),
                Actor::User,
                "Still there?",
                seconds(1_700_000_004),
                None,
            ),
            msg(Some(2), Actor::Assistant, "Yes.", None, None),
        ];
        assert_eq!(c.messages, expected);
        assert_eq!(c.current, Some(3));
    }

    #[test]
    fn reads_an_inner_chat_object_and_falls_back_to_the_latest_leaf() {
        let c = fixture(2).expect("readable");
        assert_eq!(c.source_id, "openwebui:owui-inner");
        assert_eq!(c.title.as_deref(), Some("Inner form"));
        assert_eq!(c.model.as_deref(), Some("qwen2:7b"));
        assert_eq!(c.created_at, seconds(1_690_000_000));
        let expected = vec![
            msg(
                None,
                Actor::User,
                "Pick a colour.",
                seconds(1_690_000_010),
                None,
            ),
            msg(
                Some(0),
                Actor::Assistant,
                "Red.",
                seconds(1_690_000_020),
                Some("qwen2:7b"),
            ),
            msg(
                Some(0),
                Actor::Assistant,
                "Blue.",
                seconds(1_690_000_020),
                Some("qwen2:7b"),
            ),
        ];
        assert_eq!(c.messages, expected);
        // `currentId` names no message: the latest leaf, the last of equal times.
        assert_eq!(c.current, Some(2));
    }

    #[test]
    fn malformed_chats_are_errors_named_by_id_or_position() {
        let bad = fixture(3).expect_err("chat is a string");
        assert_eq!(
            bad,
            ConversationError::new("openwebui:owui-bad", "`chat` is not an object")
        );
        let nameless = fixture(4).expect_err("no chat, no id");
        assert_eq!(
            nameless,
            ConversationError::new("#4", "the chat has no `chat` object")
        );
        let no_id = conversation(json!({"chat": {"messages": []}}), 9).expect_err("no id");
        assert_eq!(no_id, ConversationError::new("#9", "the chat has no id"));
        let empty = conversation(json!({"id": "e", "chat": {}}), 0).expect_err("nothing");
        assert_eq!(
            empty,
            ConversationError::new("openwebui:e", "the chat has no messages")
        );
    }

    #[test]
    fn flat_cycles_and_self_parents_end_at_a_root() {
        let value = json!({"id": "loop", "chat": {"messages": [
            {"id": "a", "parentId": "b", "role": "user", "content": "one", "timestamp": 1},
            {"id": "b", "parentId": "a", "role": "assistant", "content": "two", "timestamp": 2},
            {"id": "c", "parentId": "c", "role": "user", "content": "three", "timestamp": 3},
        ]}});
        let c = conversation(value, 0).expect("readable");
        let shape: Vec<_> = c
            .messages
            .iter()
            .map(|m| (m.text.as_str(), m.parent))
            .collect();
        // "c" names itself, so it hangs from the message before it.
        assert_eq!(
            shape,
            vec![("one", None), ("two", Some(0)), ("three", Some(1))]
        );
        assert_eq!(c.current, Some(2));
    }

    #[test]
    fn an_empty_history_gives_no_messages() {
        let value = json!({"id": "none", "chat": {"history": {"messages": {}}}});
        let c = conversation(value, 0).expect("readable");
        assert!(c.messages.is_empty());
        assert_eq!(c.current, None);
        assert_eq!(c.model, None);
    }
}
