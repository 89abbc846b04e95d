//! The public address of a share link, as the client that created it reached us.

use axum::http::{header, HeaderMap};

/// `http(s)://HOST/api/shared/{id}` from the request's `Host` (`https` as the caller
/// decides: a `Secure` cookie, or a trusted proxy's word); the path alone when `Host` is
/// missing or not a plain host name and port.
pub fn share_url(headers: &HeaderMap, https: bool, id: &str) -> String {
    let path = format!("/api/shared/{id}");
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .filter(|host| {
            !host.is_empty()
                && host.len() <= 255
                && host
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        });
    match host {
        Some(host) => format!("{}://{host}{path}", if https { "https" } else { "http" }),
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn hosts_are_used_only_when_plain() {
        let mut headers = HeaderMap::new();
        assert_eq!(share_url(&headers, false, "x"), "/api/shared/x");
        headers.insert(header::HOST, HeaderValue::from_static("chat.example:8080"));
        assert_eq!(
            share_url(&headers, false, "x"),
            "http://chat.example:8080/api/shared/x"
        );
        assert_eq!(
            share_url(&headers, true, "x"),
            "https://chat.example:8080/api/shared/x"
        );
        headers.insert(header::HOST, HeaderValue::from_static("evil/path?"));
        assert_eq!(share_url(&headers, false, "x"), "/api/shared/x");
    }
}
