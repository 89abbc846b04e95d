//! Store-level behaviour that the HTTP tests cannot pin down precisely.

use confab::domain::{Actor, ChatName, MessageText, ModelName};
use confab::store::{ChatRef, NewChat, NewMessage, StoreError};

use crate::support::{Backend, TestApp};

crate::per_backend!(concurrent_appends_commit_together_and_fail_alone);

fn message(text: &str) -> NewMessage {
    NewMessage {
        actor: Actor::User,
        text: MessageText::parse(text.to_owned(), 1000).expect("text"),
        files: Vec::new(),
    }
}

/// Many appends at once (on SQLite they share transactions): the ones naming a missing
/// chat fail with NotFound and leave no trace; every other one is stored exactly once.
async fn concurrent_appends_commit_together_and_fail_alone(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let store = app.store();
    let tenant = store.default_tenant().await.expect("tenant");
    let chat = store
        .create_chat(NewChat {
            tenant_id: tenant.id,
            user_id: None,
            name: ChatName::parse("group").expect("name"),
            model: ModelName::default(),
            metadata: None,
        })
        .await
        .expect("chat");
    let good = ChatRef::Tenant {
        tenant_id: tenant.id,
        chat_uuid: chat.uuid,
    };
    let missing = ChatRef::Tenant {
        tenant_id: tenant.id,
        chat_uuid: uuid::Uuid::new_v4(),
    };
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..200 {
        let store = store.clone();
        let target = if i % 10 == 3 { missing } else { good };
        tasks.spawn(async move {
            let result = store
                .append_messages(
                    &target,
                    vec![message(&format!("m{i}")), message(&format!("m{i}b"))],
                )
                .await;
            (i, result)
        });
    }
    let mut stored = 0;
    while let Some(joined) = tasks.join_next().await {
        let (i, result) = joined.expect("task");
        if i % 10 == 3 {
            assert!(
                matches!(result, Err(StoreError::NotFound)),
                "append {i} to a missing chat: {result:?}"
            );
        } else {
            let appended = result.expect("append");
            assert_eq!(appended.messages.len(), 2);
            stored += 2;
        }
    }
    let messages = store.list_messages(&good).await.expect("list");
    assert_eq!(messages.len(), stored);
    let mut texts: Vec<&str> = messages.iter().map(|m| m.message.as_str()).collect();
    texts.sort_unstable();
    texts.dedup();
    assert_eq!(texts.len(), stored, "no message stored twice");
    // Each batch's two messages are adjacent: a batch is atomic and in order.
    for pair in messages.chunks(2) {
        assert_eq!(format!("{}b", pair[0].message), pair[1].message);
    }
    assert_eq!(
        store.get_chat(&good).await.expect("chat").version,
        180,
        "one version bump per successful append"
    );
}
