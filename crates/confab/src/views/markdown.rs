//! A chat as a Markdown document, for people (the tenant API's export): a title and
//! facts, then a heading per message with its text as written and its code files fenced
//! anew.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag};
use std::fmt::Write as _;

use crate::domain::Timestamp;
use crate::store::{ChatRecord, FileRecord, MessageRecord};

/// A chat as a Markdown document: a title and facts, then a heading per message with its
/// text as written and its code files fenced anew.
pub fn to_markdown(
    chat: &ChatRecord,
    messages: &[MessageRecord],
    exported_at: Timestamp,
) -> String {
    let mut out = markdown_head(chat, messages.len() as i64, exported_at);
    for (index, message) in messages.iter().enumerate() {
        markdown_message(&mut out, index, message);
    }
    out
}

/// The title and facts of [`to_markdown`].
pub fn markdown_head(chat: &ChatRecord, message_count: i64, exported_at: Timestamp) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", one_line(&chat.name));
    let _ = writeln!(out, "- Chat: `{}`", chat.uuid);
    if !chat.model.is_empty() {
        let _ = writeln!(out, "- Model: {}", one_line(&chat.model));
    }
    let _ = writeln!(out, "- Created: {}", chat.created_at.to_rfc3339());
    let _ = writeln!(out, "- Exported: {}", exported_at.to_rfc3339());
    let _ = writeln!(out, "- Messages: {message_count}");
    out
}

/// Message number `index + 1` of [`to_markdown`], with its files.
pub fn markdown_message(out: &mut String, index: usize, message: &MessageRecord) {
    let _ = writeln!(
        out,
        "\n## {}. {} · {}\n",
        index + 1,
        message.actor,
        message.created_at.to_rfc3339()
    );
    out.push_str(message.message.trim_end_matches(['\n', '\r']));
    out.push('\n');
    // A fence the message leaves open would swallow the rest of the document.
    if let Some(fence) = unclosed_fence(&message.message) {
        let _ = writeln!(out, "{fence}");
    }
    if !message.files.is_empty() {
        out.push_str("\n### Files\n");
        for file in &message.files {
            write_file(out, file);
        }
    }
}

fn write_file(out: &mut String, file: &FileRecord) {
    let _ = writeln!(
        out,
        "\n#### {} ({})\n",
        one_line(&file.title),
        one_line(&file.language)
    );
    let fence = fence_for(&file.text);
    // An info string after a backtick fence must not contain backticks.
    let info: String = file
        .language
        .chars()
        .filter(|c| *c != '`' && !c.is_whitespace())
        .collect();
    let _ = writeln!(out, "{fence}{info}");
    out.push_str(&file.text);
    if !file.text.is_empty() && !file.text.ends_with('\n') {
        out.push('\n');
    }
    let _ = writeln!(out, "{fence}");
}

/// A backtick fence longer than any backtick run in `text`, so `text` cannot close it.
fn fence_for(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    "`".repeat((longest + 1).max(3))
}

