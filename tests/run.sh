#!/usr/bin/env bash
# Runs every Vigil test on a fresh machine: installs the Python tools (moto, cfn-lint,
# SAM CLI, standardwebhooks, selenium) into .venv, starts a moto server on 127.0.0.1, lints the
# SAM template, fuzzes the API, drives the dashboard in headless Chromium (installing
# Debian's chromium and chromium-driver when missing), then runs the whole Rust
# workspace's tests (unit, contract against the embedded adapters and against moto,
# black-box API tests).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${VIGIL_VENV:-.venv}"
stamp="${venv}/.vigil-requirements"
if [[ ! -x "${venv}/bin/moto_server" ]] || ! cmp -s tests/requirements.txt "${stamp}"; then
  echo "==> installing Python test tools into ${venv}"
  python3 -m venv "${venv}"
  "${venv}/bin/pip" install --quiet --upgrade pip
  "${venv}/bin/pip" install --quiet -r tests/requirements.txt
  cp tests/requirements.txt "${stamp}"
fi

mkdir -p target
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
echo "==> starting moto on 127.0.0.1:${port}"
"${venv}/bin/moto_server" -H 127.0.0.1 -p "${port}" >target/moto.log 2>&1 &
moto_pid=$!
trap 'kill "${moto_pid}" 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:${port}/moto-api/')" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
export VIGIL_MOTO_URL="http://127.0.0.1:${port}"
export VIGIL_REQUIRE_MOTO=1
export VIGIL_VENV="${venv}"

echo "==> sam validate --lint"
infra/validate.sh

echo "==> Lambda bootstraps, each with only the features it deploys with"
# `cargo test --workspace` unifies features across every crate, so a Lambda crate that
# leans on a feature only vigil-local enables (the SQLite adapters) would still build
# there; this build resolves them as `sam build` does.
cargo build --locked --bins -p vigil-api -p vigil-ingest -p vigil-rules -p vigil-enrich \
  -p vigil-reclassify -p vigil-webhook -p vigil-drift -p vigil-sources -p vigil-decide \
  -p vigil-logfiles
for fn in api ingest rules enrich reclassify webhook drift sources decide logfiles; do
  if cargo tree --locked -e normal -p "vigil-${fn}" | grep -qE '(^| )(rusqlite|clap|vigil-local) '; then
    echo "vigil-${fn} links rusqlite, clap or vigil-local" >&2
    exit 1
  fi
done

echo "==> schemathesis against vigil serve"
tests/fuzz_api.sh 2>&1 | tee target/fuzz-output.log | tail -n 25

echo "==> dashboard in headless Chromium"
# Debian's chromium and chromium-driver; a fresh CI machine runs as root without sudo.
if [[ ! -x /usr/bin/chromium || ! -x /usr/bin/chromedriver ]]; then
  as_root=()
  if [[ "$(id -u)" -ne 0 ]] && command -v sudo >/dev/null; then as_root=(sudo); fi
  "${as_root[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium chromium-driver >/dev/null
fi
# tests/fuzz_api.sh built target/debug/vigil; the test starts `vigil serve --demo` itself.
"${venv}/bin/python" tests/browser/test_dashboard.py 2>&1 | tee target/browser-output.log | tail -n 5

echo "==> cargo test"
log="target/test-output.log"
set +e
cargo test --workspace --locked 2>&1 | tee "${log}"
status=${PIPESTATUS[0]}
set -e
# One closing line over every test binary.
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) p += $(i-1); if ($(i) ~ /^failed;?$/) f += $(i-1) } }
     END { printf "vigil: %d passed, %d failed\n", p, f }' "${log}"
exit "${status}"
