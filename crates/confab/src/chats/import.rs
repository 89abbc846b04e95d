//! Importing a file of conversations (SPEC §10): read in a blocking thread (the
//! `portability` readers), validated here one conversation at a time, each stored in
//! its own transaction. A conversation that cannot be imported is reported with its
//! source id; the rest go on.

use serde::Serialize;
use std::collections::HashSet;
use std::fs::File;
use tokio::sync::mpsc;
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ChatError;
use super::lifecycle::DEFAULT_CHAT_NAME;
use super::Chats;
use crate::domain::{code_blocks, Actor, ChatName, MessageText, Metadata, ModelName, ReplyStatus};
use crate::domain::{Tags, Timestamp};
use crate::portability::reader::{self, ReadLimits};
use crate::portability::{Conversation, ConversationError, ConversationMessage, ImportFormat};
use crate::store::Usage;
use crate::store::{ImportChat, ImportMessage, ImportOutcome, ReplyError, ReplyInfo, StoreError};

/// Imports one node runs at once; another is refused (503) until one ends.
pub const MAX_CONCURRENT_IMPORTS: usize = 2;

/// The longest source id kept (ChatGPT's and Open WebUI's are uuids).
pub const MAX_SOURCE_ID_BYTES: usize = 512;

/// The most files one imported message may carry (a confab export's).
pub const MAX_FILES_PER_MESSAGE: usize = 256;

/// The most errors one report lists (the rest are counted in a last entry).
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// Where an import goes.
#[derive(Debug, Clone, Copy)]
pub struct ImportTarget {
    pub tenant_id: Uuid,
    /// The owner of the imported chats; tenant chats without an owner when `None`.
    pub user_id: Option<i64>,
    /// Store nothing; report what would happen.
    pub dry_run: bool,
}

/// What an import did (or, dry, would do).
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct ImportReport {
    pub chats_imported: u64,
    pub messages_imported: u64,
    pub skipped_duplicates: u64,
    pub errors: Vec<ImportErrorView>,
    #[serde(skip)]
    unlisted_errors: u64,
}

/// A conversation that was not imported, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportErrorView {
    pub source_id: String,
    pub message: String,
}

impl ImportReport {
    fn error(&mut self, error: ConversationError) {
        if self.errors.len() < MAX_REPORTED_ERRORS {
            self.errors.push(ImportErrorView {
                source_id: error.source_id,
                message: error.message,
            });
        } else {
            self.unlisted_errors += 1;
        }
    }

    fn finish(mut self) -> Self {
        if self.unlisted_errors > 0 {
            self.errors.push(ImportErrorView {
                source_id: String::new(),
                message: format!(
                    "{} more conversations failed (not listed)",
                    self.unlisted_errors
                ),
            });
        }
        self
    }
}

impl Chats {
    /// A slot to import in, if one is free ([`MAX_CONCURRENT_IMPORTS`]).
    pub fn import_slot(&self) -> Result<tokio::sync::OwnedSemaphorePermit, ChatError> {
        self.imports
            .clone()
            .try_acquire_owned()
            .map_err(|_| ChatError::ImportBusy)
    }

    /// Imports every conversation of `file`. The file is checked whole first: a file
    /// that is not JSON, truncated, of another format or too large is refused
    /// ([`ChatError::ImportRefused`]) with nothing stored.
    ///
    /// The reading thread holds `slot` and the file until it ends, and ends soon after
    /// the caller goes away (a client that disconnects frees neither before).
    pub async fn import_file(
        &self,
        file: File,
        format: ImportFormat,
        target: ImportTarget,
        slot: tokio::sync::OwnedSemaphorePermit,
    ) -> Result<ImportReport, ChatError> {
        let limits = ReadLimits {
            max_bytes: self.limits.max_import_bytes,
        };
        // One conversation in flight: the reader stays just ahead of the writes, and
        // memory holds at most three conversations (read, queued, stored).
        let (send, mut received) = mpsc::channel(1);
        let reading = tokio::task::spawn_blocking(move || {
            let _slot = slot;
            let mut file = file;
            let gone = send.clone();
            reader::read(
                &mut file,
                format,
                limits,
                &|| !gone.is_closed(),
                &mut |conversation| send.blocking_send(conversation).is_ok(),
            )
        });
        let mut report = ImportReport::default();
        // A dry run remembers (the hashes of) the source ids it counted: the same
        // conversation twice in a file is one import and one duplicate, as for real.
        let mut counted = HashSet::new();
        while let Some(conversation) = received.recv().await {
            match conversation.and_then(|c| self.validate(c, target)) {
                Ok(chat) => {
                    self.import_one(chat, target, &mut counted, &mut report)
                        .await?
                }
                Err(error) => report.error(error),
            }
        }
        match reading.await {
            Ok(Ok(())) => Ok(report.finish()),
            Ok(Err(refused)) => Err(ChatError::ImportRefused(refused)),
            Err(panicked) => Err(ChatError::Store(StoreError::Other(anyhow::anyhow!(
                "the import reader failed: {panicked}"
            )))),
        }
    }

