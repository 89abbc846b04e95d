//! Validating one request head under our limits, and finding how its body is framed.
//!
//! Mirrors the rules hyper applies (httparse, then Content-Length / Transfer-Encoding),
//! a little stricter where ambiguity could let the two disagree about where a body
//! ends: a request with both Content-Length and Transfer-Encoding is refused.

use std::mem::MaybeUninit;

use super::{Refusal, Rejection};
use crate::config::{HeadLimits, MAX_HEADERS_CAP};

/// The one route whose body may be as large as `--max-import-bytes`.
pub const IMPORT_PATH: &str = "/api/v1/import";

/// What a buffer holds so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Not a complete head yet (and nothing wrong so far).
    Partial,
    /// A valid head of `len` bytes, followed by a body framed as said.
    Complete { len: usize, body: Framing },
}

/// How the body after a head ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Empty,
    Length(u64),
    Chunked,
    /// An upgrade or CONNECT: whatever follows may not be HTTP; stop looking.
    Opaque,
}

/// Checks the head at the start of `buf`.
pub fn check(buf: &[u8], limits: &HeadLimits) -> Result<Head, Rejection> {
    let mut slots = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS_CAP];
    let slots = &mut slots[..limits.max_headers.clamp(1, MAX_HEADERS_CAP)];
    let mut request = httparse::Request::new(&mut []);
    let parsed = httparse::ParserConfig::default().parse_request_with_uninit_headers(
        &mut request,
        buf,
        slots,
    );
    let tenant_api = match request.path {
        Some(path) => is_tenant_target(path.as_bytes()),
        None => request
            .method
            .and_then(|method| buf.get(method.len() + 1..))
            .is_some_and(is_tenant_target),
    };
    let refuse = |refusal| {
        Err(Rejection {
            refusal,
            tenant_api,
        })
    };
    let path_len = request.path.map(str::len);
    if path_len.is_some_and(|len| len > limits.max_uri_bytes) {
        return refuse(Refusal::UriTooLong);
    }
    let len = match parsed {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => {
            let full = buf.len() >= limits.max_head_bytes;
            if let (Some(method), None) = (request.method, path_len) {
                // Still inside the request target.
                if full || buf.len() > method.len() + 1 + limits.max_uri_bytes {
                    return refuse(Refusal::UriTooLong);
                }
            }
            if full {
                return refuse(if path_len.is_some() {
                    Refusal::HeadersTooLarge
                } else {
                    Refusal::Malformed
                });
            }
            return Ok(Head::Partial);
        }
        Err(httparse::Error::TooManyHeaders) => return refuse(Refusal::HeadersTooLarge),
        Err(_) => return refuse(Refusal::Malformed),
    };
    if len > limits.max_head_bytes {
        return refuse(Refusal::HeadersTooLarge);
    }
    let (Some(method), Some(path), Some(version)) = (request.method, request.path, request.version)
    else {
        return refuse(Refusal::Malformed);
    };
    if !uri_is_valid(path) {
        return refuse(Refusal::Malformed);
    }

    let mut content_length: Option<u64> = None;
    let mut transfer_encoding = false;
    let mut chunked = false;
    let mut expect_continue = false;
    let mut upgrade = method == "CONNECT";
    for header in request.headers.iter() {
        let name = header.name;
        if name.eq_ignore_ascii_case("content-length") {
            match parse_content_length(header.value, content_length) {
                Some(length) => content_length = Some(length),
                None => return refuse(Refusal::Malformed),
            }
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            transfer_encoding = true;
            // hyper: the last Transfer-Encoding line decides, by its last coding.
            chunked = header
                .value
                .rsplit(|&b| b == b',')
                .next()
                .is_some_and(|coding| coding.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue = header.value.eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("upgrade") {
            upgrade = upgrade || version == 1;
        }
    }
    if transfer_encoding && (version == 0 || !chunked || content_length.is_some()) {
        return refuse(Refusal::Malformed);
    }
    // The import route takes files (its own, larger limit); every other route small bodies.
    let body_limit = if path.split('?').next() == Some(IMPORT_PATH) {
        limits.import_limit_bytes
    } else {
        limits.body_limit_bytes
    };
    if expect_continue && content_length.is_some_and(|length| length > body_limit) {
        return refuse(Refusal::BodyTooLarge);
    }
    let body = if upgrade {
        Framing::Opaque
    } else if transfer_encoding {
        Framing::Chunked
    } else {
        match content_length {
            Some(0) | None => Framing::Empty,
            Some(length) => Framing::Length(length),
        }
    };
    Ok(Head::Complete { len, body })
}

/// One or more Content-Length values (lines, comma lists): all digits and all equal.
fn parse_content_length(value: &[u8], previous: Option<u64>) -> Option<u64> {
    let mut length = previous;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let parsed = part.iter().try_fold(0u64, |n, &digit| {
            n.checked_mul(10)?.checked_add(u64::from(digit - b'0'))
        })?;
        if length.is_some_and(|seen| seen != parsed) {
            return None;
        }
        length = Some(parsed);
    }
    length
}

