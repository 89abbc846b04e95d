//! Comparing what the server shows with the model: one message, the active path, a
//! page of it, the whole tree.

use serde_json::{json, Value};

use super::state::{Chat, Message};
use super::{Run, Step};

impl Run<'_> {
    /// Checks a message as shown by either API against the model: id, actor, text, its
    /// chat, `parent_id` and `sibling_ids` as `chat` has them, and optionally its files.
    pub(super) fn check_message(
        &self,
        actual: &Value,
        id: i64,
        expected: &Message,
        chat: &Chat,
        with_files: bool,
    ) -> Step {
        ensure!(
            actual["id"] == json!(id),
            "message id: {actual} vs {id} {expected:?}"
        );
        ensure!(
            actual["actor"] == json!(expected.actor),
            "actor: {actual} vs {expected:?}"
        );
        ensure!(
            actual["message"] == json!(expected.data.text),
            "text: {actual} vs {expected:?}"
        );
        if let Some(id) = chat.id {
            ensure!(
                actual["chat_conversation_id"] == json!(id),
                "chat id of {actual}: want {id}"
            );
        }
        ensure!(
            actual["parent_id"] == json!(expected.parent),
            "parent_id of {actual}: want {:?}",
            expected.parent
        );
        let siblings = chat.tree.sibling_ids(expected.parent);
        ensure!(
            actual["sibling_ids"] == json!(siblings),
            "sibling_ids of {actual}: want {siblings:?}"
        );
        if with_files {
            self.check_files(actual, id, expected, chat)?;
        }
        Ok(())
    }

    fn check_files(&self, actual: &Value, id: i64, expected: &Message, chat: &Chat) -> Step {
        let files = actual["files"]
            .as_array()
            .ok_or(format!("no files in {actual}"))?;
        ensure!(
            files.len() == expected.data.files.len(),
            "files of {actual} vs {expected:?}"
        );
        for (file, (title, language, extension)) in files.iter().zip(&expected.data.files) {
            ensure!(
                file["title"] == json!(title)
                    && file["language"] == json!(language)
                    && file["extension"] == json!(extension),
                "file {file} vs {title} {language} {extension}"
            );
            ensure!(
                file["chat_conversation_message_id"] == json!(id),
                "file {file} of message {id}"
            );
            let owner = chat.owner.map(|u| self.model.users[u].id);
            ensure!(
                file["neptun_user_id"] == json!(owner),
                "file owner {file}: want {owner:?}"
            );
        }
        Ok(())
    }

    /// Checks a list of messages, with their files, against the chat's messages `ids`.
    pub(super) fn check_list(&self, actual: &[Value], ids: &[i64], chat: &Chat) -> Step {
        ensure!(
            actual.len() == ids.len(),
            "{} messages listed, model has {}: {:?} vs {ids:?}",
            actual.len(),
            ids.len(),
            actual.iter().map(|m| m["id"].clone()).collect::<Vec<_>>()
        );
        for (a, id) in actual.iter().zip(ids) {
            let expected = chat
                .tree
                .get(*id)
                .ok_or(format!("the model lost message {id}"))?;
            self.check_message(a, *id, expected, chat, true)?;
        }
        Ok(())
    }

    /// Checks a listing: the chat's active path, oldest first.
    pub(super) fn check_path(&self, actual: &[Value], chat: &Chat) -> Step {
        self.check_list(actual, &chat.tree.path(), chat)
    }

    /// Checks a first page of the active path (`limit` per page) and its cursor: there is
    /// one exactly when the path is longer than the page.
    pub(super) fn check_first_page(&self, body: &Value, limit: usize, chat: &Chat) -> Step {
        let path = chat.tree.path();
        let page = body["data"]
            .as_array()
            .ok_or(format!("no data in {body}"))?;
        self.check_list(page, &path[..path.len().min(limit)], chat)?;
        ensure!(
            body["next_cursor"].is_string() == (path.len() > limit),
            "next_cursor of a {}-message path, {limit} a page: {body}",
            path.len()
        );
        Ok(())
    }

    /// Checks a tree answer: every message in creation order, and the current leaf.
    pub(super) fn check_tree(&self, body: &Value, messages: &Value, chat: &Chat) -> Step {
        let listed = messages
            .as_array()
            .ok_or(format!("no messages in the tree {body}"))?;
        let all: Vec<i64> = chat.tree.messages.keys().copied().collect();
        self.check_list(listed, &all, chat)?;
        ensure!(
            body["current_message_id"] == json!(chat.tree.current),
            "current_message_id of the tree {body}: want {:?}",
            chat.tree.current
        );
        Ok(())
    }
}
