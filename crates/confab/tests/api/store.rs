//! The store itself, below HTTP: behaviour that needs many concurrent callers.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use confab::domain::{code_blocks, Actor, ChatName, Email, MessageText, ModelName};
use confab::store::{self, ChatRef, DeleteLastOutcome, NewChat, NewMessage, Store};

use crate::support::{Backend, TestDatabase};

crate::per_backend!(concurrent_delete_last_and_appends_serialise_per_chat);

/// A store on a fresh database, with one chat owned by a user.
pub struct Fixture {
    /// Kept so the database outlives the test.
    _database: TestDatabase,
    pub store: Arc<dyn Store>,
    pub chat: ChatRef,
}

impl Fixture {
    pub async fn new(backend: Backend) -> Fixture {
        let database = TestDatabase::create(backend).await;
        let store = store::connect(&database.url, 8).await.expect("store opens");
        let tenant = store.default_tenant().await.expect("default tenant");
        let email = Email::parse("owner@example.com").expect("email");
        let user = store
            .create_user(tenant.id, &email, "not-a-real-hash")
            .await
            .expect("user");
        let chat = store
            .create_chat(NewChat {
                tenant_id: tenant.id,
                user_id: Some(user.id),
                name: ChatName::parse("busy chat").expect("name"),
                model: ModelName::parse("m").expect("model"),
                metadata: None,
            })
            .await
            .expect("chat");
        Fixture {
            _database: database,
            store,
            chat: ChatRef::User {
                user_id: user.id,
                chat_id: chat.id,
            },
        }
    }
}

/// A message as the HTTP layer would build it (code files extracted).
pub fn message(actor: Actor, text: &str) -> NewMessage {
    let files = if actor == Actor::Assistant {
        code_blocks::extract(text)
    } else {
        Vec::new()
    };
    NewMessage {
        actor,
        text: MessageText::parse(text.to_owned(), 1 << 20).expect("text"),
        files,
    }
}

/// A user question and its answer, appended as one batch.
pub fn exchange(n: usize) -> Vec<NewMessage> {
    vec![
        message(Actor::User, &format!("question {n}")),
        message(
            Actor::Assistant,
            &format!("answer {n}\n```rust\nfn answer_{n}() {{}}\n```\n"),
        ),
    ]
}

/// SPEC §2: concurrent delete-last and appends on one chat behave as if run one after
/// the other. No message is reported deleted twice, every reported message is gone,
/// every other appended message is still there, and the chat never holds half an
/// exchange.
async fn concurrent_delete_last_and_appends_serialise_per_chat(backend: Backend) {
    let fixture = Fixture::new(backend).await;
    let store = &fixture.store;
    let chat = fixture.chat;
    let mut appended: BTreeSet<i64> = BTreeSet::new();
    for n in 0..12 {
        let batch = store
            .append_messages(&chat, exchange(n))
            .await
            .expect("seed");
        appended.extend(batch.messages.iter().map(|m| m.id));
    }

    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..24 {
        let store = store.clone();
        tasks.spawn(async move {
            if n % 2 == 0 {
                let outcome = store.delete_last(&chat).await.expect("delete-last");
                (Vec::new(), outcome.deleted_ids(), Some(outcome))
            } else {
                let batch = store
                    .append_messages(&chat, exchange(100 + n))
                    .await
                    .expect("append");
                (
                    batch.messages.iter().map(|m| m.id).collect(),
                    Vec::new(),
                    None,
                )
            }
        });
    }
    let mut deleted: Vec<i64> = Vec::new();
    let mut versions = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (added, removed, outcome) = joined.expect("task");
        appended.extend(added);
        deleted.extend(removed);
        if let Some(DeleteLastOutcome::Deleted {
            chat,
            trailing,
            exchange,
        }) = outcome
        {
            assert!(trailing.is_empty(), "appends always end with an answer");
            let pair = exchange.expect("a whole exchange is deleted");
            assert_eq!(pair.0.actor, Actor::User);
            assert_eq!(pair.1.actor, Actor::Assistant);
            assert!(
                versions.insert(chat.version),
                "each change gets its own chat version"
            );
        }
    }

    let unique: BTreeSet<i64> = deleted.iter().copied().collect();
    assert_eq!(unique.len(), deleted.len(), "no message reported twice");
    let remaining = store.list_messages(&chat).await.expect("list");
    let remaining_ids: BTreeSet<i64> = remaining.iter().map(|m| m.id).collect();
    let expected: BTreeSet<i64> = appended.difference(&unique).copied().collect();
    assert_eq!(remaining_ids, expected, "final state is the serial outcome");
    for pair in remaining.chunks(2) {
        assert_eq!(
            pair.iter().map(|m| m.actor).collect::<Vec<_>>(),
            vec![Actor::User, Actor::Assistant],
            "only whole exchanges remain"
        );
        assert_eq!(pair[1].files.len(), 1, "answers keep their code file");
    }
    let files = store.list_files(&chat).await.expect("files");
    assert!(
        files.iter().all(|f| remaining_ids.contains(&f.message_id)),
        "deleted messages took their files along"
    );
    assert_eq!(files.len(), remaining.len() / 2);
    // Every delete-last and append bumped the version once, on top of the 12 seeds.
    let final_chat = store.get_chat(&chat).await.expect("chat");
    assert_eq!(final_chat.version, 12 + 24);
}
