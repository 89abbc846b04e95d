//! Code files from assistant messages (SPEC §4), found with a CommonMark parser so nested,
//! unterminated and `~~~` fences behave exactly as a Markdown renderer shows them.

use pulldown_cmark::{CodeBlockKind, Event, Parser, Tag, TagEnd};

/// One fenced code block of a message, ready to store as a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeFile {
    pub title: String,
    pub language: String,
    pub extension: String,
    pub text: String,
}

/// Every fenced code block of `markdown`, in document order. Indented code blocks are
/// not files: they carry no language and are usually quoted output.
pub fn extract(markdown: &str) -> Vec<CodeFile> {
    let mut files = Vec::new();
    let mut current: Option<(String, String)> = None; // (info string, text so far)
    for event in Parser::new(markdown) {
        match event {
            Event::Start(Tag::CodeBlock(CodeBlockKind::Fenced(info))) => {
                current = Some((info.into_string(), String::new()));
            }
            Event::Text(text) => {
                if let Some((_, body)) = current.as_mut() {
                    body.push_str(&text);
                }
            }
            Event::End(TagEnd::CodeBlock) => {
                if let Some((info, text)) = current.take() {
                    files.push(file_from(&info, text, files.len() + 1));
                }
            }
            _ => {}
        }
    }
    files
}

fn file_from(info: &str, text: String, ordinal: usize) -> CodeFile {
    let info = parse_info(info);
    let language = info.language.unwrap_or_else(|| "text".to_owned());
    let extension = extension_for(&language).to_owned();
    let title = info
        .title
        .unwrap_or_else(|| format!("snippet-{ordinal}.{extension}"));
    CodeFile {
        title,
        language,
        extension,
        text,
    }
}

struct Info {
    language: Option<String>,
    title: Option<String>,
}

/// The info string: the first word is the language (`rust`, or `rust:src/main.rs`), and a
/// `title=`, `filename=`, `file=` or `name=` attribute (optionally quoted) names the file.
fn parse_info(info: &str) -> Info {
    let mut words = split_words(info).into_iter();
    let mut language = None;
    let mut title = None;
    if let Some(first) = words.next() {
        if let Some((key, value)) = attribute(&first) {
            title = title_attribute(key, value);
        } else {
            let first = first.trim_start_matches('{').trim_end_matches('}');
            let (lang, path) = match first.split_once(':') {
                Some((lang, path)) if !path.is_empty() => (lang, Some(path)),
                _ => (first, None),
            };
            let lang = lang.trim_start_matches('.').to_ascii_lowercase();
            if !lang.is_empty() {
                language = Some(lang);
            }
            title = path.map(str::to_owned);
        }
    }
    for word in words {
        if let Some((key, value)) = attribute(&word) {
            if let Some(found) = title_attribute(key, value) {
                title = Some(found);
            }
        }
    }
    Info {
        language,
        title: title.filter(|t| !t.is_empty()),
    }
}

fn attribute(word: &str) -> Option<(&str, &str)> {
    word.split_once('=')
}

fn title_attribute(key: &str, value: &str) -> Option<String> {
    let key = key.to_ascii_lowercase();
    matches!(key.as_str(), "title" | "filename" | "file" | "name")
        .then(|| value.trim_matches(['"', '\'']).to_owned())
}

