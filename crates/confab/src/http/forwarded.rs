//! Whether the client reached the proxy in front over HTTPS, as that proxy says.
//!
//! Proxy headers are believed only with `--trust-forwarded-for`: without a proxy that
//! overwrites them, any client could claim them. The proxy's own statement is the last
//! one: the last element of the last `Forwarded` header (RFC 7239, `proto=https`), or,
//! when no `Forwarded` header names a proto, the last value of `X-Forwarded-Proto`.

use axum::http::{HeaderMap, HeaderName};

static FORWARDED: HeaderName = HeaderName::from_static("forwarded");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// True when a trusted proxy says the client used HTTPS.
pub fn client_used_https(headers: &HeaderMap, trusted: bool) -> bool {
    if !trusted {
        return false;
    }
    let proto = last_forwarded_proto(headers).or_else(|| last_x_forwarded_proto(headers));
    proto.is_some_and(|proto| proto.eq_ignore_ascii_case("https"))
}

/// `proto` of the last element of the last `Forwarded` header, if it has one.
fn last_forwarded_proto(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get_all(&FORWARDED)
        .iter()
        .next_back()?
        .to_str()
        .ok()?;
    // Elements are comma-separated, pairs within one semicolon-separated. Quoted values
    // with commas are not proxies' style for proto, so a plain split is enough here.
    let element = value.rsplit(',').next()?;
    element.split(';').find_map(|pair| {
        let (name, value) = pair.split_once('=')?;
        name.trim()
            .eq_ignore_ascii_case("proto")
            .then(|| value.trim().trim_matches('"'))
    })
}

fn last_x_forwarded_proto(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get_all(&X_FORWARDED_PROTO)
        .iter()
        .next_back()?
        .to_str()
        .ok()?;
    value.rsplit(',').next().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn only_a_trusted_proxy_is_believed() {
        let https = headers(&[("x-forwarded-proto", "https")]);
        assert!(client_used_https(&https, true));
        assert!(!client_used_https(&https, false));
        assert!(!client_used_https(
            &headers(&[("forwarded", "proto=https")]),
            false
        ));
    }

    #[test]
    fn rfc_7239_and_the_last_entry_win() {
        for (pairs, expected) in [
            (&[("forwarded", "for=192.0.2.1;proto=https")][..], true),
            (
                &[("forwarded", "for=192.0.2.1;Proto=\"HTTPS\";by=x")][..],
                true,
            ),
            (
                &[("forwarded", "proto=https, for=192.0.2.9;proto=http")][..],
                false,
            ),
            (
                &[("forwarded", "proto=http"), ("forwarded", "proto=https")][..],
                true,
            ),
            (
                &[
                    ("forwarded", "for=192.0.2.1"),
                    ("x-forwarded-proto", "https"),
                ][..],
                true,
            ),
            (
                &[("forwarded", "proto=http"), ("x-forwarded-proto", "https")][..],
                false,
            ),
            (&[("x-forwarded-proto", "https, http")][..], false),
            (&[("x-forwarded-proto", "http, https")][..], true),
            (&[][..], false),
        ] {
            assert_eq!(
                client_used_https(&headers(pairs), true),
                expected,
                "{pairs:?}"
            );
        }
    }
}
