//! An OpenAI-compatible chat-completions client that asks for a JSON answer of a given
//! shape (`response_format: json_schema`). Bounded: one call, the configured timeout.
//! Every failure is typed, with the tokens the endpoint says it spent.

use std::time::Duration;

use serde_json::{Value, json};

use crate::config::LlmConfig;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tokens {
    pub prompt: i64,
    pub completion: i64,
}

#[derive(Debug)]
pub struct Answer {
    pub content: Value,
    pub tokens: Tokens,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("the model did not answer within {0} ms")]
    Timeout(u64),
    #[error("the endpoint answered {status}: {body}")]
    Status { status: u16, body: String },
    #[error("the answer is not the JSON asked for: {why}")]
    Malformed { why: String, tokens: Tokens },
    #[error("the endpoint cannot be reached: {0}")]
    Transport(String),
}

impl LlmError {
    pub fn tokens(&self) -> Tokens {
        match self {
            LlmError::Malformed { tokens, .. } => *tokens,
            _ => Tokens::default(),
        }
    }
}

pub struct Client {
    http: reqwest::Client,
    url: String,
    api_key: Option<String>,
    model: String,
    timeout_ms: u64,
}

impl Client {
    /// `None` when no endpoint is configured.
    pub fn from_config(cfg: &LlmConfig) -> Option<Client> {
        let base = cfg.base_url.as_ref()?;
        Some(Client {
            http: reqwest::Client::new(),
            url: format!("{base}/chat/completions"),
            api_key: cfg.api_key.as_ref().map(|k| k.expose().to_owned()),
            model: cfg.model.clone(),
            timeout_ms: cfg.timeout_ms,
        })
    }

    /// Asks with a system and a user message for a JSON object matching `schema`.
    pub async fn json(
        &self,
        system: &str,
        user: &str,
        schema_name: &str,
        schema: Value,
        seed: i64,
    ) -> Result<Answer, LlmError> {
        let body = json!({
            "model": self.model,
            "messages": [
                { "role": "system", "content": system },
                { "role": "user", "content": user },
            ],
            "temperature": 0,
            "seed": seed,
            "response_format": {
                "type": "json_schema",
                "json_schema": { "name": schema_name, "strict": true, "schema": schema },
            },
        });
        let mut req = self
            .http
            .post(&self.url)
            .json(&body)
            .timeout(Duration::from_millis(self.timeout_ms));
        if let Some(key) = &self.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req.send().await.map_err(|e| self.transport(e))?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| self.transport(e))?;
        if !status.is_success() {
            return Err(LlmError::Status {
                status: status.as_u16(),
                body: text.chars().take(300).collect(),
            });
        }
        let reply: Value = serde_json::from_str(&text).map_err(|e| LlmError::Malformed {
            why: format!("the response is not JSON: {e}"),
            tokens: Tokens::default(),
        })?;
        let tokens = Tokens {
            prompt: reply["usage"]["prompt_tokens"].as_i64().unwrap_or(0),
            completion: reply["usage"]["completion_tokens"].as_i64().unwrap_or(0),
        };
        let content = reply["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| LlmError::Malformed {
                why: "no choices[0].message.content".into(),
                tokens,
            })?;
        let content = serde_json::from_str(content).map_err(|e| LlmError::Malformed {
            why: format!("the content is not JSON: {e}"),
            tokens,
        })?;
        Ok(Answer { content, tokens })
    }

    fn transport(&self, e: reqwest::Error) -> LlmError {
        if e.is_timeout() {
            LlmError::Timeout(self.timeout_ms)
        } else {
            LlmError::Transport(e.to_string())
        }
    }
}
