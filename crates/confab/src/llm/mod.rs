//! The LLM provider: any OpenAI-compatible chat completions API, always asked to stream
//! (`stream: true`), read chunk by chunk. A provider that answers with one JSON body
//! instead is read as a single chunk. Every failure becomes an [`LlmError`] with the code
//! the reply ends with; nothing here panics or waits without a deadline.
//!
//! * `sse.rs`: the provider's event stream, parsed as bytes arrive;
//! * `tokens.rs`: the history fitted to the context budget with a real tokenizer.

pub mod sse;
pub mod tokens;

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::LlmArgs;
use sse::SseParser;

/// Largest non-streamed answer read from a provider.
const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// How long the usage chunk and `[DONE]` are waited for after a finish reason.
const FINISH_GRACE: Duration = Duration::from_secs(2);
/// How much of an error answer is quoted in the reply's error message.
const QUOTED_ERROR_BYTES: usize = 300;

/// The provider as configured, with this node's generation slots.
pub struct LlmClient {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    pub default_model: Option<String>,
    pub context_tokens: usize,
    pub timeout: Duration,
    pub max_duration: Duration,
    slots: Arc<Semaphore>,
}

/// One message of the history, as OpenAI's API takes it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Turn {
    pub role: &'static str,
    pub content: String,
}

/// A request for one reply.
#[derive(Debug, Clone)]
pub struct Request {
    pub model: String,
    pub messages: Vec<Turn>,
    pub temperature: Option<f64>,
    pub max_tokens: Option<u32>,
}

/// What the provider sent next.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Text(String),
    Usage { prompt: i64, completion: i64 },
}

/// Why a reply could not be (fully) generated: `code` is `llm_upstream_error` or
/// `llm_timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmError {
    pub code: &'static str,
    pub message: String,
}

impl LlmError {
    pub fn upstream(message: impl Into<String>) -> Self {
        LlmError {
            code: "llm_upstream_error",
            message: message.into(),
        }
    }

    pub fn timeout(message: impl Into<String>) -> Self {
        LlmError {
            code: "llm_timeout",
            message: message.into(),
        }
    }
}

impl LlmClient {
    /// The configured provider, or `None` without a base URL.
    pub fn from_args(args: &LlmArgs) -> anyhow::Result<Option<LlmClient>> {
        let Some(base) = &args.llm_base_url else {
            return Ok(None);
        };
        let base = base.trim_end_matches('/');
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            anyhow::bail!("--llm-base-url must start with http:// or https:// (got {base:?})");
        }
        let timeout = Duration::from_secs(args.llm_timeout_seconds);
        let http = reqwest::Client::builder()
            .connect_timeout(timeout)
            .build()
            .map_err(|error| anyhow::anyhow!("building the LLM client: {error}"))?;
        Ok(Some(LlmClient {
            http,
            url: format!("{base}/chat/completions"),
            api_key: args.llm_api_key.clone().filter(|key| !key.is_empty()),
            default_model: args.llm_default_model.clone().filter(|m| !m.is_empty()),
            context_tokens: args.llm_context_tokens as usize,
            timeout,
            max_duration: Duration::from_secs(args.llm_max_seconds),
            slots: Arc::new(Semaphore::new(args.llm_max_concurrent as usize)),
        }))
    }

    /// A generation slot of this node, if one is free.
    pub fn slot(&self) -> Option<OwnedSemaphorePermit> {
        self.slots.clone().try_acquire_owned().ok()
    }

    /// Sends the request; answers the provider's reply to read chunk by chunk.
    pub async fn open(&self, request: &Request) -> Result<Upstream, LlmError> {
        #[derive(Serialize)]
        struct Body<'a> {
            model: &'a str,
            messages: &'a [Turn],
            stream: bool,
            stream_options: StreamOptions,
            #[serde(skip_serializing_if = "Option::is_none")]
            temperature: Option<f64>,
            #[serde(skip_serializing_if = "Option::is_none")]
            max_tokens: Option<u32>,
        }
        #[derive(Serialize)]
        struct StreamOptions {
            include_usage: bool,
        }
        let body = Body {
            model: &request.model,
            messages: &request.messages,
            stream: true,
            stream_options: StreamOptions {
                include_usage: true,
            },
            temperature: request.temperature,
            max_tokens: request.max_tokens,
        };
        let body = serde_json::to_vec(&body)
            .map_err(|error| LlmError::upstream(format!("encoding the request: {error}")))?;
        let mut builder = self
            .http
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(body);
        if let Some(key) = &self.api_key {
            builder = builder.bearer_auth(key);
        }
        let response = match tokio::time::timeout(self.timeout, builder.send()).await {
            Err(_) => return Err(LlmError::timeout("the provider did not answer in time")),
            Ok(Err(error)) if error.is_timeout() => {
                return Err(LlmError::timeout(format!(
                    "the provider timed out: {}",
                    error.without_url()
                )))
            }
            Ok(Err(error)) => {
                return Err(LlmError::upstream(format!(
                    "the provider could not be reached: {}",
                    error_chain(&error.without_url())
                )))
            }
            Ok(Ok(response)) => response,
        };
        let status = response.status();
        let json = response
            .headers()
            .get("content-type")
            .and_then(|value| value.to_str().ok())
            .is_some_and(|value| value.starts_with("application/json"));
        let mut upstream = Upstream {
            response,
            parser: SseParser::default(),
            queue: VecDeque::new(),
            finished: false,
            finish_seen: false,
            timeout: self.timeout,
        };
        if !status.is_success() {
            let body = upstream
                .read_body(QUOTED_ERROR_BYTES)
                .await
                .unwrap_or_default();
            let quoted = String::from_utf8_lossy(&body);
            return Err(LlmError::upstream(format!(
                "the provider answered {}: {}",
                status.as_u16(),
                quoted.trim()
            )));
        }
        if json {
            upstream.read_whole().await?;
        }
        Ok(upstream)
    }
}

