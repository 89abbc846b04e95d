//! ChatGPT's data export: one element of `conversations.json` to a [`Conversation`].
//!
//! A conversation is a tree (`mapping`) whose nodes include scaffolding the app never
//! shows: the hidden system root, context updates, weight-0 drafts. Those are skipped
//! and what hung from them hangs from the nearest node kept. Every branch is kept, so
//! edited questions and regenerated answers survive the import.

use serde_json::Value;

use super::tree_walk::{self, text_field, MAX_NODES};
use super::{epoch_seconds, Conversation, ConversationError, ConversationMessage};
use crate::domain::Actor;

/// Reads one conversation; `position` (its index in the file) names it in an error
/// when it has no id.
pub fn conversation(value: Value, position: usize) -> Result<Conversation, ConversationError> {
    let Some(object) = value.as_object() else {
        return Err(ConversationError::new(
            format!("#{position}"),
            "a conversation must be a JSON object",
        ));
    };
    let id = text_field(object.get("id")).or_else(|| text_field(object.get("conversation_id")));
    let source_id = match &id {
        Some(id) => format!("chatgpt:{id}"),
        None => format!("#{position}"),
    };
    let fail = |message: String| Err(ConversationError::new(source_id.clone(), message));
    let mapping = match object.get("mapping") {
        Some(Value::Object(mapping)) => mapping,
        Some(_) => return fail("`mapping` is not an object".into()),
        None => return fail("the conversation has no `mapping`".into()),
    };
    if mapping.len() > MAX_NODES {
        return fail(format!("more than {MAX_NODES} nodes"));
    }
    if id.is_none() {
        // Without an id a second import could not tell it was already imported.
        return fail("the conversation has no id".into());
    }

    let default_model = text_field(object.get("default_model_slug"));
    let nodes = tree_walk::keyed_nodes(mapping, "parent", "children", |node| {
        let message = node.get("message").filter(|m| m.is_object());
        let time = message
            .and_then(|m| m.get("create_time"))
            .and_then(epoch_seconds);
        (
            time,
            message.and_then(|m| read_message(m, default_model.as_deref())),
        )
    });
    let current = object
        .get("current_node")
        .and_then(Value::as_str)
        .and_then(|id| mapping.keys().position(|key| key == id));
    let tree = tree_walk::arrange(nodes, current);
    let model = default_model.or_else(|| tree_walk::nearest_model(&tree.messages, tree.current));

    Ok(Conversation {
        source_id,
        title: text_field(object.get("title")),
        model,
        created_at: object.get("create_time").and_then(epoch_seconds),
        updated_at: object.get("update_time").and_then(epoch_seconds),
        archived: object.get("is_archived").and_then(Value::as_bool) == Some(true),
        pinned: object.get("is_starred").and_then(Value::as_bool) == Some(true),
        messages: tree.messages,
        current: tree.current,
        ..Conversation::default()
    })
}

/// The message a node shows, or `None` when the app hides it (so the import does too).
fn read_message(message: &Value, default_model: Option<&str>) -> Option<ConversationMessage> {
    let metadata = message.get("metadata");
    let hidden = metadata
        .and_then(|m| m.get("is_visually_hidden_from_conversation"))
        .and_then(Value::as_bool);
    if hidden == Some(true) || message.get("weight").and_then(Value::as_f64) == Some(0.0) {
        return None;
    }
    // Tool output belongs to the assistant's turn: confab has no tool actor.
    let actor = match message.get("author")?.get("role")?.as_str()? {
        "user" => Actor::User,
        "assistant" | "tool" => Actor::Assistant,
        "system" => Actor::System,
        _ => return None,
    };
    let text = content_text(message.get("content")?)?;
    if text.trim().is_empty() {
        return None;
    }
    let model = match actor {
        Actor::Assistant => text_field(metadata.and_then(|m| m.get("model_slug")))
            .or_else(|| default_model.map(str::to_owned)),
        Actor::User | Actor::System => None,
    };
    let created_at = message.get("create_time").and_then(epoch_seconds);
    Some(tree_walk::message(actor, text, created_at, model))
}

