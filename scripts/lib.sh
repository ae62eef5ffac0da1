# Shared helpers for the scripts (sourced).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export PATH="/usr/lib/postgresql/15/bin:$PATH"

# A TCP port nobody listens on, so runs (demo, tests) can overlap.
free_port() {
  python3 - <<'PY'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
PY
}

# Builds and installs the extension into the system PostgreSQL.
build_and_install() {
  make -C "$ROOT" -s -j"$(nproc)" >/dev/null
  $SUDO make -C "$ROOT" -s install >/dev/null
}
