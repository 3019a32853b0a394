#!/usr/bin/env python3
"""Measures a Lambda bootstrap's start-up time to its first poll of the Runtime API.

Starts a stand-in Runtime API on 127.0.0.1, launches the bootstrap with the environment
Lambda would give it, and reports the time from exec to the first
`GET /2018-06-01/runtime/invocation/next`. No AWS call is made before that poll (the SDK
clients load credentials lazily), so this is the cold-start cost the function itself adds.

usage: infra/measure_startup.py BOOTSTRAP [BOOTSTRAP ...]   (runs each 5 times)
"""
import http.server
import os
import statistics
import subprocess
import sys
import threading
import time

RUNS = 5


def measure(binary: str) -> float:
    polled = threading.Event()

    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's naming)
            if self.path.endswith("/runtime/invocation/next"):
                polled.set()
            self.send_response(503)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RuntimeApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": "vigil-startup",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/vigil-startup",
            "AWS_LAMBDA_LOG_STREAM_NAME": "startup",
            "AWS_REGION": "us-east-1",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "VIGIL_TABLE": "vigil",
            "VIGIL_EVENT_BUS": "vigil",
            "VIGIL_INGEST_QUEUE_URL": "http://127.0.0.1:9/ingest",
            "VIGIL_RULES_QUEUE_URL": "http://127.0.0.1:9/rules",
            "VIGIL_ENRICH_QUEUE_URL": "http://127.0.0.1:9/enrich",
            "VIGIL_WEBHOOK_QUEUE_URL": "http://127.0.0.1:9/webhook",
            "VIGIL_RECLASSIFY_QUEUE_URL": "http://127.0.0.1:9/reclassify",
            "VIGIL_SECRET_KEY": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
            "RUST_LOG": "warn",
        }
    )
    start = time.perf_counter()
    proc = subprocess.Popen([binary], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ok = polled.wait(timeout=10)
    elapsed = time.perf_counter() - start
    proc.kill()
    proc.wait()
    server.shutdown()
    if not ok:
        raise SystemExit(f"{binary} never polled the Runtime API")
    return elapsed * 1000


def main() -> None:
    if len(sys.argv) < 2:
        raise SystemExit(__doc__)
    for binary in sys.argv[1:]:
        times = [measure(binary) for _ in range(RUNS)]
        size = os.path.getsize(binary) / (1024 * 1024)
        print(f"{os.path.basename(binary):18} {size:6.1f} MiB   first poll: median {statistics.median(times):6.1f} ms (min {min(times):.1f}, max {max(times):.1f})")


if __name__ == "__main__":
    main()
