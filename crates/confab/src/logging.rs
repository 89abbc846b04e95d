//! Log output: to stderr, filtered by `CONFAB_LOG`, coloured only for a person.

use std::io::IsTerminal as _;
use tracing_subscriber::EnvFilter;

/// ANSI colour when stderr is a terminal and `NO_COLOR` is unset or empty
/// (<https://no-color.org>): never in files, pipes or journald.
pub fn colour(no_color: Option<std::ffi::OsString>, stderr_is_terminal: bool) -> bool {
    stderr_is_terminal && no_color.is_none_or(|value| value.is_empty())
}

/// Installs the global subscriber; `json` for `serve --log-format json`.
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_env("CONFAB_LOG")
        .or_else(|_| EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour(
            std::env::var_os("NO_COLOR"),
            std::io::stderr().is_terminal(),
        ))
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour(None, true));
        assert!(colour(Some("".into()), true));
        assert!(!colour(Some("1".into()), true));
        assert!(!colour(None, false));
        assert!(!colour(Some("1".into()), false));
    }
}