/// Whether `http::Uri` (which hyper builds next) accepts the target. Plain origin-form
/// targets are checked without allocating; anything unusual is parsed for real.
fn uri_is_valid(target: &str) -> bool {
    let plain = |b: &u8| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(b);
    (target.starts_with('/') && target.bytes().all(|b| plain(&b)))
        || axum::http::Uri::try_from(target).is_ok()
}

/// Whether a request target (possibly cut short) names the tenant API, `/api/v1`.
pub fn is_tenant_target(target: &[u8]) -> bool {
    // Absolute form: skip `scheme://authority`.
    let path = match target.windows(3).position(|w| w == b"://") {
        Some(at) if !target.starts_with(b"/") => {
            let rest = &target[at + 3..];
            rest.iter()
                .position(|&b| b == b'/')
                .map_or(&[][..], |slash| &rest[slash..])
        }
        _ => target,
    };
    let prefix = b"/api/v1";
    path.starts_with(prefix) && matches!(path.get(prefix.len()), None | Some(b'/' | b'?' | b' '))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> HeadLimits {
        HeadLimits {
            max_uri_bytes: 64,
            max_headers: 4,
            max_head_bytes: 256,
            body_limit_bytes: 1000,
            import_limit_bytes: 5000,
        }
    }

    fn refusal(head: &[u8]) -> Option<(Refusal, bool)> {
        check(head, &limits())
            .err()
            .map(|r| (r.refusal, r.tenant_api))
    }

    #[test]
    fn framing_of_valid_heads() {
        let cases: [(&[u8], Framing); 6] = [
            (b"GET / HTTP/1.1\r\n\r\n", Framing::Empty),
            (
                b"POST /a HTTP/1.1\r\nContent-Length: 5\r\n\r\n",
                Framing::Length(5),
            ),
            (
                b"POST /a HTTP/1.1\r\ncontent-length: 5\r\nContent-Length: 5, 5\r\n\r\n",
                Framing::Length(5),
            ),
            (
                b"POST /a HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                Framing::Chunked,
            ),
            (
                b"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n",
                Framing::Opaque,
            ),
            (
                b"GET /a HTTP/1.0\r\nContent-Length: 0\r\n\r\n",
                Framing::Empty,
            ),
        ];
        for (head, body) in cases {
            assert_eq!(
                check(head, &limits()),
                Ok(Head::Complete {
                    len: head.len(),
                    body
                }),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(
            check(b"GET / HTTP/1.1\r\nHost: x\r\n", &limits()),
            Ok(Head::Partial)
        );
    }

    #[test]
    fn refusals_and_their_api() {
        let long = format!("GET /api/v1/{} HTTP/1.1\r\n\r\n", "a".repeat(80));
        assert_eq!(refusal(long.as_bytes()), Some((Refusal::UriTooLong, true)));
        // Cut off inside the target: decided before the line ends.
        assert_eq!(
            refusal(&long.as_bytes()[..80]),
            Some((Refusal::UriTooLong, true))
        );
        let many = "GET /api/users/1 HTTP/1.1\r\n".to_owned() + &"A: b\r\n".repeat(5) + "\r\n";
        assert_eq!(
            refusal(many.as_bytes()),
            Some((Refusal::HeadersTooLarge, false))
        );
        let big = format!("GET / HTTP/1.1\r\nA: {}\r\n", "b".repeat(300));
        assert_eq!(
            refusal(big.as_bytes()),
            Some((Refusal::HeadersTooLarge, false))
        );
        for head in [
            &b"POST /api/v1/chats HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"[..],
            b"POST /api/v1/chats HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST /api/v1/chats HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST /api/v1/chats HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"GET /api/v1/chats HTTP/1.1\r\nX-A: 1\r\n folded\r\n\r\n",
            b"GET /api/v1/chats\r\n\r\n",
        ] {
            assert_eq!(
                refusal(head).map(|(r, _)| r),
                Some(Refusal::Malformed),
                "{}",
                String::from_utf8_lossy(head)
            );
        }
        assert_eq!(
            refusal(b"\x16\x03\x01garbage\r\n\r\n"),
            Some((Refusal::Malformed, false))
        );
        assert_eq!(
            refusal(b"POST /api/v1/chats HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1001\r\n\r\n"),
            Some((Refusal::BodyTooLarge, true))
        );
        // The import route has its own limit.
        assert_eq!(
            refusal(b"POST /api/v1/import?format=chatgpt HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 4000\r\n\r\n"),
            None
        );
        assert_eq!(
            refusal(b"POST /api/v1/import HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5001\r\n\r\n"),
            Some((Refusal::BodyTooLarge, true))
        );
    }

    #[test]
    fn tenant_targets() {
        for (target, tenant) in [
            (&b"/api/v1"[..], true),
            (b"/api/v1/chats", true),
            (b"/api/v1?x", true),
            (b"http://host/api/v1/chats", true),
            (b"/api/v10", false),
            (b"/api/users/1", false),
            (b"/", false),
        ] {
            assert_eq!(
                is_tenant_target(target),
                tenant,
                "{}",
                String::from_utf8_lossy(target)
            );
        }
    }
}
