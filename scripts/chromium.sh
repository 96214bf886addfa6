#!/usr/bin/env bash
# Installs Debian's Chromium and a font for the digest pages' headless layout tests (Tests/DigestsTests/LayoutTests).
set -euo pipefail
APT_INSTALL_FOR="$0" "$(dirname "$0")/apt-install.sh" chromium fonts-dejavu-core
command -v chromium >/dev/null || { echo "chromium.sh: chromium is not on PATH after installing it" >&2; exit 1; }
