#!/usr/bin/env bash
# Install the headless browser the UI tests drive: Debian's chromium package (Playwright's Python
# driver talks to it through executable_path=/usr/bin/chromium; no browser download is needed).
# Idempotent; needs root (or sudo) and the Debian package mirrors.
set -euo pipefail

CHROMIUM=${PRISM_CHROMIUM:-/usr/bin/chromium}
if [ -x "$CHROMIUM" ]; then
    echo "chromium present: $("$CHROMIUM" --version 2>/dev/null || echo "$CHROMIUM")"
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install_browser.sh: not root and no sudo; install the 'chromium' package by hand" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core
echo "chromium installed: $(/usr/bin/chromium --version 2>/dev/null || echo /usr/bin/chromium)"
