#!/usr/bin/env bash
# catalogue.sh: regenerate the Falcon operation catalogue (crates/wire/catalogue/operations.jsonl and
# crates/wire/src/scope_resources.rs) from the FalconPy release pinned in scripts/python-env.sh.
# Arguments go to scripts/catalogue.py: --check compares instead of writing, --report prints counts.
set -euo pipefail
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="$("$REPO_ROOT/scripts/python-env.sh")"
exec "$PY" "$REPO_ROOT/scripts/catalogue.py" "$@"
