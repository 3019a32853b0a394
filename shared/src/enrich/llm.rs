//! Enrichment by an OpenAI-compatible chat-completions model, with a timeout and
//! bounded retries; any failure falls back to the heuristic in the caller.
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

use crate::domain::Finding;

#[derive(Debug, Clone)]
pub struct LlmConfig {
    /// Full chat-completions URL, e.g. `https://api.openai.com/v1/chat/completions`.
    pub url: String,
    pub api_key: Option<String>,
    /// Secrets Manager secret holding the key (AWS); read once at start-up.
    pub api_key_secret_arn: Option<String>,
    pub model: String,
    pub timeout: Duration,
    /// Attempts after the first, for timeouts, 429 and 5xx.
    pub retries: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum LlmError {
    #[error("model request failed: {0}")]
    Transport(String),
    #[error("model answered HTTP {0}")]
    Status(u16),
    #[error("model answer unusable: {0}")]
    BadAnswer(String),
}

impl LlmError {
    /// Whether the endpoint itself failed (what a circuit breaker counts), as opposed to
    /// an answer that arrived but could not be used.
    pub fn is_endpoint_failure(&self) -> bool {
        !matches!(self, LlmError::BadAnswer(_))
    }

    fn retryable(&self) -> bool {
        match self {
            LlmError::Transport(_) => true,
            LlmError::Status(s) => *s == 429 || *s >= 500,
            LlmError::BadAnswer(_) => false,
        }
    }
}

#[derive(Clone)]
pub struct LlmClient {
    http: reqwest::Client,
    config: LlmConfig,
}

#[derive(Deserialize)]
struct Completion {
    choices: Vec<Choice>,
    /// OpenAI-compatible servers report the tokens of the call; some omit it.
    #[serde(default)]
    usage: Option<crate::resilience::Tokens>,
}

/// A usable answer: the score, the explanation and the tokens it took.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub risk_score: f64,
    pub explanation: String,
    pub tokens: crate::resilience::Tokens,
}
#[derive(Deserialize)]
struct Choice {
    message: Message,
}
#[derive(Deserialize)]
struct Message {
    content: Option<String>,
}
#[derive(Deserialize)]
struct Assessment {
    risk_score: f64,
    explanation: String,
}

fn prompt(f: &Finding) -> String {
    let finding = json!({
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "severity": f.severity,
        "title": f.title,
        "description": f.description,
        "user": f.user,
        "evidence_event_count": f.event_ids.len(),
        "first_seen": f.first_seen,
        "last_seen": f.last_seen,
    });
    format!(
        "You are a security and compliance risk analyst. Assess this finding from a security \
         monitoring system. Return ONLY a JSON object {{\"risk_score\": <integer 0-100>, \
         \"explanation\": \"<2-3 plain sentences naming the evidence>\"}}.\n\nFinding:\n{finding}"
    )
}

/// Pulls the JSON object out of a model answer, tolerating code fences and prose.
fn parse_answer(content: &str) -> Result<(f64, String), LlmError> {
    let start = content.find('{');
    let end = content.rfind('}');
    let body = match (start, end) {
        (Some(s), Some(e)) if e > s => &content[s..=e],
        _ => return Err(LlmError::BadAnswer("no JSON object".into())),
    };
    let a: Assessment =
        serde_json::from_str(body).map_err(|e| LlmError::BadAnswer(e.to_string()))?;
    if !a.risk_score.is_finite() || a.explanation.trim().is_empty() {
        return Err(LlmError::BadAnswer("missing score or explanation".into()));
    }
    Ok((
        a.risk_score.clamp(0.0, 100.0),
        a.explanation.trim().to_string(),
    ))
}

impl LlmClient {
    pub fn new(config: LlmConfig) -> Result<Self, LlmError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        Ok(Self { http, config })
    }

    pub fn config(&self) -> &LlmConfig {
        &self.config
    }

    async fn attempt(&self, f: &Finding) -> Result<Answer, LlmError> {
        let body = json!({
            "model": self.config.model,
            "temperature": 0.2,
            "messages": [
                {"role": "system", "content": "You are a careful security risk analyst."},
                {"role": "user", "content": prompt(f)},
            ],
        });
        let mut req = self.http.post(&self.config.url).json(&body);
        if let Some(key) = &self.config.api_key {
            req = req.bearer_auth(key);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| LlmError::Transport(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(LlmError::Status(resp.status().as_u16()));
        }
        let c: Completion = resp
            .json()
            .await
            .map_err(|e| LlmError::BadAnswer(e.to_string()))?;
        let tokens = c.usage.unwrap_or_default();
        let content = c
            .choices
            .into_iter()
            .next()
            .and_then(|c| c.message.content)
            .ok_or_else(|| LlmError::BadAnswer("no choices".into()))?;
        let (risk_score, explanation) = parse_answer(&content)?;
        Ok(Answer {
            risk_score,
            explanation,
            tokens,
        })
    }

    /// Asks the model, retrying transient failures with a short backoff.
    pub async fn assess(&self, f: &Finding) -> Result<Answer, LlmError> {
        let mut attempt = 0;
        loop {
            match self.attempt(f).await {
                Ok(v) => return Ok(v),
                Err(e) if e.retryable() && attempt < self.config.retries => {
                    attempt += 1;
                    tracing::warn!(error = %e, attempt, "model call failed; retrying");
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fenced_and_clamped_answers() {
        let (s, e) =
            parse_answer("```json\n{\"risk_score\": 140, \"explanation\": \"x\"}\n```").unwrap();
        assert_eq!(s, 100.0);
        assert_eq!(e, "x");
        assert!(parse_answer("I think it is risky").is_err());
        assert!(parse_answer("{\"risk_score\": 5, \"explanation\": \"  \"}").is_err());
    }
}