    async fn import_one(
        &self,
        chat: ImportChat,
        target: ImportTarget,
        counted: &mut HashSet<u64>,
        report: &mut ImportReport,
    ) -> Result<(), ChatError> {
        let messages = chat.messages.len() as u64;
        let outcome = if target.dry_run {
            let stored = self
                .store
                .imported(chat.tenant_id, &chat.source_id, chat.uuid)
                .await?;
            let hash = std::hash::BuildHasher::hash_one(&self.import_hasher, &chat.source_id);
            match stored || !counted.insert(hash) {
                true => ImportOutcome::Duplicate,
                false => ImportOutcome::Stored {
                    chat_id: 0,
                    messages: chat.messages.len(),
                },
            }
        } else {
            match self.store.import_chat(&chat).await {
                Err(StoreError::QuotaExceeded(quota)) => {
                    report.error(ConversationError::new(chat.source_id, quota.to_string()));
                    return Ok(());
                }
                other => other?,
            }
        };
        match outcome {
            ImportOutcome::Stored { .. } => {
                report.chats_imported += 1;
                report.messages_imported += messages;
            }
            ImportOutcome::Duplicate => report.skipped_duplicates += 1,
        }
        Ok(())
    }

    /// A conversation as the store takes it: names, models and texts checked as a post
    /// checks them, missing times filled in so the order holds, code blocks of
    /// assistant messages as files.
    fn validate(
        &self,
        conversation: Conversation,
        target: ImportTarget,
    ) -> Result<ImportChat, ConversationError> {
        let source_id = conversation.source_id;
        if source_id.len() > MAX_SOURCE_ID_BYTES || source_id.chars().any(char::is_control) {
            let shown: String = source_id
                .chars()
                .take(64)
                .filter(|c| !c.is_control())
                .collect();
            return Err(ConversationError::new(
                shown,
                format!("the id is over {MAX_SOURCE_ID_BYTES} bytes or has control characters"),
            ));
        }
        let fail = |message: String| ConversationError::new(source_id.clone(), message);
        let now = Timestamp::now();
        let created_at = conversation
            .created_at
            .or_else(|| conversation.messages.first().and_then(|m| m.created_at))
            .unwrap_or(now);
        let mut messages: Vec<ImportMessage> = Vec::with_capacity(conversation.messages.len());
        for (index, message) in conversation.messages.into_iter().enumerate() {
            let at = |e: crate::domain::ValueError| fail(format!("message {index}: {}", e.0));
            if message.parent.is_some_and(|parent| parent >= index) {
                return Err(fail(format!("message {index} comes before its parent")));
            }
            check_parts(&message, self.limits.max_message_bytes)
                .map_err(|e| fail(format!("message {index}: {e}")))?;
            // Never before its parent (or the chat): the tree's order is the time order.
            let floor = message
                .parent
                .and_then(|parent| messages.get(parent))
                .map_or(created_at, |parent| parent.created_at);
            let created = message.created_at.unwrap_or(floor).max(floor);
            let updated = message.updated_at.unwrap_or(created).max(created);
            let model = message
                .model
                .and_then(|m| ModelName::parse(&truncate(&m, 255)).ok())
                .map(|m| m.as_str().to_owned())
                .filter(|m| !m.is_empty());
            let reply = message
                .reply
                .map(|state| {
                    Ok::<_, ConversationError>(ReplyInfo {
                        status: ReplyStatus::parse(&state.status)
                            .filter(|s| *s != ReplyStatus::Generating)
                            .ok_or_else(|| {
                                fail(format!(
                                    "message {index}: unknown status {:?}",
                                    state.status
                                ))
                            })?,
                        model: model.clone(),
                        usage: state.usage.map(|(prompt_tokens, completion_tokens)| Usage {
                            prompt_tokens,
                            completion_tokens,
                        }),
                        error: state
                            .error
                            .map(|(code, message)| ReplyError { code, message }),
                    })
                })
                .transpose()?
                .or_else(|| {
                    // An imported assistant message shows the model that wrote it.
                    let model = model.filter(|_| message.actor == Actor::Assistant)?;
                    Some(ReplyInfo {
                        status: ReplyStatus::Complete,
                        model: Some(model),
                        usage: None,
                        error: None,
                    })
                });
            let text = if reply
                .as_ref()
                .is_some_and(|r| r.status != ReplyStatus::Complete)
            {
                // A reply that ended early may have no text at all.
                MessageText::generated(message.text)
            } else {
                MessageText::parse(message.text, self.limits.max_message_bytes).map_err(at)?
            };
            let files = match message.files {
                Some(files) => files
                    .into_iter()
                    .map(|f| {
                        let times = (f.created_at, f.updated_at);
                        let file = code_blocks::CodeFile {
                            title: f.title,
                            language: f.language,
                            extension: f.extension,
                            text: f.text,
                        };
                        (file, times.0, times.1)
                    })
                    .collect(),
                None if message.actor == Actor::Assistant => code_blocks::extract(text.as_str())
                    .into_iter()
                    .map(|file| (file, created, created))
                    .collect(),
                None => Vec::new(),
            };
            messages.push(ImportMessage {
                parent: message.parent,
                actor: message.actor,
                text,
                created_at: created,
                updated_at: updated,
                reply,
                files,
            });
        }
        if conversation
            .current
            .is_some_and(|current| current >= messages.len())
        {
            return Err(fail(
                "the current message is not one of its messages".into(),
            ));
        }
        // The source's own time when it has one (a confab export's, exactly), else the
        // newest message's.
        let newest = messages.iter().map(|m| m.updated_at).max();
        let updated_at = conversation
            .updated_at
            .or(newest)
            .unwrap_or(created_at)
            .max(created_at);
        let name = conversation
            .title
            .map(|title| clean_name(&title))
            .filter(|name| !name.is_empty())
            .unwrap_or_else(|| DEFAULT_CHAT_NAME.to_owned());
        let metadata = conversation
            .metadata
            .map(|text| Metadata::parse(&text))
            .transpose()
            .map_err(|e| fail(format!("metadata: {}", e.0)))?;
        Ok(ImportChat {
            tenant_id: target.tenant_id,
            user_id: target.user_id,
            uuid: conversation.uuid,
            name: ChatName::parse(&name).map_err(|e| fail(e.0))?,
            model: ModelName::parse(&truncate(conversation.model.as_deref().unwrap_or(""), 255))
                .map_err(|e| fail(e.0))?,
            metadata,
            archived: conversation.archived,
            pinned: conversation.pinned,
            tags: lenient_tags(&conversation.tags),
            created_at,
            updated_at,
            messages,
            current: conversation.current,
            source_id,
        })
    }
}

