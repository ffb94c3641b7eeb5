#!/usr/bin/env bash
# Make sure a redis-server binary exists for the tests (they start their own instances).
# As root on Debian/Ubuntu (CI) it installs the OS package; otherwise it says what to install.
set -euo pipefail
# The Redis Cluster tests also need redis-cli (Debian: redis-tools, pulled in by redis-server).
if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "redis-server not found: installing the Debian package redis-server" >&2
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  exit 0
fi
cat >&2 <<'MSG'
error: the tests need the redis-server and redis-cli binaries (they start private instances on free ports).
Install it with your package manager, e.g.
  sudo apt-get install redis-server     # Debian / Ubuntu
  brew install redis                    # macOS
MSG
exit 1
