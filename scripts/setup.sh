# Sourced by scripts/app and scripts/test: make .venv and install the project into it, once per
# change of pyproject.toml. Usage: setup_env "" | setup_env "[test]"
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${NOCODE_VENV:-$ROOT/.venv}"

setup_env() {
  local extras="$1"
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "nocode: Python 3.10 or newer is needed (set PYTHON=/path/to/python3)." >&2
    exit 1
  fi
  [ -x "$VENV/bin/python" ] || "$python" -m venv "$VENV"
  local stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)${extras//[^a-z]/-}"
  if [ ! -f "$stamp" ]; then
    echo "nocode: installing into $VENV (first run: torch is large, a few minutes)..." >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip
    "$VENV/bin/python" -m pip install --quiet -e "$ROOT$extras"
    touch "$stamp"
  fi
}
