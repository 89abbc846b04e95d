//! Origins as `--cors-origin` names them and as CORS and the cross-site checks compare
//! them (`http::cors`, `http::origin`): one canonical spelling.

/// The canonical form of an origin: lower case `scheme://host[:port]`, `http` or
/// `https` only, without the scheme's default port. `None` for anything else (`null`,
/// a path, user info, another scheme).
pub fn normalize(origin: &str) -> Option<String> {
    let origin = origin.trim().to_ascii_lowercase();
    let (scheme, authority) = origin.split_once("://")?;
    let default_port = match scheme {
        "http" => ":80",
        "https" => ":443",
        _ => return None,
    };
    let authority = authority.strip_suffix('/').unwrap_or(authority);
    let valid = !authority.is_empty()
        && authority
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b));
    if !valid {
        return None;
    }
    let authority = authority.strip_suffix(default_port).unwrap_or(authority);
    Some(format!("{scheme}://{authority}"))
}

/// The variable `--cors-origin` read before it had that name. Still set, it would be
/// ignored without a word and the web app on that origin would meet 403s: refused.
pub const RENAMED_VARIABLE: &str = "CONFAB_ALLOWED_ORIGINS";

/// Refuses to start when [`RENAMED_VARIABLE`] is set.
pub fn refuse_renamed_variable() -> Result<(), String> {
    match std::env::var_os(RENAMED_VARIABLE) {
        Some(_) => Err(format!(
            "{RENAMED_VARIABLE} was renamed CONFAB_CORS_ORIGINS (the flag --allowed-origins \
             is now --cors-origin): set that instead"
        )),
        None => Ok(()),
    }
}

/// For `--cors-origin`: one origin, normalised. An empty entry (an empty
/// `CONFAB_CORS_ORIGINS`, a trailing comma) stays empty and matches nothing.
pub fn parse_allowed(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        return Ok(String::new());
    }
    normalize(value).ok_or_else(|| {
        format!("{value:?} is not an origin: expected http(s)://HOST[:PORT], without a path")
    })
}

#[cfg(test)]
mod tests {
    use super::{normalize, parse_allowed};

    #[test]
    fn allowed_origins_are_checked_at_start_up() {
        assert_eq!(
            parse_allowed(" https://App.example/ ").as_deref(),
            Ok("https://app.example")
        );
        assert_eq!(parse_allowed("").as_deref(), Ok(""));
        assert!(parse_allowed("null").is_err());
        assert!(parse_allowed("https://app.example/path").is_err());
    }

    #[test]
    fn origins_are_normalised_or_refused() {
        for (given, expected) in [
            ("https://App.Example.com", "https://app.example.com"),
            ("https://app.example.com:443", "https://app.example.com"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://[::1]:80", "http://[::1]"),
            ("https://a.example:8443", "https://a.example:8443"),
        ] {
            assert_eq!(normalize(given).as_deref(), Some(expected), "{given}");
        }
        for bad in [
            "null",
            "",
            "https://",
            "ftp://a.example",
            "https://a.example/path",
            "https://user@a.example",
            "https://a.example?x",
            "app.example.com",
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
    }
}
