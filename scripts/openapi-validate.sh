#!/usr/bin/env bash
# Validates an OpenAPI document (the served /openapi.json) against the OpenAPI specification
# with openapi-spec-validator: the schema of the document itself, and the rules a schema cannot
# express (unique operationIds, every path template parameter declared, resolvable $refs).
# Installs a pinned validator into a venv under the target directory on first use.
#   scripts/openapi-validate.sh FILE.json
set -euo pipefail
cd "$(dirname "$0")/.."

VALIDATOR_VERSION=0.9.0
TARGET="${CARGO_TARGET_DIR:-target}"
VENV="$TARGET/openapi-validator-venv"

if ! "$VENV/bin/python" -m pip show openapi-spec-validator 2>/dev/null \
  | grep -qx "Version: $VALIDATOR_VERSION"; then
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "openapi-spec-validator==$VALIDATOR_VERSION"
fi

exec "$VENV/bin/openapi-spec-validator" --subschema-errors all "$@"