/// An error with its causes, for the reply's error message.
fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The provider's reply being read.
pub struct Upstream {
    response: reqwest::Response,
    parser: SseParser,
    queue: VecDeque<Chunk>,
    /// Nothing more to read (`[DONE]`, or the end of the body after a finish reason).
    finished: bool,
    /// A choice's `finish_reason` arrived: the reply is complete, though a usage chunk
    /// and `[DONE]` may follow. The stream may then end or go quiet without harm.
    finish_seen: bool,
    timeout: Duration,
}

#[derive(Deserialize)]
struct Completion {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<WireUsage>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Choice {
    delta: Option<Content>,
    message: Option<Content>,
    finish_reason: Option<String>,
}

#[derive(Deserialize)]
struct Content {
    content: Option<String>,
}

#[derive(Deserialize)]
struct WireUsage {
    prompt_tokens: Option<i64>,
    completion_tokens: Option<i64>,
}

impl Upstream {
    /// The next chunk; `None` once the reply is complete. A stream that ends before the
    /// provider said so, a malformed chunk, an error chunk, or silence past the timeout
    /// is an error.
    pub async fn next(&mut self) -> Result<Option<Chunk>, LlmError> {
        loop {
            if let Some(chunk) = self.queue.pop_front() {
                return Ok(Some(chunk));
            }
            if self.finished {
                return Ok(None);
            }
            let bytes = match tokio::time::timeout(self.timeout, self.response.chunk()).await {
                Err(_) | Ok(Ok(None)) if self.finish_seen => {
                    self.finished = true;
                    continue;
                }
                Err(_) => {
                    return Err(LlmError::timeout(
                        "the provider sent nothing for longer than the timeout",
                    ))
                }
                Ok(Err(error)) => {
                    return Err(LlmError::upstream(format!(
                        "the provider's stream broke: {}",
                        error_chain(&error.without_url())
                    )))
                }
                Ok(Ok(None)) => {
                    return Err(LlmError::upstream(
                        "the provider's stream ended before the reply was complete",
                    ))
                }
                Ok(Ok(Some(bytes))) => bytes,
            };
            let events = self.parser.push(&bytes).map_err(|error| {
                LlmError::upstream(format!("the provider's stream is malformed: {error:?}"))
            })?;
            for data in events {
                self.take_event(&data)?;
            }
        }
    }

    fn take_event(&mut self, data: &str) -> Result<(), LlmError> {
        if data.trim() == "[DONE]" {
            self.finished = true;
            return Ok(());
        }
        let completion: Completion = serde_json::from_str(data).map_err(|error| {
            LlmError::upstream(format!("the provider sent a malformed chunk: {error}"))
        })?;
        self.take(completion)
    }

    fn take(&mut self, completion: Completion) -> Result<(), LlmError> {
        if let Some(error) = completion.error {
            let message = error
                .get("message")
                .and_then(|m| m.as_str())
                .map_or_else(|| error.to_string(), str::to_owned);
            return Err(LlmError::upstream(format!(
                "the provider failed: {message}"
            )));
        }
        for choice in completion.choices.into_iter().take(1) {
            let content = choice.delta.or(choice.message).and_then(|c| c.content);
            if let Some(text) = content.filter(|t| !t.is_empty()) {
                self.queue.push_back(Chunk::Text(text));
            }
            if choice.finish_reason.is_some() {
                // Usage may still follow (OpenAI sends it in a last chunk before [DONE]),
                // but is not waited for long.
                self.finish_seen = true;
                self.timeout = self.timeout.min(FINISH_GRACE);
            }
        }
        if let Some(usage) = completion.usage {
            self.queue.push_back(Chunk::Usage {
                prompt: usage.prompt_tokens.unwrap_or(0),
                completion: usage.completion_tokens.unwrap_or(0),
            });
        }
        Ok(())
    }

    /// Reads a body of at most `limit` bytes.
    async fn read_body(&mut self, limit: usize) -> Result<Vec<u8>, LlmError> {
        let mut body = Vec::new();
        while body.len() < limit {
            match tokio::time::timeout(self.timeout, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => body.extend_from_slice(&bytes),
                Ok(Ok(None)) => break,
                Ok(Err(error)) => {
                    return Err(LlmError::upstream(format!(
                        "reading the provider's answer: {}",
                        error_chain(&error.without_url())
                    )))
                }
                Err(_) => return Err(LlmError::timeout("the provider's answer stalled")),
            }
        }
        body.truncate(limit);
        Ok(body)
    }

    /// A non-streamed answer: one JSON completion.
    async fn read_whole(&mut self) -> Result<(), LlmError> {
        let body = self.read_body(MAX_BODY_BYTES + 1).await?;
        if body.len() > MAX_BODY_BYTES {
            return Err(LlmError::upstream("the provider's answer is too large"));
        }
        let completion: Completion = serde_json::from_slice(&body).map_err(|error| {
            LlmError::upstream(format!("the provider sent a malformed answer: {error}"))
        })?;
        self.take(completion)?;
        self.finished = true;
        Ok(())
    }
}
