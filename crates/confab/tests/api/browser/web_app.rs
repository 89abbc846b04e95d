//! The web app at `/`: served from the binary with a strict Content-Security-Policy,
//! revalidated by ETag, compressed when the client accepts it; API paths keep their
//! JSON errors.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::io::Read as _;

use crate::support::{Backend, TestApp};

crate::per_backend!(the_app_is_served_with_a_strict_policy);

const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; font-src 'self'; connect-src 'self'; manifest-src 'self'; \
    base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn fetch(
    app: &TestApp,
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
) -> reqwest::Response {
    let mut request = app.client.request(method, app.url(path));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.expect("sent")
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The local files `index.html` names in `src="/…"` and `href="/…"`.
fn linked_files(page: &str) -> Vec<String> {
    let mut files = Vec::new();
    for attribute in ["src=\"/", "href=\"/"] {
        for (at, _) in page.match_indices(attribute) {
            let rest = &page[at + attribute.len() - 1..];
            if let Some(end) = rest.find('"') {
                files.push(rest[..end].to_owned());
            }
        }
    }
    files
}

async fn the_app_is_served_with_a_strict_policy(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let response = fetch(&app, Method::GET, "/", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        header(&response, "content-type"),
        "text/html; charset=utf-8"
    );
    assert_eq!(header(&response, "content-security-policy"), POLICY);
    assert_eq!(header(&response, "x-content-type-options"), "nosniff");
    assert_eq!(header(&response, "referrer-policy"), "no-referrer");
    assert_eq!(header(&response, "cache-control"), "no-cache");
    let etag = header(&response, "etag");
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");
    let page = response.text().await.expect("page");
    assert!(page.starts_with("<!doctype html>"), "{page}");

    // Unchanged: 304 without a body, for the tag alone, in a list, or weak.
    let weak = format!("W/{etag}");
    let listed = format!("\"other\", {etag}");
    for tags in [etag.as_str(), &weak, &listed] {
        let response = fetch(&app, Method::GET, "/", &[("if-none-match", tags)]).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{tags}");
        assert_eq!(header(&response, "etag"), etag);
        assert!(response.bytes().await.expect("body").is_empty());
    }
    // The compressed page is another representation, with a tag of its own.
    let zipped = fetch(&app, Method::GET, "/", &[("accept-encoding", "gzip")]).await;
    let zipped_etag = header(&zipped, "etag");
    assert_eq!(header(&zipped, "content-encoding"), "gzip");
    assert!(
        !zipped_etag.is_empty() && zipped_etag != etag,
        "{zipped_etag}"
    );
    let gzip = [
        ("accept-encoding", "gzip"),
        ("if-none-match", etag.as_str()),
    ];
    let response = fetch(&app, Method::GET, "/", &gzip).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "the plain tag does not name the gzip body"
    );
    // HEAD: the headers alone.
    let response = fetch(&app, Method::HEAD, "/", &[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(header(&response, "content-length"), page.len().to_string());

    // Every file the page links is served, with the same policy; text is gzipped for
    // clients that accept it and is the same once decompressed.
    let files = linked_files(&page);
    assert!(!files.is_empty(), "the page links its scripts and styles");
    for file in files {
        let plain = fetch(&app, Method::GET, &file, &[]).await;
        assert_eq!(plain.status(), StatusCode::OK, "{file}");
        assert_eq!(header(&plain, "content-security-policy"), POLICY, "{file}");
        let plain = plain.bytes().await.expect("body");
        let zipped = fetch(&app, Method::GET, &file, &[("accept-encoding", "gzip, br")]).await;
        let compressed = header(&zipped, "content-encoding") == "gzip";
        let body = zipped.bytes().await.expect("body");
        let body = if compressed {
            let mut text = Vec::new();
            flate2::read::GzDecoder::new(&body[..])
                .read_to_end(&mut text)
                .expect("gzip");
            assert!(body.len() < text.len(), "{file}: compression pays");
            text
        } else {
            assert!(
                plain.len() < 256,
                "{file}: {} bytes sent uncompressed",
                plain.len()
            );
            body.to_vec()
        };
        assert_eq!(body, plain.to_vec(), "{file}");
    }

    // Everything else keeps the API's JSON errors.
    for (method, path, status) in [
        (Method::GET, "/app/no-such-file.js", 404),
        (Method::GET, "/api/nothing-here", 404),
        (Method::GET, "/index.htm", 404),
        (Method::POST, "/", 405),
        (Method::DELETE, "/index.html", 405),
    ] {
        let response = fetch(&app, method.clone(), path, &[]).await;
        assert_eq!(response.status().as_u16(), status, "{method} {path}");
        assert!(header(&response, "content-security-policy").is_empty());
        let body: Value = response.json().await.expect("json error");
        assert_eq!(body["statusCode"], status, "{body}");
    }
}
