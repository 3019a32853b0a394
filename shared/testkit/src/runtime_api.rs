//! A Lambda Runtime API emulator: the four endpoints a bootstrap talks to, on
//! 127.0.0.1, with events queued by [`Emulator::invoke`].
//!
//! - `GET  /2018-06-01/runtime/invocation/next` answers the next queued event (blocking
//!   until there is one) with the `Lambda-Runtime-*` headers;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` complete
//!   the invocation `{id}`;
//! - `POST /2018-06-01/runtime/init/error` records an initialisation failure, which every
//!   pending and later invocation then reports.
//!
//! The time of the first `/next` poll is recorded: the end of the function's init phase.
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::sync::{mpsc, oneshot, watch};

/// The ARN the emulator gives every invocation.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:vigil-test";

/// Why an invocation has no response.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// The function posted to `/invocation/{id}/error`.
    #[error("the function reported an error ({error_type}): {body}")]
    Function {
        /// `Lambda-Runtime-Function-Error-Type`, or the body's `errorType`.
        error_type: String,
        /// The posted body (`{"errorType": .., "errorMessage": ..}`).
        body: Value,
    },
    /// The function posted to `/init/error` before or during this invocation.
    #[error("the function failed to initialise: {0}")]
    Init(Value),
    /// No answer within the timeout (the function may have crashed or hung).
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    /// The response was not JSON.
    #[error("the response is not JSON: {0}")]
    NotJson(String),
}

type Outcome = Result<Value, InvocationError>;

struct Queued {
    id: String,
    payload: Value,
    deadline: Duration,
}

struct Shared {
    events: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    waiters: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Value>>,
    first_poll: watch::Sender<Option<Instant>>,
}

impl Shared {
    fn complete(&self, id: &str, outcome: Outcome) -> bool {
        let waiter = lock(&self.waiters).remove(id);
        match waiter {
            Some(tx) => {
                // The caller may have timed out and gone; nothing left to tell.
                let _ = tx.send(outcome);
                true
            }
            None => false,
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panicking test thread must not hide the emulator's state from the others.
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running emulator; stops serving when dropped.
pub struct Emulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Queued>,
    first_poll: watch::Receiver<Option<Instant>>,
    server: tokio::task::JoinHandle<()>,
}

impl Emulator {
    /// Serves the Runtime API on `127.0.0.1:0`.
    pub async fn start() -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (queue, events) = mpsc::unbounded_channel();
        let (first_tx, first_poll) = watch::channel(None);
        let shared = Arc::new(Shared {
            events: tokio::sync::Mutex::new(events),
            waiters: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: first_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                eprintln!("runtime API emulator stopped: {e}");
            }
        });
        Ok(Self {
            addr,
            shared,
            queue,
            first_poll,
            server,
        })
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> String {
        self.addr.to_string()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// When the function first asked for an event, if it has.
    pub fn first_poll(&self) -> Option<Instant> {
        *self.first_poll.borrow()
    }

    /// Waits up to `timeout` for the first `/next` poll and returns its time.
    pub async fn wait_first_poll(&self, timeout: Duration) -> Option<Instant> {
        let mut rx = self.first_poll.clone();
        let polled = tokio::time::timeout(timeout, rx.wait_for(Option::is_some)).await;
        match polled {
            Ok(Ok(at)) => *at,
            _ => None,
        }
    }

    /// The body of an `/init/error` post, if the function sent one.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.shared.init_error).clone()
    }

    /// Queues `payload` as one invocation and waits up to `timeout` for its answer. The
    /// deadline the function sees is `timeout` from now.
    pub async fn invoke(&self, payload: Value, timeout: Duration) -> Outcome {
        if let Some(body) = self.init_error() {
            return Err(InvocationError::Init(body));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        lock(&self.shared.waiters).insert(id.clone(), tx);
        let queued = Queued {
            id: id.clone(),
            payload,
            deadline: timeout,
        };
        if self.queue.send(queued).is_err() {
            lock(&self.shared.waiters).remove(&id);
            return Err(InvocationError::Timeout(Duration::ZERO));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => outcome,
            // The sender only goes away with the emulator, or after a timeout here.
            Ok(Err(_)) | Err(_) => {
                lock(&self.shared.waiters).remove(&id);
                Err(InvocationError::Timeout(timeout))
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn header(v: &str) -> HeaderValue {
    HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    shared.first_poll.send_if_modified(|at| {
        if at.is_none() {
            *at = Some(Instant::now());
            true
        } else {
            false
        }
    });
    // One poller at a time takes the receiver; if its connection drops while it waits,
    // the lock is released and the event stays queued.
    let queued = shared.events.lock().await.recv().await;
    let Some(q) = queued else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let deadline = SystemTime::now()
        .checked_add(q.deadline)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_millis())
        .unwrap_or_default();
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        deadline / 1000,
        &uuid::Uuid::new_v4().simple().to_string()[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16],
    );
    let mut headers = HeaderMap::new();
    headers.insert("Lambda-Runtime-Aws-Request-Id", header(&q.id));
    headers.insert("Lambda-Runtime-Deadline-Ms", header(&deadline.to_string()));
    headers.insert(
        "Lambda-Runtime-Invoked-Function-Arn",
        HeaderValue::from_static(FUNCTION_ARN),
    );
    headers.insert("Lambda-Runtime-Trace-Id", header(&trace));
    headers.insert("Content-Type", HeaderValue::from_static("application/json"));
    (StatusCode::OK, headers, q.payload.to_string()).into_response()
}

fn accepted() -> Response {
    (StatusCode::ACCEPTED, axum::Json(json!({"status": "OK"}))).into_response()
}

fn unknown(id: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "errorType": "InvalidRequestID",
            "errorMessage": format!("no pending invocation {id}"),
        })),
    )
        .into_response()
}

