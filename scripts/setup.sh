#!/usr/bin/env bash
# Installs what Consentinel needs from Debian's packages: librdkafka, zlib, kcat and util-linux's `script`
# (bsdutils: runs replay under a pseudo-terminal in the tests).
set -euo pipefail
packages=(librdkafka-dev zlib1g-dev pkg-config kcat bsdutils)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
