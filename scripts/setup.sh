#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: system tools (apt-get, when root), the virtualenv and the
# pinned Python packages. Re-running it does nothing when everything is already in place.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3

need_apt=()
command -v verilator >/dev/null 2>&1 || need_apt+=(verilator)
command -v yosys >/dev/null 2>&1 || need_apt+=(yosys)
command -v g++ >/dev/null 2>&1 || need_apt+=(g++)
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)  # the report page as a browser shows it
if ((${#need_apt[@]})); then
    if [ "$(id -u)" = 0 ]; then
        echo "setup: apt-get install ${need_apt[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
    else
        echo "setup: missing ${need_apt[*]} (not root: install them with your package manager)" >&2
    fi
fi

stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
    [ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e ".[dev]"
    # Peers (see pyproject.toml [peers]): without their declared dependencies, on purpose.
    .venv/bin/python -m pip install --quiet --no-deps "hgq==0.2.6"
    rm -f .venv/.installed-*
    touch "$stamp"
fi
