//! Full-text search over both APIs (SPEC §7): the shapes of both routes, the query
//! language, snippets and highlights, what a search sees after branches, deletes and
//! renames, ranking, bands, paging, the tenant filters, scope, consistency under
//! concurrent writes, and a database made before search.
//!
//! Helpers shared by the submodules live here: request builders, a hit checker that
//! reads the raw body (so key order is checked, which `serde_json::Value` forgets), and
//! the Unicode folding the highlight checks compare with.

#![allow(dead_code)] // each submodule uses a different part of the helpers

mod bands;
#[cfg(test)]
mod checkers;
mod consistency;
mod in_memory;
mod language;
mod lifecycle;
mod long_texts;
mod migration;
mod paging;
mod scope;
mod shapes;
mod snippets;

use reqwest::StatusCode;
use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use std::fmt;
use unicode_normalization::char::is_combining_mark;
use unicode_normalization::UnicodeNormalization as _;

use crate::support::{Auth, TestApp, TestUser};

/// The keys of a hit, in the order the contract gives them.
pub const HIT_KEYS: [&str; 7] = [
    "chat_id",
    "chat_name",
    "message_id",
    "actor",
    "created_at",
    "snippet",
    "highlights",
];

/// The longest snippet, in code points.
pub const SNIPPET_MAX: usize = 240;

/// Which search route a call goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `GET /api/users/{uid}/search`: `{"results", "next_cursor"}`, integer chat ids.
    User,
    /// `GET /api/v1/search`: `{"data", "next_cursor"}`, uuid chat ids.
    Tenant,
}

impl Api {
    /// The key the hits are listed under.
    pub fn list_key(self) -> &'static str {
        match self {
            Api::User => "results",
            Api::Tenant => "data",
        }
    }
}

/// `path` with the query parameters percent-encoded.
pub fn with_query(path: &str, params: &[(&str, &str)]) -> String {
    if params.is_empty() {
        return path.to_owned();
    }
    let mut url = reqwest::Url::parse("http://search.invalid").expect("base url");
    url.set_path(path);
    {
        let mut pairs = url.query_pairs_mut();
        for (name, value) in params {
            pairs.append_pair(name, value);
        }
    }
    format!("{}?{}", url.path(), url.query().unwrap_or_default())
}

/// The user API's search path for `user` with `params`.
pub fn user_path(user: &TestUser, params: &[(&str, &str)]) -> String {
    with_query(&format!("/api/users/{}/search", user.id), params)
}

/// The tenant API's search path with `params`.
pub fn tenant_path(params: &[(&str, &str)]) -> String {
    with_query("/api/v1/search", params)
}

/// A raw GET: the status and the body text.
pub async fn get_raw(app: &TestApp, path: &str, auth: &Auth) -> (StatusCode, String) {
    let response = auth
        .apply(app.client.get(app.url(path)))
        .send()
        .await
        .expect("search sent");
    let status = response.status();
    (status, response.text().await.expect("search body"))
}

/// One page of a search: the hits (checked against the contract's shape) and the
/// next cursor. Fails on anything but a 200.
pub struct Page {
    pub hits: Vec<Value>,
    pub next_cursor: Option<String>,
}

/// Runs a search that must answer 200 and checks the page's shape.
pub async fn page(app: &TestApp, api: Api, path: &str, auth: &Auth) -> Page {
    let (status, text) = get_raw(app, path, auth).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {text}");
    parse_page(api, &text)
}

/// Parses and checks a 200 body of either route.
pub fn parse_page(api: Api, text: &str) -> Page {
    let ordered: Ordered = serde_json::from_str(text).expect("search body is JSON");
    let body: Value = serde_json::from_str(text).expect("search body is JSON");
    assert_eq!(
        ordered.keys(),
        [api.list_key(), "next_cursor"],
        "top-level keys in order: {text}"
    );
    let Ordered::Object(top) = &ordered else {
        panic!("search body is an object: {text}")
    };
    let Ordered::Array(hits) = &top[0].1 else {
        panic!("{} is an array: {text}", api.list_key())
    };
    for hit in hits {
        assert_eq!(hit.keys(), HIT_KEYS, "hit keys in order: {text}");
    }
    let next_cursor = match &body["next_cursor"] {
        Value::Null => None,
        Value::String(cursor) => {
            assert!(!cursor.is_empty(), "an empty cursor: {text}");
            Some(cursor.clone())
        }
        other => panic!("next_cursor is a string or null, not {other}"),
    };
    let hits = body[api.list_key()].as_array().expect("hits").clone();
    for hit in &hits {
        check_hit_types(api, hit);
    }
    Page { hits, next_cursor }
}

