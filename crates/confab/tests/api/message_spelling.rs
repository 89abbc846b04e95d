//! A message is spelled `{"message","actor"}` or `{"content","role"}`, in the single
//! form and in batch items alike, through both APIs; one message mixing the spellings is
//! a 400 that writes nothing.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Auth, Backend, TestApp};
use crate::tenant_support::user_with_chat;

crate::per_backend!(both_spellings_in_both_forms_through_both_apis);

async fn both_spellings_in_both_forms_through_both_apis(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (key, user, chat_id, uuid) = user_with_chat(&app, "spell@example.com").await;
    let user_path = format!("/api/users/{}/chats/{chat_id}/messages", user.id);
    let tenant_path = format!("/api/v1/chats/{uuid}/messages");
    let apis: [(&str, &Auth); 2] = [(&user_path, &user.auth), (&tenant_path, &key)];

    let mut expected = Vec::new();
    for (api, (path, auth)) in apis.iter().enumerate() {
        let accepted = [
            json!({"message": format!("{api} single message"), "actor": "user"}),
            json!({"content": format!("{api} single content"), "role": "assistant"}),
            json!({"messages": [
                {"content": format!("{api} batch content"), "role": "user"},
                {"message": format!("{api} batch message"), "actor": "system"},
            ]}),
        ];
        for body in accepted {
            let (status, answer) = app.post(path, auth, body.clone()).await;
            assert!(status.is_success(), "{path} {body}: {status} {answer}");
        }
        expected.extend([
            ("user", format!("{api} single message")),
            ("assistant", format!("{api} single content")),
            ("user", format!("{api} batch content")),
            ("system", format!("{api} batch message")),
        ]);

        let mixed = [
            json!({"message": "a", "content": "a", "actor": "user"}),
            json!({"message": "a", "actor": "user", "role": "user"}),
            json!({"content": "a", "actor": "user"}),
            json!({"messages": [{"content": "a", "message": "a", "role": "user"}]}),
            json!({"messages": [{"content": "a", "role": "user", "actor": "user"}]}),
            json!({"messages": [{"message": "a", "role": "user"}]}),
        ];
        for body in mixed {
            let (status, answer) = app.post(path, auth, body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path} {body}: {answer}");
            let text = answer.to_string();
            assert!(
                text.contains("not a mix") || text.contains("missing field"),
                "{path} {body}: {answer}"
            );
        }
    }

    // Exactly the accepted messages were stored, in order, whatever their spelling.
    let (status, listed) = app.get(&tenant_path, &key).await;
    assert_eq!(status, StatusCode::OK, "{listed}");
    let stored: Vec<(String, String)> = listed["data"]
        .as_array()
        .expect("data")
        .iter()
        .map(|m: &Value| {
            (
                m["actor"].as_str().unwrap_or_default().to_owned(),
                m["message"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = expected
        .into_iter()
        .map(|(actor, text)| (actor.to_owned(), text))
        .collect();
    assert_eq!(stored, expected);
}