/// What a confab export may carry beyond a posted message (a reply's state, files as
/// they were), checked as the server would have made them: reply state on assistant
/// messages only, texts within `--max-message-bytes` (an empty reply too), no NUL.
fn check_parts(message: &ConversationMessage, max_bytes: usize) -> Result<(), String> {
    if message.text.len() > max_bytes {
        return Err(format!(
            "the text is over {max_bytes} bytes (--max-message-bytes)"
        ));
    }
    let plain = |what: &str, text: &str, max: usize| {
        if text.len() > max || text.contains('\0') {
            Err(format!(
                "{what} is over {max} bytes or holds a NUL character"
            ))
        } else {
            Ok(())
        }
    };
    if let Some(reply) = &message.reply {
        if message.actor != Actor::Assistant {
            return Err("only assistant messages are generated replies".into());
        }
        if reply.usage.is_some_and(|(p, c)| p < 0 || c < 0) {
            return Err("token counts must not be negative".into());
        }
        if let Some((code, text)) = &reply.error {
            plain("the error code", code, 64)?;
            plain("the error message", text, 4096)?;
        }
    }
    let files = message.files.as_deref().unwrap_or_default();
    if files.len() > MAX_FILES_PER_MESSAGE {
        return Err(format!("more than {MAX_FILES_PER_MESSAGE} files"));
    }
    for file in files {
        plain("a file's text", &file.text, max_bytes)?;
        for (what, text) in [
            ("a file's title", &file.title),
            ("a file's language", &file.language),
            ("a file's extension", &file.extension),
        ] {
            plain(what, text, 255)?;
        }
    }
    Ok(())
}

/// A title as a chat name: control characters as spaces, at most the name's length.
fn clean_name(title: &str) -> String {
    let spaced: String = title
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    truncate(spaced.trim(), ChatName::MAX_CHARS)
        .trim()
        .to_owned()
}

fn truncate(text: &str, chars: usize) -> String {
    text.chars().take(chars).collect()
}

/// The tags that are valid as tags, the first [`Tags`] allows: an import keeps what it
/// can rather than refuse a conversation over a label.
fn lenient_tags(tags: &[String]) -> Tags {
    let valid: Vec<String> = tags
        .iter()
        .filter_map(|tag| Tags::parse_one(tag).ok())
        .take(Tags::MAX_COUNT)
        .collect();
    Tags::parse(&valid).unwrap_or_default()
}
