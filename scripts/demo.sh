#!/usr/bin/env bash
# The demo: a throwaway cluster with the seed's schema and a few stuck runs;
# shows check (--check-only), recover, and the history, all through SQL.
source "$(dirname "$0")/lib.sh"
bash "$ROOT/scripts/install-deps.sh"
build_and_install
port=$(free_port)
echo "==> throwaway cluster on port $port"
# The worker starts paused: the demo turns it on for its last part.
pg_virtualenv -t -c "-p $port" -o "shared_preload_libraries=recovery" \
  -o "recovery.naptime=60" -o "recovery.enabled=off" \
  psql -X -v ON_ERROR_STOP=1 -q -f "$ROOT/demo/demo.sql"