/// Splits on whitespace, keeping `key="a b"` together.
fn split_words(info: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quote: Option<char> = None;
    for c in info.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => {
                quote = None;
                word.push(c);
            }
            (None, '"' | '\'') => {
                quote = Some(c);
                word.push(c);
            }
            (None, c) if c.is_whitespace() => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            (_, c) => word.push(c),
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// File extension for a fence language; unknown languages get `txt`.
pub fn extension_for(language: &str) -> &'static str {
    match language {
        "python" | "py" | "python3" => "py",
        "typescript" | "ts" => "ts",
        "tsx" => "tsx",
        "javascript" | "js" | "node" => "js",
        "jsx" => "jsx",
        "rust" | "rs" => "rs",
        "go" | "golang" => "go",
        "java" => "java",
        "kotlin" | "kt" => "kt",
        "swift" => "swift",
        "c" => "c",
        "h" => "h",
        "cpp" | "c++" | "cxx" => "cpp",
        "csharp" | "c#" | "cs" => "cs",
        "ruby" | "rb" => "rb",
        "php" => "php",
        "shell" | "sh" | "bash" | "zsh" | "console" => "sh",
        "powershell" | "ps1" => "ps1",
        "sql" => "sql",
        "html" => "html",
        "css" => "css",
        "scss" => "scss",
        "json" => "json",
        "yaml" | "yml" => "yaml",
        "toml" => "toml",
        "xml" => "xml",
        "markdown" | "md" => "md",
        "dockerfile" | "docker" => "dockerfile",
        "makefile" | "make" => "mk",
        "lua" => "lua",
        "r" => "r",
        "scala" => "scala",
        "haskell" | "hs" => "hs",
        "elixir" | "ex" => "ex",
        "dart" => "dart",
        "vue" => "vue",
        "svelte" => "svelte",
        "text" | "txt" | "plaintext" => "txt",
        _ => "txt",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn only(markdown: &str) -> CodeFile {
        let mut files = extract(markdown);
        assert_eq!(
            files.len(),
            1,
            "expected one file in {markdown:?}: {files:?}"
        );
        files.remove(0)
    }

    #[test]
    fn a_plain_fence_becomes_a_numbered_snippet() {
        let file = only("Here:\n\n```python\nprint('Hello')\n```\n");
        assert_eq!(
            file,
            CodeFile {
                title: "snippet-1.py".into(),
                language: "python".into(),
                extension: "py".into(),
                text: "print('Hello')\n".into(),
            }
        );
    }

    #[test]
    fn no_language_means_text_and_unknown_means_txt() {
        let file = only("```\nplain\n```");
        assert_eq!(
            (file.language.as_str(), file.extension.as_str()),
            ("text", "txt")
        );
        let file = only("```brainfuck\n+++\n```");
        assert_eq!(
            (file.language.as_str(), file.extension.as_str()),
            ("brainfuck", "txt")
        );
    }

    #[test]
    fn titles_come_from_hints() {
        assert_eq!(
            only("```rust title=\"src/main.rs\"\nfn main() {}\n```").title,
            "src/main.rs"
        );
        assert_eq!(only("```ts filename=app.ts\nx\n```").title, "app.ts");
        assert_eq!(only("```rust:lib.rs\nx\n```").title, "lib.rs");
        assert_eq!(only("```rust:lib.rs\nx\n```").language, "rust");
    }

    #[test]
    fn numbering_counts_blocks_in_order() {
        let files = extract("```js\na\n```\ntext\n~~~go\nb\n~~~\n");
        let titles: Vec<_> = files.iter().map(|f| f.title.as_str()).collect();
        assert_eq!(titles, ["snippet-1.js", "snippet-2.go"]);
    }

    #[test]
    fn tilde_fences_and_longer_fences_nest_as_commonmark_says() {
        // A four-backtick fence holds a three-backtick one as plain text.
        let file = only("````markdown\n```python\nx\n```\n````\n");
        assert_eq!(file.language, "markdown");
        assert_eq!(file.text, "```python\nx\n```\n");
        // A tilde fence is not closed by backticks.
        let file = only("~~~\n```\n~~~\n");
        assert_eq!(file.text, "```\n");
    }

    #[test]
    fn an_unterminated_fence_runs_to_the_end() {
        let file = only("text\n```python\nprint(1)\nprint(2)");
        assert_eq!(
            file.text, "print(1)\nprint(2)",
            "content runs to the end of the input"
        );
    }

    #[test]
    fn indented_code_and_inline_code_are_not_files() {
        assert!(extract("    indented code\n\nand `inline`").is_empty());
    }

    #[test]
    fn fences_inside_lists_and_quotes_count() {
        let files = extract("- item\n\n  ```sh\n  ls\n  ```\n\n> ```py\n> x = 1\n> ```\n");
        let langs: Vec<_> = files.iter().map(|f| f.language.as_str()).collect();
        assert_eq!(langs, ["sh", "py"]);
        assert_eq!(files[0].text, "ls\n");
    }

    proptest! {
        /// Any input is handled without a panic, and every file is well formed.
        #[test]
        fn never_panics_and_files_are_well_formed(input in "(```|~~~|[a-z ]|\n|`|~|=|\"){0,80}") {
            for (i, file) in extract(&input).iter().enumerate() {
                prop_assert!(!file.language.is_empty());
                prop_assert!(!file.extension.is_empty());
                prop_assert!(!file.title.is_empty());
                if !file.title.starts_with("snippet-") { continue; }
                prop_assert_eq!(&file.title, &format!("snippet-{}.{}", i + 1, file.extension));
            }
        }

        /// A block written with a fence longer than any backtick run inside it comes back
        /// with exactly its text.
        #[test]
        fn fenced_text_round_trips(body in "[a-z`~ ]{0,30}(\n[a-z`~ ]{0,30}){0,4}") {
            let fence = "`".repeat(body.split(|c| c != '`').map(str::len).max().unwrap_or(0).max(2) + 1);
            let markdown = format!("{fence}rust\n{body}\n{fence}\n");
            let file = only(&markdown);
            prop_assert_eq!(file.text, format!("{body}\n"));
        }
    }
}