/// Every field of a hit has its contract type.
#[track_caller]
fn check_hit_types(api: Api, hit: &Value) {
    match api {
        Api::User => assert!(hit["chat_id"].as_i64().is_some_and(|id| id > 0), "{hit}"),
        Api::Tenant => assert!(
            hit["chat_id"]
                .as_str()
                .is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()),
            "{hit}"
        ),
    }
    assert!(hit["chat_name"].is_string(), "{hit}");
    match (&hit["message_id"], &hit["actor"]) {
        (Value::Null, Value::Null) => {}
        (Value::Number(id), Value::String(actor)) => {
            assert!(id.as_i64().is_some_and(|id| id > 0), "{hit}");
            assert!(
                ["user", "assistant", "system"].contains(&actor.as_str()),
                "{hit}"
            );
        }
        _ => panic!("message_id and actor are both null or both set: {hit}"),
    }
    let created_at = hit["created_at"].as_str().expect("created_at is a string");
    assert!(
        time::OffsetDateTime::parse(created_at, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "created_at is RFC 3339: {hit}"
    );
    let snippet = hit["snippet"].as_str().expect("snippet is a string");
    assert!(
        snippet.chars().count() <= SNIPPET_MAX,
        "snippet over {SNIPPET_MAX} code points: {hit}"
    );
    assert!(
        !snippet.contains(['\n', '\t']),
        "newlines and tabs become spaces: {hit}"
    );
    let mut last_end = 0;
    for span in highlights(hit) {
        let (start, end) = span;
        assert!(start < end, "empty or reversed highlight: {hit}");
        assert!(
            start >= last_end,
            "highlights sorted, not overlapping: {hit}"
        );
        assert!(
            end <= snippet.chars().count(),
            "highlight past the snippet: {hit}"
        );
        last_end = end;
    }
}

/// A hit's highlights as (start, end) pairs.
pub fn highlights(hit: &Value) -> Vec<(usize, usize)> {
    hit["highlights"]
        .as_array()
        .expect("highlights is an array")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("a highlight is a pair");
            assert_eq!(pair.len(), 2, "a highlight is [start, end]: {hit}");
            let at = |i: usize| {
                usize::try_from(pair[i].as_u64().expect("offsets are integers")).expect("offset")
            };
            (at(0), at(1))
        })
        .collect()
}

/// The highlighted pieces of a hit's snippet, by code point.
pub fn highlighted(hit: &Value) -> Vec<String> {
    let snippet: Vec<char> = hit["snippet"].as_str().expect("snippet").chars().collect();
    highlights(hit)
        .into_iter()
        .map(|(start, end)| snippet[start..end].iter().collect())
        .collect()
}

/// Case, diacritics and width folded (NFKD, combining marks dropped, lowercased).
pub fn fold(text: &str) -> String {
    text.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The folded words of `text` (runs of letters and digits), joined by single spaces:
/// how a phrase and its highlighted span compare.
pub fn words(text: &str) -> String {
    fold(text)
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Han, Hiragana or Katakana: text the contract searches by substrings.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x31F0..=0x31FF)
}

/// Every highlight of the hit is one of `terms` (a term ending in `*` is a prefix: the
/// highlighted word starts with it), and Latin terms are highlighted as whole words.
#[track_caller]
pub fn assert_highlights_match(hit: &Value, terms: &[&str]) {
    let snippet: Vec<char> = hit["snippet"].as_str().expect("snippet").chars().collect();
    let spans = highlights(hit);
    assert!(!spans.is_empty(), "a hit highlights its match: {hit}");
    for (start, end) in spans {
        let piece: String = snippet[start..end].iter().collect();
        let matched = terms.iter().any(|term| match term.strip_suffix('*') {
            Some(prefix) => words(&piece).starts_with(&words(prefix)),
            None => words(&piece) == words(term),
        });
        assert!(matched, "highlight {piece:?} is none of {terms:?}: {hit}");
        if !piece.chars().any(is_cjk) {
            let before = start.checked_sub(1).map(|i| snippet[i]);
            let after = snippet.get(end).copied();
            for neighbour in [before, after].into_iter().flatten() {
                assert!(
                    !neighbour.is_alphanumeric(),
                    "highlight {piece:?} is not a whole word: {hit}"
                );
            }
        }
    }
}

