#!/usr/bin/env bash
# python-env.sh: create (idempotently) the Python virtualenv that the interop
# tests (tests/interop/*.py) run in, at <repo>/.venv, with a pinned FalconPy,
# requests, PyJWT (with cryptography, for EdDSA) to verify Talon's tokens
# against its JWKS, schemathesis, and CrowdStrike's own tools built on
# FalconPy: caracara, falcon-toolkit (with keyrings.alt for a keyring that
# needs no desktop session) and falcon-mcp. They share the one venv: all of
# them accept FalconPy 1.6.6.
#
# - Safe to run from several processes at once: everything happens under an
#   exclusive flock on <repo>/.venv.lock.
# - Quick when nothing changed: a stamp file inside the venv records what was
#   installed (the pins and the interpreter version); if it matches, nothing is
#   reinstalled.
# - On success prints the venv's python path (and nothing else) on stdout;
#   progress goes to stderr.
#
# Usage: scripts/python-env.sh        (then run "$(scripts/python-env.sh)" ...)
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
LOCK="$REPO_ROOT/.venv.lock"
STAMP="$VENV/.talon-python-env.stamp"
PY="$VENV/bin/python"

# Pins. Bump here; the stamp then no longer matches and the venv is updated.
REQUIREMENTS=(
    "crowdstrike-falconpy==1.6.6"
    "requests>=2.28,<3"
    "pyjwt[crypto]==2.10.1"
    "schemathesis==4.32.5"
    "caracara==1.1.0"
    "falcon-toolkit==3.6.2"
    "falcon-mcp==0.20.0"
    "keyrings.alt==5.0.2"
)

log() { printf 'python-env: %s\n' "$*" >&2; }

command -v python3 >/dev/null 2>&1 || { log "python3 not found"; exit 1; }
command -v flock >/dev/null 2>&1 || { log "flock not found (util-linux)"; exit 1; }

# What the stamp must say for the venv to count as up to date.
want_stamp="$(python3 -V 2>&1) ${REQUIREMENTS[*]}"

exec 9>"$LOCK"
flock 9

if [[ -x "$PY" && -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] \
    && "$PY" -I -S -c '' >/dev/null 2>&1; then
    echo "$PY"
    exit 0
fi

rm -f "$STAMP"
# (Re)create the venv when it is missing, broken, or built on another
# interpreter version than today's python3.
if [[ ! -x "$PY" ]] || [[ "$("$PY" -V 2>&1 || true)" != "$(python3 -V 2>&1)" ]]; then
    log "creating venv at $VENV"
    python3 -m venv --clear "$VENV" >&2
fi

log "installing ${REQUIREMENTS[*]}"
PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 \
    "$PY" -m pip install --quiet "${REQUIREMENTS[@]}" >&2

installed="$("$PY" -c 'import falconpy; print(falconpy.__version__)')"
want_falconpy="${REQUIREMENTS[0]#*==}"
if [[ "$installed" != "$want_falconpy" ]]; then
    log "expected falconpy $want_falconpy, got $installed"
    exit 1
fi

printf '%s\n' "$want_stamp" >"$STAMP"
echo "$PY"
