#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document: starts `vigil serve` on a free
# 127.0.0.1 port over a fresh data directory with a bootstrap admin key, then runs
# schemathesis over every operation (examples, coverage, fuzzing and the stateful links)
# with a fixed seed and a bounded number of cases. Any 5xx, undocumented status, body
# off its schema or wrong content type fails the run.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${VIGIL_VENV:-.venv}"
cargo build --locked --quiet -p vigil-local --bin vigil
work="$(mktemp -d)"
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:${port}"
# Loopback webhook URLs stay refused; DNS for generated host names must not stall.
# Schemathesis sends thousands of requests a minute with one key; the budgets are
# raised so it exercises the limiter without being stopped by it.
VIGIL_RATE_LIMIT_KEY_REQUESTS=100000000 VIGIL_RATE_LIMIT_TENANT_REQUESTS=100000000 \
"${CARGO_TARGET_DIR:-target}/debug/vigil" serve --addr "127.0.0.1:${port}" --data "${work}/data" \
  --bootstrap-admin fuzz >"${work}/key" 2>"${work}/serve.log" &
serve_pid=$!
cleanup() {
  kill "${serve_pid}" 2>/dev/null || true
  wait "${serve_pid}" 2>/dev/null || true
  rm -rf "${work}"
}
trap cleanup EXIT
for _ in $(seq 1 100); do
  if [[ -s "${work}/key" ]] && python3 -c "import urllib.request; urllib.request.urlopen('${base}/health')" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
key="$(head -n1 "${work}/key")"

started=$(date +%s)
set +e
"${venv}/bin/schemathesis" run "${base}/openapi.json" \
  --header "Authorization: Bearer ${key}" \
  --checks not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance \
  --phases examples,coverage,fuzzing,stateful \
  --max-examples "${VIGIL_FUZZ_EXAMPLES:-25}" \
  --seed 20261202 \
  --generation-database none \
  --request-timeout 15 \
  --no-color
status=$?
set -e
echo "vigil fuzz: schemathesis exited ${status} after $(( $(date +%s) - started )) s"
if [[ ${status} -ne 0 ]]; then
  echo "--- vigil serve log (tail)" >&2
  tail -n 40 "${work}/serve.log" >&2
fi
exit "${status}"
