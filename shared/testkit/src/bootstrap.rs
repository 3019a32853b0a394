//! A Lambda bootstrap binary run as a child process against the [`Emulator`], with the
//! environment Lambda gives a function. The child is killed when the guard is dropped.
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::moto::MotoStack;
use crate::runtime_api::Emulator;

/// The variables Lambda sets for every function (besides `AWS_LAMBDA_RUNTIME_API`),
/// with dummy credentials: the functions' AWS clients only ever reach moto.
pub fn lambda_env(function_name: &str) -> Vec<(String, String)> {
    [
        ("AWS_LAMBDA_FUNCTION_NAME", function_name),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
        ("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/vigil-test"),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "2026/11/25/[$LATEST]test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
        ("AWS_SESSION_TOKEN", "test"),
        ("AWS_EC2_METADATA_DISABLED", "true"),
        ("LAMBDA_TASK_ROOT", "/var/task"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A running bootstrap. Its stderr and stdout (the function's logs) are collected and
/// available from [`Bootstrap::logs`]; dropping the guard kills the process.
pub struct Bootstrap {
    name: String,
    child: Child,
    logs: Arc<Mutex<String>>,
    pub spawned_at: Instant,
}

impl Bootstrap {
    /// Starts `binary` with a clean environment: [`lambda_env`], `AWS_LAMBDA_RUNTIME_API`
    /// set to the emulator, `RUST_LOG` (inherited, else `warn`), then `env`.
    pub fn spawn(
        binary: &str,
        emulator: &Emulator,
        env: &[(String, String)],
    ) -> std::io::Result<Self> {
        let name = std::path::Path::new(binary)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| binary.to_string());
        let mut cmd = Command::new(binary);
        cmd.env_clear()
            .envs(lambda_env(&name))
            .env("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api())
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let spawned_at = Instant::now();
        let mut child = cmd.spawn()?;
        let logs = Arc::new(Mutex::new(String::new()));
        if let Some(out) = child.stdout.take() {
            collect(out, logs.clone());
        }
        if let Some(err) = child.stderr.take() {
            collect(err, logs.clone());
        }
        Ok(Self {
            name,
            child,
            logs,
            spawned_at,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Everything the function wrote so far.
    pub fn logs(&self) -> String {
        self.logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The exit status, if the process has ended.
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the first `/next` poll and returns the time from spawn to it: the
    /// function's init phase. On timeout (or if the process ended first) the error says
    /// why, with the function's logs.
    pub async fn wait_init(
        &mut self,
        emulator: &Emulator,
        timeout: Duration,
    ) -> Result<Duration, String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(at) = emulator.wait_first_poll(Duration::from_millis(20)).await {
                return Ok(at.saturating_duration_since(self.spawned_at));
            }
            if let Some(status) = self.exited() {
                return Err(format!(
                    "{} exited ({status}) before polling the Runtime API; logs:\n{}",
                    self.name,
                    self.logs()
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} did not poll the Runtime API within {timeout:?}; logs:\n{}",
                    self.name,
                    self.logs()
                ));
            }
        }
    }
}

impl Drop for Bootstrap {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(stream: impl std::io::Read + Send + 'static, logs: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            let mut l = logs
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            l.push_str(&line);
            l.push('\n');
        }
    });
}

/// The build profile the caller was compiled with, for reporting measurements.
pub fn profile() -> &'static str {
    if cfg!(debug_assertions) {
        "debug"
    } else {
        "release"
    }
}

/// How long [`Function`] waits for the init phase and for each answer.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// A bootstrap running against its own [`Emulator`].
pub struct Function {
    pub emulator: Emulator,
    pub process: Bootstrap,
    /// Spawn to first `/next` poll.
    pub init: Duration,
}

impl Function {
    /// Starts an emulator and `binary` (with [`Bootstrap::spawn`]'s environment plus
    /// `env`), waits for the first poll and prints the init time to stderr.
    pub async fn start(binary: &str, env: &[(String, String)]) -> Result<Self, String> {
        let emulator = Emulator::start()
            .await
            .map_err(|e| format!("cannot start the Runtime API emulator: {e}"))?;
        let mut process = Bootstrap::spawn(binary, &emulator, env)
            .map_err(|e| format!("cannot start {binary}: {e}"))?;
        let init = process.wait_init(&emulator, DEFAULT_TIMEOUT).await?;
        eprintln!(
            "INIT {} ({} build): {:.1} ms from spawn to the first /next poll",
            process.name(),
            profile(),
            init.as_secs_f64() * 1000.0
        );
        Ok(Self {
            emulator,
            process,
            init,
        })
    }

    /// One invocation with [`DEFAULT_TIMEOUT`]. A timeout whose cause is a dead process
    /// says so, with the function's logs.
    pub async fn invoke(
        &mut self,
        payload: serde_json::Value,
    ) -> Result<serde_json::Value, crate::InvocationError> {
        let out = self.emulator.invoke(payload, DEFAULT_TIMEOUT).await;
        if let Err(crate::InvocationError::Timeout(_)) = &out {
            let status = self.process.exited();
            eprintln!(
                "{} gave no answer (exit status {status:?}); logs:\n{}",
                self.process.name(),
                self.process.logs()
            );
        }
        out
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.process.exited().is_none()
    }

    /// Starts `binary` over `stack` (its [`MotoStack::env`], then `extra`).
    ///
    /// # Panics
    /// When the bootstrap does not start or never polls: a failed test.
    pub async fn start_on(binary: &str, stack: &MotoStack, extra: &[(&str, &str)]) -> Self {
        let mut env = stack.env();
        env.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        Self::start(binary, &env)
            .await
            .unwrap_or_else(|why| panic!("bootstrap starts: {why}"))
    }

    /// A stack for `function`'s bootstrap test (see [`MotoStack::for_test`]) and
    /// `binary` started over it (see [`Function::start_on`]), or `None` when the test
    /// skips.
    pub async fn on_new_stack(
        function: &str,
        binary: &str,
        extra: &[(&str, &str)],
    ) -> Option<(MotoStack, Self)> {
        let stack = MotoStack::for_test(&format!("{function} bootstrap"), function).await?;
        let f = Self::start_on(binary, &stack, extra).await;
        Some((stack, f))
    }

    /// The answer to `payload`.
    ///
    /// # Panics
    /// When the invocation fails: a failed test.
    pub async fn answer(&mut self, payload: serde_json::Value) -> serde_json::Value {
        match self.invoke(payload).await {
            Ok(out) => out,
            Err(e) => panic!("answered: {e}; logs:\n{}", self.process.logs()),
        }
    }

    /// The answer to the sample `name` from `events/`.
    pub async fn answer_sample(&mut self, name: &str) -> serde_json::Value {
        self.answer(crate::sample(name)).await
    }

    /// Asserts that the SQS batch sample `name` succeeds with no batch item failures.
    pub async fn assert_batch_succeeds(&mut self, name: &str) {
        let out = self.answer_sample(name).await;
        assert_eq!(
            out,
            serde_json::json!({"batchItemFailures": []}),
            "{name}: {}",
            self.process.logs()
        );
    }

    /// Asserts that `payload` (no event of the function's kind) is answered with an
    /// invocation error by the function, and that the process survives it.
    pub async fn assert_rejected_and_alive(&mut self, payload: serde_json::Value) {
        let err = self
            .invoke(payload)
            .await
            .expect_err("a payload of the wrong kind is refused");
        assert!(
            matches!(err, crate::InvocationError::Function { .. }),
            "{err}"
        );
        assert!(self.alive(), "a bad payload must not kill the function");
    }
}
