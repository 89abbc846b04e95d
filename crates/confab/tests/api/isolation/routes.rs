//! The rows of the access matrix: every route of both APIs and both WebSocket upgrades,
//! how each authenticates, and the status each column of callers must get.

use reqwest::Method;
use serde_json::{json, Value};

/// How a route authenticates, which decides each column's credential:
///
/// | column | `Cookie` routes | `Key` routes |
/// |---|---|---|
/// | no credentials | nothing | nothing |
/// | garbage credentials | a cookie that is no session | a key of the right shape that does not exist |
/// | expired session | Bob's expired session | the same cookie (not a key) |
/// | revoked session | Bob's logged-out session | the same cookie |
/// | revoked key | Bob's tenant's revoked key | the same key |
/// | other user | Ann's session (same tenant) | the same cookie |
/// | other tenant | Zed's session (a user of another tenant) | the other tenant's key |
/// | owner | Bob's session | Bob's tenant's key |
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Creds {
    Cookie,
    Key,
}

/// Which API's error shape a route answers in (or none: a WebSocket's 101, a HEAD).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    User,
    Tenant,
}

pub(super) struct Route {
    pub(super) method: Method,
    /// `{u}` user id, `{c}` chat id, `{uuid}` chat uuid, `{m}` a message of the chat off
    /// its active branch, `{s}` a share link of the chat, `{x}` a fresh user of Bob's
    /// tenant, `{n}` a fresh number.
    pub(super) path: &'static str,
    pub(super) body: Option<Value>,
    pub(super) creds: Creds,
    pub(super) shape: Shape,
    /// The other user and the other tenant name their own user id (and the victim's
    /// chat), so the store, not the id check, must refuse. Otherwise they name Bob's.
    pub(super) others_use_own_id: bool,
    /// A WebSocket upgrade: 101 when accepted.
    pub(super) websocket: bool,
    /// Answers an event stream when it succeeds (only its status is read then).
    pub(super) event_stream: bool,
    /// Answers text, not JSON, when it succeeds (an NDJSON export, the web app's page).
    pub(super) text: bool,
    /// Names a chat in the trash: Bob's trashed chat, or the owner's fresh chat trashed
    /// first.
    pub(super) trashed: bool,
    /// The status of each column of [`CALLERS`](super::CALLERS).
    pub(super) expect: [u16; 8],
}

