#!/usr/bin/env bash
# Lints template.yaml with `sam validate --lint` (SAM translation + cfn-lint).
# Works offline: dummy credentials and a fixed region, telemetry off.
# Usage: VIGIL_VENV=/path/to/venv infra/validate.sh   (default: .venv; a relative
# path is taken from the repo root, where the script runs)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

venv="${VIGIL_VENV:-.venv}"
sam="${venv}/bin/sam"
if [[ ! -x "${sam}" ]]; then
  echo "validate.sh: ${sam} not found; run: python3 -m venv ${venv} && ${venv}/bin/pip install -r tests/requirements.txt" >&2
  exit 2
fi

export AWS_DEFAULT_REGION=us-east-1
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
unset AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_PROFILE
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0

"${sam}" validate --lint --template-file template.yaml
