#!/usr/bin/env bash
# Install the OCR engine scanned-PDF ingest and drawing-sheet labels use: Debian's tesseract with its English
# model (backend/ingest/ocr.py calls it through pytesseract; nothing is downloaded at run time).
# Idempotent; needs root (or sudo) and the Debian package mirrors. Ingest works without it, reading less.
set -euo pipefail

if command -v tesseract >/dev/null 2>&1 && tesseract --list-langs 2>/dev/null | grep -qx eng; then
    echo "tesseract present: $(tesseract --version 2>/dev/null | head -1)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "install_ocr.sh: not root and no sudo; install the tesseract-ocr and tesseract-ocr-eng packages by hand" >&2
        exit 1
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends tesseract-ocr tesseract-ocr-eng
echo "tesseract installed: $(tesseract --version 2>/dev/null | head -1)"
