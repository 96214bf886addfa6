#!/usr/bin/env bash
# Installs what Consentinel needs from Debian's packages: librdkafka, zlib, kcat and util-linux's `script`
# (bsdutils: runs replay under a pseudo-terminal in the tests).
set -euo pipefail
APT_INSTALL_FOR="$0" "$(dirname "$0")/apt-install.sh" librdkafka-dev zlib1g-dev pkg-config kcat bsdutils
