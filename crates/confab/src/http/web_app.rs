//! The web app at `/`: the files of `crates/confab/web/`, embedded in the binary by
//! `build.rs`, served as they are (no build step). `/` is `index.html`; every other file
//! is served at its path under `web/` (`/app/main.js`). The app routes in the URL's
//! fragment, so no other path needs to answer with the page.
//!
//! Every answer carries a strict Content-Security-Policy (only this origin's scripts,
//! styles, images, fonts and connections; no inline script; no framing), `nosniff`,
//! no referrer, and an `ETag` to revalidate against (`Cache-Control: no-cache`, so a
//! new release is picked up at once and an unchanged file costs a 304; the compressed
//! and the plain file have tags of their own). Text files go
//! out gzip-compressed to clients that accept it, compressed once on first use.

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write as _;
use std::sync::OnceLock;

use super::error::ApiError;

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self'; img-src 'self' data:; font-src 'self'; connect-src 'self'; \
    manifest-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

struct Asset {
    body: &'static [u8],
    content_type: &'static str,
    /// The file's digest: its entity tag, `"<digest>"` plain and `"<digest>-gzip"`
    /// compressed (each representation has its own strong tag).
    digest: String,
    /// Compressed on first use; `None` when compression does not pay (or is not text).
    gzip: OnceLock<Option<Vec<u8>>>,
}

fn assets() -> &'static HashMap<&'static str, Asset> {
    static ASSETS: OnceLock<HashMap<&'static str, Asset>> = OnceLock::new();
    ASSETS.get_or_init(|| {
        embedded::ASSETS
            .iter()
            .map(|&(path, body)| {
                let asset = Asset {
                    body,
                    content_type: content_type(path),
                    digest: URL_SAFE_NO_PAD.encode(&Sha256::digest(body)[..12]),
                    gzip: OnceLock::new(),
                };
                (path, asset)
            })
            .collect()
    })
}

/// The router's fallback: a file of the web app for GET and HEAD outside `/api/`, else
/// the API's 404 (or 405) in JSON.
pub async fn fallback(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path();
    let name = if path == "/" {
        "index.html"
    } else {
        &path[1.min(path.len())..]
    };
    let asset = (!path.starts_with("/api/"))
        .then(|| assets().get(name))
        .flatten();
    match asset {
        Some(asset) if method == Method::GET || method == Method::HEAD => {
            serve(asset, method == Method::HEAD, &headers)
        }
        Some(_) => ApiError::method_not_allowed().into_response(),
        None => ApiError::route_not_found().into_response(),
    }
}

fn serve(asset: &'static Asset, head: bool, request: &HeaderMap) -> Response {
    let gzip = accepts_gzip(request)
        .then(|| asset.gzip.get_or_init(|| compress(asset)).as_deref())
        .flatten();
    let etag = format!(
        "{}{}",
        asset.digest,
        if gzip.is_some() { "-gzip" } else { "" }
    );
    let fresh = none_match(request, &etag);
    let body = gzip.unwrap_or(asset.body);
    let mut response = if head || fresh {
        Response::new(Body::empty())
    } else {
        Response::new(Body::from(body))
    };
    if fresh {
        *response.status_mut() = StatusCode::NOT_MODIFIED;
    }
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, asset.content_type),
        (header::CACHE_CONTROL, "no-cache"),
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::VARY, "accept-encoding"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(&format!("\"{etag}\"")) {
        headers.insert(header::ETAG, value);
    }
    if !fresh {
        if gzip.is_some() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    }
    response
}

/// Whether `If-None-Match` names `etag` (or `*`): a list of tags, weak ones compared by
/// their opaque part, as the weak comparison of RFC 9110 says.
fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    list_items(headers, header::IF_NONE_MATCH).any(|tag| {
        let tag = tag.strip_prefix("W/").unwrap_or(tag);
        tag == "*" || tag.strip_prefix('"').and_then(|t| t.strip_suffix('"')) == Some(etag)
    })
}

/// The items of a list-valued header, over all its lines (`a, b` and `b` twice alike).
fn list_items(headers: &HeaderMap, name: header::HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
}

/// Whether `Accept-Encoding` names gzip (without `q=0`).
fn accepts_gzip(headers: &HeaderMap) -> bool {
    list_items(headers, header::ACCEPT_ENCODING).any(|coding| {
        let mut parts = coding.split(';').map(str::trim);
        let name = parts.next().unwrap_or_default();
        let refused = parts.any(|p| p.replace(' ', "").eq_ignore_ascii_case("q=0"));
        name.eq_ignore_ascii_case("gzip") && !refused
    })
}

fn compress(asset: &Asset) -> Option<Vec<u8>> {
    let text = asset.content_type.starts_with("text/")
        || asset.content_type.starts_with("application/json")
        || asset.content_type.starts_with("image/svg");
    if !text || asset.body.len() < 256 {
        return None;
    }
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(asset.body).ok()?;
    let compressed = encoder.finish().ok()?;
    (compressed.len() < asset.body.len()).then_some(compressed)
}

fn content_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, e)| e).unwrap_or_default();
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(name: header::HeaderName, value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_str(value).expect("a header value"));
        headers
    }

    #[test]
    fn gzip_is_chosen_only_when_accepted() {
        let with = |value: &str| accepts_gzip(&one(header::ACCEPT_ENCODING, value));
        assert!(with("gzip, deflate, br"));
        assert!(with("br;q=1.0, GZIP;q=0.5"));
        assert!(!with("gzip;q=0"));
        assert!(!with("gzip; q=0"));
        assert!(!with("br, deflate"));
        assert!(!accepts_gzip(&HeaderMap::new()));
    }

    #[test]
    fn if_none_match_takes_lists_and_weak_tags() {
        let with = |value: &str| none_match(&one(header::IF_NONE_MATCH, value), "abc");
        assert!(with("\"abc\""));
        assert!(with("W/\"abc\""));
        assert!(with("\"x\", \"abc\""));
        assert!(with("*"));
        assert!(!with("\"abc-gzip\""));
        assert!(!with("abc"));
        assert!(!none_match(&HeaderMap::new(), "abc"));
    }

    #[test]
    fn the_page_and_its_files_are_embedded() {
        let index = assets()
            .get("index.html")
            .expect("web/index.html is embedded");
        assert_eq!(index.content_type, "text/html; charset=utf-8");
        assert!(index.body.starts_with(b"<!doctype html>"));
    }
}