#[rustfmt::skip]
pub(super) fn routes() -> Vec<Route> {
    use Creds::{Cookie, Key};
    use Shape::{Tenant, User};
    let r = |method: Method, path, body, creds, shape, expect| Route {
        method, path, body, creds, shape, others_use_own_id: false, websocket: false,
        event_stream: false, text: false, trashed: false, expect,
    };
    let text = |route: Route| Route { text: true, ..route };
    let trash = |route: Route| Route { trashed: true, ..route };
    let sse = |route: Route| Route { event_stream: true, ..route };
    let own = |route: Route| Route { others_use_own_id: true, ..route };
    let ws = |route: Route| Route { websocket: true, ..route };
    let get = Method::GET;
    let post = Method::POST;
    let delete = Method::DELETE;
    let (patch, put) = (Method::PATCH, Method::PUT);
    let message = json!({"message": "intruder", "actor": "user"});
    // The owner's reply comes from the test double's `echo` model.
    let generate = json!({"message": {"content": "intruder"}, "model": "echo", "stream": false});
    // One ChatGPT conversation: importing it makes a chat in the caller's own tenant.
    let import = json!([{"id": "intruder-{n}", "title": "imported", "current_node": "a", "mapping": {
        "a": {"id": "a", "parent": null, "children": [], "message": {
            "author": {"role": "user"}, "content": {"content_type": "text", "parts": ["intruder"]}}}}}]);
    vec![
        // Public auth routes: credentials in the body; cookies and keys are ignored.
        //                                                                       none garb  exp  rev rkey user tenant owner
        r(post.clone(), "/api/auth/sign-up", Some(json!({"email": "new{n}@example.com", "password": "correct horse battery"})),
          Cookie, User,                                                      [201, 201, 201, 201, 201, 201, 201, 201]),
        r(post.clone(), "/api/auth/login", Some(json!({"email": "bob@example.com", "password": "correct horse battery"})),
          Cookie, User,                                                      [200, 200, 200, 200, 200, 200, 200, 200]),
        r(Method::HEAD, "/api/auth/check", None, Cookie, User,               [401, 401, 401, 401, 401, 200, 200, 200]),
        // User API.
        r(get.clone(), "/api/users/{u}/chats", None, Cookie, User,           [401, 401, 401, 401, 401, 404, 404, 200]),
        r(post.clone(), "/api/users/{u}/chats", Some(json!({"name": "intruder"})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200]),
        r(delete.clone(), "/api/users/{u}/chats", Some(json!({"chat_ids": ["{c}"]})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200]),
        // Bulk delete under one's own id naming the victim's chat: `true`, and nothing
        // of the victim's is touched (the snapshot proves it).
        own(r(delete.clone(), "/api/users/{u}/chats", Some(json!({"chat_ids": ["{c}"]})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 200, 200, 200])),
        own(r(Method::PATCH, "/api/users/{u}/chats/{c}", Some(json!({"name": "renamed"})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(delete.clone(), "/api/users/{u}/chats/{c}", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(get.clone(), "/api/users/{u}/chats/{c}/messages", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(post.clone(), "/api/users/{u}/chats/{c}/messages", Some(message.clone()), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(delete.clone(), "/api/users/{u}/chats/{c}/messages/last", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(get.clone(), "/api/users/{u}/chats/{c}/files", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(ws(r(get.clone(), "/api/users/{u}/chats/{c}/ws", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 101]))),
        // The message tree: an edit, a branch switch and the whole tree. Others naming
        // Bob's chat and message under their own id may neither see nor change anything.
        own(r(patch.clone(), "/api/users/{u}/chats/{c}/messages/{m}", Some(json!({"message": "intruder's edit"})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(put.clone(), "/api/users/{u}/chats/{c}/current", Some(json!({"message_id": "{m}"})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(get.clone(), "/api/users/{u}/chats/{c}/tree", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        // Generated replies (SPEC §8): generate, resume a reply's stream, stop it.
        own(r(post.clone(), "/api/users/{u}/chats/{c}/generate", Some(generate.clone()), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 201])),
        own(sse(r(get.clone(), "/api/users/{u}/chats/{c}/messages/{m}/stream", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200]))),
        own(r(post.clone(), "/api/users/{u}/chats/{c}/messages/{m}/stop", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        // Search (SPEC §7). Others naming Bob's id get the 404 of every user route;
        // under their own id they search their own chats and find nothing of Bob's.
        r(get.clone(), "/api/users/{u}/search?q=bob", None, Cookie, User,   [401, 401, 401, 401, 401, 404, 404, 200]),
        own(r(get.clone(), "/api/users/{u}/search?q=bob&limit=100", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 200, 200, 200])),
        // Organise and lifecycle (SPEC §9): tags, the trash, share links. Under their own
        // id, others list their own (empty) trash and cannot reach Bob's.
        own(r(patch.clone(), "/api/users/{u}/chats/{c}", Some(json!({"pinned": true, "tags": ["x"]})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        r(get.clone(), "/api/users/{u}/trash", None, Cookie, User,           [401, 401, 401, 401, 401, 404, 404, 200]),
        own(trash(r(post.clone(), "/api/users/{u}/chats/{c}/restore", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200]))),
        own(trash(r(delete.clone(), "/api/users/{u}/trash/{c}", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200]))),
        own(r(post.clone(), "/api/users/{u}/chats/{c}/share", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        own(r(delete.clone(), "/api/users/{u}/chats/{c}/share/{s}", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200])),
        // Export and import (SPEC §10). Under their own id, others export their own chats
        // (checked to hold nothing of Bob's).
        text(r(get.clone(), "/api/users/{u}/export", None, Cookie, User,  [401, 401, 401, 401, 401, 404, 404, 200])),
        own(text(r(get.clone(), "/api/users/{u}/export", None, Cookie, User,
                                                                             [401, 401, 401, 401, 401, 200, 200, 200]))),
        // The web app's page is public; the data it shows comes from the routes above.
        text(r(get.clone(), "/", None, Cookie, User,                         [200, 200, 200, 200, 200, 200, 200, 200])),
        // A share link needs no credentials, and any credential is ignored.
        r(get.clone(), "/api/shared/{s}", None, Cookie, User,                [200, 200, 200, 200, 200, 200, 200, 200]),
        // Tenant API. Another tenant's key lists and creates in its own tenant only,
        // and searches it only, even naming Bob's chat.
        r(get.clone(), "/api/v1/search?q=bob", None, Key, Tenant,            [401, 401, 401, 401, 401, 401, 200, 200]),
        r(get.clone(), "/api/v1/search?q=bob&chat_id={uuid}", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 200, 200]),
        r(get.clone(), "/api/v1/chats?limit=100", None, Key, Tenant,         [401, 401, 401, 401, 401, 401, 200, 200]),
        r(post.clone(), "/api/v1/chats", Some(json!({"name": "intruder"})), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 201, 201]),
        r(get.clone(), "/api/v1/chats/{uuid}", None, Key, Tenant,            [401, 401, 401, 401, 401, 401, 404, 200]),
        r(get.clone(), "/api/v1/chats/{uuid}/messages", None, Key, Tenant,   [401, 401, 401, 401, 401, 401, 404, 200]),
        r(post.clone(), "/api/v1/chats/{uuid}/messages", Some(message), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 201]),
        r(delete.clone(), "/api/v1/chats/{uuid}/messages/last", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(get.clone(), "/api/v1/chats/{uuid}/export?format=json", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(patch.clone(), "/api/v1/chats/{uuid}/messages/{m}", Some(json!({"message": "intruder's edit"})), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(put, "/api/v1/chats/{uuid}/current", Some(json!({"message_id": "{m}"})), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(get.clone(), "/api/v1/chats/{uuid}/tree", None, Key, Tenant,       [401, 401, 401, 401, 401, 401, 404, 200]),
        r(post.clone(), "/api/v1/chats/{uuid}/generate", Some(generate), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 201]),
        sse(r(get.clone(), "/api/v1/chats/{uuid}/messages/{m}/stream", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200])),
        r(post.clone(), "/api/v1/chats/{uuid}/messages/{m}/stop", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(patch, "/api/v1/chats/{uuid}", Some(json!({"archived": true, "tags": ["x"]})), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(get.clone(), "/api/v1/trash?limit=100", None, Key, Tenant,         [401, 401, 401, 401, 401, 401, 200, 200]),
        trash(r(post.clone(), "/api/v1/chats/{uuid}/restore", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200])),
        trash(r(delete.clone(), "/api/v1/trash/{uuid}", None, Key, Tenant,   [401, 401, 401, 401, 401, 401, 404, 200])),
        r(post.clone(), "/api/v1/chats/{uuid}/share", None, Key, Tenant,     [401, 401, 401, 401, 401, 401, 404, 201]),
        r(delete.clone(), "/api/v1/chats/{uuid}/share/{s}", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(delete.clone(), "/api/v1/users/{x}", None, Key, Tenant,            [401, 401, 401, 401, 401, 401, 404, 200]),
        // Another tenant exports and imports its own tenant only, and cannot name Bob.
        text(r(get.clone(), "/api/v1/export", None, Key, Tenant,           [401, 401, 401, 401, 401, 401, 200, 200])),
        text(r(get.clone(), "/api/v1/export?user_id={u}", None, Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200])),
        r(post.clone(), "/api/v1/import?format=chatgpt", Some(import.clone()), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 200, 200]),
        r(post.clone(), "/api/v1/import?format=chatgpt&user_id={u}", Some(import), Key, Tenant,
                                                                             [401, 401, 401, 401, 401, 401, 404, 200]),
        r(delete.clone(), "/api/v1/chats/{uuid}", None, Key, Tenant,         [401, 401, 401, 401, 401, 401, 404, 200]),
        // The tenant WebSocket takes a key, or the session of the chat's owner: a
        // signed-in user who does not own the chat gets 404, like another tenant.
        ws(r(get.clone(), "/api/v1/chats/{uuid}/ws", None, Key, Tenant,      [401, 401, 401, 401, 401, 404, 404, 101])),
        ws(r(get.clone(), "/api/v1/chats/{uuid}/ws", None, Cookie, Tenant,   [401, 401, 401, 401, 401, 404, 404, 101])),
        // Near the end, as the owner erases himself: deleting one's own account takes the
        // password; naming Bob's id, others get the 404 of every user route.
        r(delete, "/api/users/{u}", Some(json!({"password": "correct horse battery"})), Cookie, User,
                                                                             [401, 401, 401, 401, 401, 404, 404, 200]),
        // Last: logging out always answers `true` (and revokes the session it was given).
        r(post, "/api/auth/logout", None, Cookie, User,                      [200, 200, 200, 200, 200, 200, 200, 200]),
    ]
}