/// The text of a content, or `None` for kinds that are app state rather than
/// conversation (context updates, browsing displays, anything unknown).
///
/// String parts are joined with one newline: parts are pieces of one message, and a
/// newline keeps them apart without inventing paragraphs.
fn content_text(content: &Value) -> Option<String> {
    match content.get("content_type")?.as_str()? {
        "text" | "multimodal_text" => {
            let parts = content.get("parts")?.as_array()?;
            let strings: Vec<&str> = parts.iter().filter_map(Value::as_str).collect();
            Some(strings.join("\n"))
        }
        "code" => {
            let code = content.get("text")?.as_str()?;
            if code.trim().is_empty() {
                return None;
            }
            let language = content.get("language").and_then(Value::as_str);
            Some(fenced(language, code))
        }
        "execution_output" => Some(content.get("text")?.as_str()?.to_owned()),
        _ => None,
    }
}

/// A code cell as a Markdown block, so it reads (and becomes a file) like any code an
/// assistant writes. The fence outgrows any backtick run in the code, which would
/// otherwise end the block early.
fn fenced(language: Option<&str>, code: &str) -> String {
    let language = language
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "unknown")
        .unwrap_or("");
    let mut longest = 0;
    let mut run = 0;
    for c in code.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest.max(2) + 1);
    let code = code.trim_end_matches(['\n', '\r']);
    format!("{fence}{language}\n{code}\n{fence}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Timestamp;
    use crate::portability::tree_walk::testing::{fixture_item, msg, seconds};
    use serde_json::{json, Map};

    const FIXTURE: &str = include_str!("../../tests/fixtures/import/chatgpt_conversations.json");

    fn fixture(position: usize) -> Result<Conversation, ConversationError> {
        conversation(fixture_item(FIXTURE, position), position)
    }

    #[test]
    fn keeps_both_branches_and_skips_scaffolding() {
        let c = fixture(0).expect("readable");
        assert_eq!(c.source_id, "chatgpt:conv-branch");
        assert_eq!(c.title.as_deref(), Some("Sorting a list"));
        assert_eq!(c.model.as_deref(), Some("gpt-4o"));
        assert_eq!(c.created_at, Some(Timestamp(1_700_000_000_250_000)));
        assert_eq!(c.updated_at, Some(Timestamp(1_700_000_600_500_000)));
        assert!(c.pinned);
        assert!(!c.archived);
        assert!(c.tags.is_empty());
        let answer = "Use `sorted()`:\n\n```python\nnumbers = [3, 1, 2]\nprint(sorted(numbers))\n```\nIt returns a new list.";
        // The hidden system root, the context node and the weight-0 draft are gone; the
        // later branch's question sorts before the earlier branch's later answer.
        let expected = vec![
            msg(
                None,
                Actor::User,
                "How do I sort a list in Python?",
                seconds(1_700_000_010),
                None,
            ),
            msg(
                Some(0),
                Actor::Assistant,
                answer,
                Some(Timestamp(1_700_000_020_500_000)),
                Some("gpt-4o-2024-05-13"),
            ),
            msg(
                Some(1),
                Actor::User,
                "And in reverse?",
                seconds(1_700_000_030),
                None,
            ),
            msg(
                Some(1),
                Actor::User,
                "And in descending order?",
                seconds(1_700_000_040),
                None,
            ),
            msg(
                Some(2),
                Actor::Assistant,
                "Pass `reverse=True`.",
                seconds(1_700_000_042),
                Some("gpt-4o-mini"),
            ),
            msg(
                Some(3),
                Actor::Assistant,
                "Use `sorted(numbers, reverse=True)`.",
                seconds(1_700_000_050),
                Some("gpt-4o"),
            ),
        ];
        assert_eq!(c.messages, expected);
        assert_eq!(c.current, Some(5));
    }

    #[test]
    fn renders_code_and_tool_output_and_falls_back_to_the_latest_leaf() {
        let c = fixture(1).expect("readable");
        assert_eq!(c.source_id, "chatgpt:conv-tools");
        assert_eq!(c.title, None);
        assert!(c.archived);
        assert!(!c.pinned);
        // No default model: the nearest assistant above the leaf that names one.
        assert_eq!(c.model.as_deref(), Some("gpt-4"));
        let expected = vec![
            msg(
                None,
                Actor::User,
                "Compute 2**10 with Python.",
                seconds(1_700_001_000),
                None,
            ),
            msg(
                Some(0),
                Actor::Assistant,
                "```python\nprint(2**10)\n```",
                seconds(1_700_001_001),
                Some("gpt-4"),
            ),
            msg(Some(1), Actor::Assistant, "1024", None, None),
            msg(
                Some(2),
                Actor::Assistant,
                "2**10 is 1024.",
                seconds(1_700_001_003),
                Some("gpt-4"),
            ),
            msg(
                Some(3),
                Actor::User,
                "What is in this picture?",
                seconds(1_700_001_100),
                None,
            ),
            msg(
                Some(4),
                Actor::Assistant,
                "```\nls -la\n```",
                seconds(1_700_001_102),
                Some("gpt-4"),
            ),
            msg(
                Some(5),
                Actor::Assistant,
                "A drawing of a cat.",
                seconds(1_700_001_105),
                None,
            ),
        ];
        assert_eq!(c.messages, expected);
        assert_eq!(c.current, Some(6));
    }

    #[test]
    fn a_visible_system_message_and_a_missing_parent() {
        let c = fixture(3).expect("readable");
        assert_eq!(c.source_id, "chatgpt:conv-system");
        assert_eq!(c.title, None);
        assert_eq!(c.created_at, None);
        let expected = vec![
            msg(
                None,
                Actor::System,
                "Answer like a pirate.",
                seconds(1_700_003_000),
                None,
            ),
            msg(Some(0), Actor::User, "Hello?", seconds(1_700_003_001), None),
        ];
        assert_eq!(c.messages, expected);
        // `current_node` is the skipped context node: its nearest kept ancestor.
        assert_eq!(c.current, Some(1));
        assert_eq!(c.model.as_deref(), Some("gpt-4o-mini"));
    }

    #[test]
    fn malformed_conversations_are_errors_named_by_id_or_position() {
        let broken = fixture(2).expect_err("no mapping");
        assert_eq!(broken.source_id, "chatgpt:conv-broken");
        assert_eq!(broken.message, "the conversation has no `mapping`");
        let nameless = fixture(4).expect_err("mapping is a list");
        assert_eq!(nameless.source_id, "#4");
        assert_eq!(nameless.message, "`mapping` is not an object");
        let not_object = conversation(json!("text"), 7).expect_err("not an object");
        assert_eq!(not_object.source_id, "#7");
        let no_id = conversation(json!({"mapping": {}}), 2).expect_err("no id");
        assert_eq!(
            no_id,
            ConversationError::new("#2", "the conversation has no id")
        );
    }

    fn text_node(parent: Option<&str>, text: &str, time: f64) -> Value {
        json!({
            "parent": parent,
            "message": {
                "author": {"role": "user"},
                "create_time": time,
                "content": {"content_type": "text", "parts": [text]},
            },
        })
    }

    #[test]
    fn breaks_cycles() {
        let value = json!({"id": "c", "mapping": {
            "a": text_node(Some("b"), "second", 2.0),
            "b": text_node(Some("a"), "first", 1.0),
            "c": text_node(Some("c"), "alone", 3.0),
        }});
        let c = conversation(value, 0).expect("readable");
        let shape: Vec<_> = c
            .messages
            .iter()
            .map(|m| (m.text.as_str(), m.parent))
            .collect();
        assert_eq!(
            shape,
            vec![("first", None), ("second", Some(0)), ("alone", None)]
        );
        assert_eq!(c.current, Some(2));
    }

    #[test]
    fn a_chain_of_the_maximum_length_is_read_without_recursion() {
        let mut mapping = Map::new();
        for i in 0..MAX_NODES {
            let parent = i.checked_sub(1).map(|p| format!("n{p}"));
            let node = text_node(parent.as_deref(), "hi", 1_700_000_000.0 + i as f64);
            mapping.insert(format!("n{i}"), node);
        }
        let value = json!({"id": "deep", "current_node": "n99999", "mapping": mapping});
        let c = conversation(value, 0).expect("readable");
        assert_eq!(c.messages.len(), MAX_NODES);
        assert!(c
            .messages
            .iter()
            .enumerate()
            .all(|(i, m)| m.parent == i.checked_sub(1)));
        assert_eq!(c.current, Some(MAX_NODES - 1));
    }

    #[test]
    fn too_many_nodes_is_an_error() {
        let mapping: Map<String, Value> = (0..=MAX_NODES)
            .map(|i| (format!("n{i}"), Value::Null))
            .collect();
        let error = conversation(json!({"id": "big", "mapping": mapping}), 0).expect_err("too big");
        assert_eq!(
            error,
            ConversationError::new("chatgpt:big", "more than 100000 nodes")
        );
    }

    #[test]
    fn fences_outgrow_backticks_in_the_code() {
        assert_eq!(
            fenced(Some(" rust "), "let a = 1;\n"),
            "```rust\nlet a = 1;\n```"
        );
        assert_eq!(fenced(None, "x ``` y"), "````\nx ``` y\n````");
    }
}