/// The snippet is a piece of `text` (with newlines and tabs as spaces).
#[track_caller]
pub fn assert_snippet_of(hit: &Value, text: &str) {
    let flat: String = text
        .chars()
        .map(|c| if matches!(c, '\n' | '\t') { ' ' } else { c })
        .collect();
    let snippet = hit["snippet"].as_str().expect("snippet");
    assert!(
        !snippet.is_empty() && flat.contains(snippet),
        "the snippet is a piece of the text {text:?}: {hit}"
    );
}

/// The message ids of the hits (name hits left out), in order.
pub fn message_ids(hits: &[Value]) -> Vec<i64> {
    hits.iter()
        .filter_map(|h| h["message_id"].as_i64())
        .collect()
}

/// The chat names of the name hits (message_id null), in order.
pub fn name_hits(hits: &[Value]) -> Vec<String> {
    hits.iter()
        .filter(|h| h["message_id"].is_null())
        .map(|h| h["chat_name"].as_str().expect("chat_name").to_owned())
        .collect()
}

/// Posts each of `texts` as `user` (actor `user`) to the chat `chat_of` its index gives;
/// returns the message ids in order.
pub async fn post_texts(
    app: &TestApp,
    user: &TestUser,
    texts: &[&str],
    chat_of: impl Fn(usize) -> i64,
) -> Vec<i64> {
    let mut ids = Vec::with_capacity(texts.len());
    for (n, text) in texts.iter().enumerate() {
        ids.push(app.post_message(user, chat_of(n), "user", text).await);
    }
    ids
}

/// Runs a search on the user API that must answer 200; its hits (one page of 100).
pub async fn user_hits(app: &TestApp, user: &TestUser, q: &str) -> Vec<Value> {
    let path = user_path(user, &[("q", q), ("limit", "100")]);
    page(app, Api::User, &path, &user.auth).await.hits
}

/// Runs a search on the tenant API that must answer 200; its hits (one page of 100).
pub async fn tenant_hits(app: &TestApp, key: &Auth, params: &[(&str, &str)]) -> Vec<Value> {
    let mut params = params.to_vec();
    params.push(("limit", "100"));
    page(app, Api::Tenant, &tenant_path(&params), key)
        .await
        .hits
}

/// Walks every page of a search with `limit`; returns the hits in order, and checks
/// that only the last page lacks a cursor and that every other page is full.
pub async fn walk(
    app: &TestApp,
    api: Api,
    base: &str,
    params: &[(&str, &str)],
    auth: &Auth,
    limit: usize,
) -> Vec<Value> {
    let limit_text = limit.to_string();
    let mut hits = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let mut query = params.to_vec();
        query.push(("limit", &limit_text));
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor));
        }
        let page = page(app, api, &with_query(base, &query), auth).await;
        assert!(page.hits.len() <= limit, "a page holds at most limit hits");
        let count = page.hits.len();
        hits.extend(page.hits);
        match page.next_cursor {
            Some(next) => {
                assert_eq!(count, limit, "only full pages have a next page");
                cursor = Some(next);
            }
            None => return hits,
        }
    }
    panic!("a search walk of {base} never ended");
}

/// The key order of a JSON document (what `serde_json::Value` forgets).
pub enum Ordered {
    Object(Vec<(String, Ordered)>),
    Array(Vec<Ordered>),
    Scalar,
}

impl Ordered {
    /// The keys of an object, in order (none for anything else).
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Ordered::Object(entries) => entries.iter().map(|(k, _)| k.as_str()).collect(),
            _ => Vec::new(),
        }
    }
}

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct OrderedVisitor;
        impl<'de> Visitor<'de> for OrderedVisitor {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut entries = Vec::new();
                while let Some(key) = map.next_key::<String>()? {
                    entries.push((key, map.next_value::<Ordered>()?));
                }
                Ok(Ordered::Object(entries))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Ordered, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Ordered>()? {
                    items.push(item);
                }
                Ok(Ordered::Array(items))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_str<E>(self, _: &str) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Scalar)
            }
        }
        deserializer.deserialize_any(OrderedVisitor)
    }
}

/// Asserts a user-API error body with `status`.
#[track_caller]
pub fn assert_user_error(actual: (StatusCode, Value), status: StatusCode) {
    let (got, body) = actual;
    assert_eq!(got, status, "{body}");
    assert_eq!(body["statusCode"], status.as_u16(), "{body}");
    assert!(body["statusMessage"].is_string(), "{body}");
    assert!(
        body["data"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
}
