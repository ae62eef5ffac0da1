#!/usr/bin/env bash
# What a metrics scrape costs: recovery.table_status() on the seed's schema
# with 1M finished runs, 500 stuck, 5,000 active and 200,000 history rows
# (RUNS, STUCK, HISTORY override), with the partial index of
# watch(create_index => true). Starts its own throwaway cluster (a temporary
# directory, a free port; removed at the end) from RECOVERY_PG_BINDIR or
# pg_config's bindir, which must have the extension installed. Prints
# pgbench's average latency of one call and the plans of the statements it
# runs (auto_explain).
#   bash bench/table_status.sh
#   RECOVERY_PG_BINDIR=/tmp/mt/usr/lib/postgresql/15/bin bash bench/table_status.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${RECOVERY_PG_BINDIR:-$(pg_config --bindir)}
RUNS=${RUNS:-1000000} STUCK=${STUCK:-500} HISTORY=${HISTORY:-200000}
as_user=()
[ "$(id -u)" -ne 0 ] || as_user=(runuser -u postgres --)
dir=$(mktemp -d "${TMPDIR:-/tmp}/recovery-table-status.XXXXXX")
chmod 755 "$dir"
[ ${#as_user[@]} -eq 0 ] || chown postgres "$dir"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cleanup() {
  "${as_user[@]}" "$BIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT
"${as_user[@]}" "$BIN/initdb" -D "$dir/data" -A trust >/dev/null
cat >>"$dir/data/postgresql.conf" <<EOF
port = $port
listen_addresses = ''
unix_socket_directories = '$dir'
shared_preload_libraries = 'recovery'
recovery.enabled = off
EOF
"${as_user[@]}" "$BIN/pg_ctl" -D "$dir/data" -l "$dir/log" -w start >/dev/null
psql() { "${as_user[@]}" "$BIN/psql" -h "$dir" -p "$port" -d postgres -X -q -v ON_ERROR_STOP=1 "$@"; }
psql -f "$ROOT/demo/seed-schema.sql" >/dev/null
psql >/dev/null <<EOF
CREATE EXTENSION recovery;
INSERT INTO "Company" VALUES ('co1', 'Acme', 'acme.test');
INSERT INTO "ICP" VALUES ('icp1', 'CTOs', 'co1');
SELECT recovery.watch('qualification_runs', create_index => true);
INSERT INTO qualification_runs (id, "icpId", status, "createdAt", "completedAt")
  SELECT 'r' || g, 'icp1', 'COMPLETED', (now() AT TIME ZONE 'UTC') - interval '2 days',
         (now() AT TIME ZONE 'UTC') - interval '1 day' FROM generate_series(1, $RUNS) g;
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  SELECT 's' || g, 'icp1', 'PROCESSING', (now() AT TIME ZONE 'UTC') - interval '2 hours'
  FROM generate_series(1, $STUCK) g;
INSERT INTO qualification_runs (id, "icpId", status, "createdAt")
  SELECT 'a' || g, 'icp1', 'PROCESSING', now() AT TIME ZONE 'UTC' FROM generate_series(1, 5000) g;
INSERT INTO recovery.history (recovered_at, run_table, run_id, previous_status, new_status,
    stuck_minutes, reason, action, recovered_by, run_table_oid)
  SELECT now() - g * interval '1 minute', 'public.qualification_runs', 'h' || g, 'PROCESSING',
         'FAILED', 40, 'timeout', 'fail', 'postgres', 'qualification_runs'::regclass
  FROM generate_series(1, $HISTORY) g;
VACUUM ANALYZE qualification_runs;
VACUUM ANALYZE recovery.history;
EOF
echo "SELECT * FROM recovery.table_status();" >"$dir/scrape.sql"
chmod 644 "$dir/scrape.sql"
echo "==> $RUNS finished runs, $STUCK stuck, 5000 active, $HISTORY history rows"
psql -c 'SELECT * FROM recovery.table_status()'
"${as_user[@]}" "$BIN/pgbench" -h "$dir" -p "$port" -n -T 10 -c 1 -f "$dir/scrape.sql" postgres |
  grep -E 'latency average|number of transactions actually processed'
echo "==> plans"
psql -c "LOAD 'auto_explain'" -c 'SET auto_explain.log_min_duration = 0' \
  -c 'SET auto_explain.log_nested_statements = on' -c 'SET auto_explain.log_analyze = on' \
  -c 'SELECT count(*) FROM recovery.table_status()' >/dev/null
grep -E '^\s+(->|Aggregate|Result|Index|Heap|InitPlan)' "$dir/log" || true