fn body_json(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let outcome = if body.is_empty() {
        Ok(Value::Null)
    } else {
        serde_json::from_slice(&body)
            .map_err(|_| InvocationError::NotJson(String::from_utf8_lossy(&body).into_owned()))
    };
    if shared.complete(&id, outcome) {
        accepted()
    } else {
        unknown(&id)
    }
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let body = body_json(&body);
    let error_type = headers
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| body["errorType"].as_str().map(str::to_string))
        .unwrap_or_else(|| "Unhandled".into());
    if shared.complete(&id, Err(InvocationError::Function { error_type, body })) {
        accepted()
    } else {
        unknown(&id)
    }
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let body = body_json(&body);
    *lock(&shared.init_error) = Some(body.clone());
    let waiting: Vec<_> = lock(&shared.waiters).drain().collect();
    for (_, tx) in waiting {
        let _ = tx.send(Err(InvocationError::Init(body.clone())));
    }
    accepted()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A hand-written client: next, then response or error.
    #[tokio::test]
    async fn invocations_are_answered_by_response_or_error() {
        let emu = Emulator::start().await.unwrap();
        let base = format!("http://{}/2018-06-01/runtime", emu.runtime_api());
        let client = reqwest_free::Client::new();
        assert!(emu.first_poll().is_none());
        let worker = tokio::spawn({
            let base = base.clone();
            async move {
                for _ in 0..2 {
                    let (headers, body) = client.get(&format!("{base}/invocation/next")).await;
                    let id = headers["lambda-runtime-aws-request-id"].clone();
                    assert!(headers.contains_key("lambda-runtime-deadline-ms"));
                    assert_eq!(headers["lambda-runtime-invoked-function-arn"], FUNCTION_ARN);
                    assert!(headers["lambda-runtime-trace-id"].starts_with("Root=1-"));
                    let payload: Value = serde_json::from_str(&body).unwrap();
                    if payload["fail"] == true {
                        client
                            .post(
                                &format!("{base}/invocation/{id}/error"),
                                r#"{"errorType":"Boom","errorMessage":"no"}"#,
                            )
                            .await;
                    } else {
                        client
                            .post(
                                &format!("{base}/invocation/{id}/response"),
                                &json!({"echo": payload}).to_string(),
                            )
                            .await;
                    }
                }
            }
        });
        let ok = emu
            .invoke(json!({"n": 1}), Duration::from_secs(5))
            .await
            .unwrap();
        assert_eq!(ok, json!({"echo": {"n": 1}}));
        assert!(emu.first_poll().is_some());
        let err = emu
            .invoke(json!({"fail": true}), Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, InvocationError::Function { error_type, .. } if error_type == "Boom"),
            "{err}"
        );
        worker.await.unwrap();
        // Nobody polls any more: the invocation times out.
        let late = emu.invoke(json!({}), Duration::from_millis(200)).await;
        assert!(matches!(late, Err(InvocationError::Timeout(_))));
    }

    #[tokio::test]
    async fn an_init_error_fails_invocations() {
        let emu = Emulator::start().await.unwrap();
        let client = reqwest_free::Client::new();
        client
            .post(
                &format!("http://{}/2018-06-01/runtime/init/error", emu.runtime_api()),
                r#"{"errorType":"Runtime.InitError","errorMessage":"no table"}"#,
            )
            .await;
        assert_eq!(emu.init_error().unwrap()["errorMessage"], "no table");
        let err = emu
            .invoke(json!({}), Duration::from_secs(1))
            .await
            .unwrap_err();
        assert!(matches!(err, InvocationError::Init(_)), "{err}");
    }

    /// Just enough HTTP/1.1 over a TcpStream for the tests above, so the crate needs no
    /// HTTP client dependency.
    mod reqwest_free {
        use std::collections::HashMap;

        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        pub struct Client;

        impl Client {
            pub fn new() -> Self {
                Self
            }

            async fn send(
                &self,
                method: &str,
                url: &str,
                body: &str,
            ) -> (HashMap<String, String>, String) {
                let rest = url.strip_prefix("http://").unwrap();
                let (host, path) = rest.split_at(rest.find('/').unwrap());
                let mut s = tokio::net::TcpStream::connect(host).await.unwrap();
                let req = format!(
                    "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                s.write_all(req.as_bytes()).await.unwrap();
                let mut raw = String::new();
                s.read_to_string(&mut raw).await.unwrap();
                let (head, body) = raw.split_once("\r\n\r\n").unwrap();
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(": "))
                    .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                    .collect();
                (headers, body.to_string())
            }

            pub async fn get(&self, url: &str) -> (HashMap<String, String>, String) {
                self.send("GET", url, "").await
            }

            pub async fn post(&self, url: &str, body: &str) -> (HashMap<String, String>, String) {
                self.send("POST", url, body).await
            }
        }
    }
}