/// Text for a heading: line breaks and other control characters become spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The closing fence for a top-level fenced code block that `markdown` opens but never
/// closes (CommonMark runs such a block to the end of the document), if there is one.
fn unclosed_fence(markdown: &str) -> Option<String> {
    let mut depth = 0usize;
    let mut last_top_level_fence = None;
    for (event, range) in Parser::new(markdown).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(_))) if depth == 0 => {
                last_top_level_fence = Some(range);
                depth += 1;
            }
            Event::Start(_) => depth += 1,
            Event::End(_) => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    let range = last_top_level_fence?;
    if range.end < markdown.trim_end().len() {
        return None; // something follows the block, so it was closed
    }
    let block = markdown.get(range)?;
    let mut lines = block.lines();
    let opening = lines.next()?.trim_start_matches(' ');
    let marker = opening.chars().next()?;
    let width = opening.chars().take_while(|c| *c == marker).count();
    let closed = lines
        .rev()
        .find(|line| !line.trim().is_empty())
        .is_some_and(|line| {
            let indent = line.len() - line.trim_start_matches(' ').len();
            let body = line.trim();
            indent <= 3 && body.chars().all(|c| c == marker) && body.chars().count() >= width
        });
    (!closed).then(|| marker.to_string().repeat(width))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{code_blocks, Actor};
    use uuid::Uuid;

    fn chat() -> ChatRecord {
        ChatRecord {
            id: 1,
            uuid: Uuid::nil(),
            tenant_id: Uuid::nil(),
            user_id: None,
            name: "Plans\nfor Q3".to_owned(),
            model: "gpt-test".to_owned(),
            metadata: None,
            version: 3,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
            current_message_id: None,
            branched: false,
            archived: false,
            pinned: false,
            tags: Default::default(),
            trashed_at: None,
        }
    }

    fn message(id: i64, actor: Actor, text: &str) -> MessageRecord {
        let files = code_blocks::extract(text)
            .into_iter()
            .enumerate()
            .map(|(i, f)| FileRecord {
                id: id * 10 + i as i64,
                title: f.title,
                text: f.text,
                language: f.language,
                extension: f.extension,
                user_id: None,
                chat_id: 1,
                message_id: id,
                created_at: Timestamp(id),
                updated_at: Timestamp(id),
            })
            .collect();
        MessageRecord {
            id,
            chat_id: 1,
            actor,
            message: text.to_owned(),
            created_at: Timestamp(id),
            updated_at: Timestamp(id),
            parent_id: None,
            siblings: crate::store::Siblings::OnlyChild,
            files,
            reply: None,
        }
    }

    #[test]
    fn fences_outgrow_the_backticks_inside() {
        assert_eq!(fence_for("plain"), "```");
        assert_eq!(fence_for("a ``` b"), "````");
        assert_eq!(fence_for("`````"), "``````");
    }

    #[test]
    fn finds_fences_left_open() {
        assert_eq!(unclosed_fence("text"), None);
        assert_eq!(unclosed_fence("```py\nx\n```"), None);
        assert_eq!(unclosed_fence("```py\nx\n```\n\nafter"), None);
        assert_eq!(unclosed_fence("```py\nx"), Some("```".to_owned()));
        assert_eq!(unclosed_fence("~~~~\nx\n~~~"), Some("~~~~".to_owned()));
        assert_eq!(unclosed_fence("````\nx\n```"), Some("````".to_owned()));
        assert_eq!(
            unclosed_fence("> ```\n> x"),
            None,
            "quoted blocks end with the quote"
        );
    }

    #[test]
    fn markdown_has_a_heading_per_message_and_keeps_every_code_file() {
        let messages = [
            message(1, Actor::User, "Write hello world"),
            message(
                2,
                Actor::Assistant,
                "Here:\n\n```python title=hello.py\nprint('```')\n```\n\nand\n\n~~~rust\nfn main() {}\n~~~",
            ),
            message(3, Actor::User, "cut off: ```js\nlet a = 1;"),
            message(4, Actor::Assistant, "```sh\necho unterminated"),
            message(5, Actor::User, "thanks"),
        ];
        let text = to_markdown(&chat(), &messages, Timestamp(1_000_000));
        assert!(text.starts_with("# Plans for Q3\n"), "{text}");
        let headings: Vec<&str> = text.lines().filter(|l| l.starts_with("## ")).collect();
        assert_eq!(
            headings,
            [
                "## 1. user · 1970-01-01T00:00:00.000001Z",
                "## 2. assistant · 1970-01-01T00:00:00.000002Z",
                "## 3. user · 1970-01-01T00:00:00.000003Z",
                "## 4. assistant · 1970-01-01T00:00:00.000004Z",
                "## 5. user · 1970-01-01T00:00:00.000005Z",
            ]
        );
        // Rendered, every heading is still a heading (no fence swallowed the rest) and
        // every stored file comes back as a code block with the same text (a fenced
        // block's text always ends with a line break, which a file cut off by the end
        // of its message lacks).
        let rendered_headings = Parser::new(&text)
            .filter(|e| matches!(e, Event::Start(Tag::Heading { level, .. }) if *level == pulldown_cmark::HeadingLevel::H2))
            .count();
        assert_eq!(rendered_headings, messages.len());
        let blocks = code_blocks::extract(&text);
        for file in messages.iter().flat_map(|m| &m.files) {
            assert!(
                blocks.iter().any(|b| b.text.trim_end_matches('\n')
                    == file.text.trim_end_matches('\n')
                    && b.language == file.language),
                "{file:?} in {text}"
            );
        }
        assert!(text.contains("#### hello.py (python)\n\n````python\nprint('```')\n````\n"));
    }
}
