#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer runs of recovery, from one
# command (see docs/reliability.md). Ends "sanitize: ... N passed, N reports,
# N failures" and exits non-zero on any sanitizer report or test failure.
#   bash scripts/sanitize.sh                 selftest unit sql tap
#   bash scripts/sanitize.sh unit sql        only some parts:
#     selftest  deliberate ASan and UBSan bugs in a throwaway module must be
#               reported, or the set-up is blind
#     unit      GoogleTest under -DRECOVERY_SANITIZE=ON (with LeakSanitizer)
#     sql       pg_regress, the isolation specs and pgTAP against a sanitized
#               server, then the background worker through cycles, batches and faults
#     tap       every test/tap/*.pl against sanitized servers
#     soak      test/soak against a sanitized server (RECOVERY_SOAK_SECONDS, 30 here)
#
# Nothing is installed system-wide: `make SANITIZE=1` is built and installed
# into a private copy of the PostgreSQL installation (private_tree in scripts/lib.sh)
# whose postgres loads the ASan runtime first (as with LD_PRELOAD, but patched
# into the copy's executable so pg_ctl restart keeps it), with detect_leaks=0
# (PostgreSQL frees by resetting memory contexts) and UBSan's
# print_stacktrace=1:halt_on_error=1 (test/sanitize/asan-early-init.c). ASan reports are written to
# <tree>/sanitizer/ and copied to build/sanitize-logs/reports/; UBSan's go to
# the server logs, which are kept in build/sanitize-logs/ and searched, for
# crashes too. RECOVERY_SANITIZE_KEEP=1 keeps the tree. As root, it runs as
# user postgres (become_postgres in lib.sh).
PG_MAJOR=15 # the private tree is a copy of Debian's PostgreSQL 15 (private_tree in lib.sh)
source "$(dirname "$0")/lib.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(selftest unit sql tap)
for p in "${parts[@]}"; do
  [[ $p =~ ^(unit|sql|tap|soak|selftest)$ ]] || { echo "sanitize: unknown part $p" >&2; exit 2; }
done
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }

command -v gcc >/dev/null && [ -f "$(readlink -f "$(gcc -print-file-name=libasan.so)")" ] ||
  { echo "sanitize: gcc's libasan is missing (apt-get install gcc)" >&2; exit 2; }

command -v patchelf >/dev/null || { echo "sanitize: patchelf is missing (bash scripts/install-deps.sh)" >&2; exit 2; }
become_postgres "$@"

LOGS="$ROOT/build/sanitize-logs"
rm -rf "$LOGS" && mkdir -p "$LOGS"
TREE=$(mktemp -d "${TMPDIR:-/tmp}/recovery-asan.XXXXXX")
BINDIR=""
failures=0
passed=0
server_pid_file=""
cleanup() {
  if [ -n "$server_pid_file" ] && [ -f "$server_pid_file" ]; then
    "$BINDIR/pg_ctl" -D "$(dirname "$server_pid_file")" -m immediate stop >/dev/null 2>&1 || true
  fi
  if [ -n "${RECOVERY_SANITIZE_KEEP:-}" ]; then
    echo "sanitize: tree kept in $TREE"
  else
    rm -rf "$TREE"
  fi
}
trap cleanup EXIT
fail() { echo "sanitize: FAILED: $*"; failures=$((failures + 1)); }
pass() { passed=$((passed + $1)); }  # N checks passed (the counts of the tools, or 1)
started=$(date +%s)

# --- unit: GoogleTest, instrumented, with LeakSanitizer ----------------------
if wants unit; then
  echo "==> unit tests under ASan+UBSan (cmake -DRECOVERY_SANITIZE=ON)"
  build="$ROOT/build/asan"
  if cmake -S "$ROOT" -B "$build" -DRECOVERY_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >"$LOGS/unit.log" 2>&1 &&
     cmake --build "$build" --target unit_tests -j"$(nproc)" >>"$LOGS/unit.log" 2>&1 &&
     (cd "$build" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest --output-on-failure) >>"$LOGS/unit.log" 2>&1; then
    grep -E 'tests passed' "$LOGS/unit.log" | tail -n 1
    pass "$(sed -nE 's/.* out of ([0-9]+)$/\1/p' "$LOGS/unit.log" | tail -n 1)"
  else
    tail -n 30 "$LOGS/unit.log"
    fail "unit tests (log: $LOGS/unit.log)"
  fi
  if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$LOGS/unit.log"; then
    grep -E -A 20 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$LOGS/unit.log" | head -n 60
    fail "sanitizer report in the unit tests"
  fi
fi

# --- the sanitized private tree ---------------------------------------------
if wants sql || wants tap || wants soak || wants selftest; then
  echo "==> make SANITIZE=1, installed into a private PostgreSQL tree ($TREE)"
  BINDIR=$(private_tree "$TREE" SANITIZE=1) || { fail "private tree"; exit 1; }
  export PATH="$BINDIR:$PATH"
fi

# A sanitized server of the private tree: start_server NAME (data in
# $TREE/NAME, log in $LOGS/NAME.log); the PG* variables point at it.
start_server() {
  local name=$1 data="$TREE/$1" sock="$TREE/$1-sock"
  mkdir -p "$data" "$sock"
  chmod 700 "$data"
  PORT=$(free_port)
  "$BINDIR/initdb" -D "$data/pg" -A trust -U postgres --locale=C.UTF-8 -E UTF8 \
    >"$LOGS/initdb.log" 2>&1 || { cat "$LOGS/initdb.log"; return 1; }
  {
    echo "port = $PORT"
    echo "listen_addresses = ''"
    echo "unix_socket_directories = '$sock'"
    echo "shared_preload_libraries = 'recovery'"
    # Paused workers for the SQL suites (as scripts/test.sh runs them).
    echo "recovery.enabled = off"
  } >>"$data/pg/postgresql.conf"
  server_pid_file="$data/pg/postmaster.pid"
  SERVER_LOG="$LOGS/$name.log"
  touch "$SERVER_LOG"
  "$BINDIR/pg_ctl" -D "$data/pg" -l "$SERVER_LOG" -w -t 120 start >/dev/null || return 1
  export PGHOST="$sock" PGPORT="$PORT" PGUSER=postgres PGDATABASE=postgres
  grep -q libasan "/proc/$(head -n 1 "$server_pid_file")/maps" ||
    { fail "the server does not run with the ASan runtime"; return 1; }
}
stop_server() {
  "$BINDIR/pg_ctl" -D "$(dirname "$server_pid_file")" -m fast -w stop >/dev/null || true
  server_pid_file=""
}
# Reports and crashes in a server log: UBSan writes its reports there; a
# sanitizer abort shows as a backend terminated by signal 6. Up to the
# shutdown request (after it, background workers exit with code 1).
scan_server_log() {
  if sed -n '1,/received \(fast\|smart\|immediate\) shutdown request/p' "$1" |
      grep -nE 'Sanitizer|runtime error:|terminated by signal|exited with exit code|PANIC'; then
    fail "sanitizer report or crash in the server log ($1)"
  fi
}

# --- selftest, on a server of its own (it crashes backends on purpose) --------
if wants selftest; then
  echo "==> self-test: deliberate bugs must be reported"
  start_server selftest || { fail "could not start a sanitized server"; exit 1; }
  gcc -shared -fPIC -g -O0 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
    -I"$(pg_config --includedir-server)" -o "$(pg_config --pkglibdir)/asan_selftest.so" \
    "$ROOT/test/sanitize/selftest.c"
  psql -X -q -c "CREATE FUNCTION asan_selftest_overflow(int) RETURNS int AS 'asan_selftest' LANGUAGE C STRICT" \
    -c "CREATE FUNCTION asan_selftest_signed_overflow(int) RETURNS int AS 'asan_selftest' LANGUAGE C STRICT" >/dev/null
  psql -X -q -c "SELECT asan_selftest_overflow(8)" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do psql -X -q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
  psql -X -q -c "SELECT asan_selftest_signed_overflow(2147483647)" >/dev/null 2>&1 || true
  for _ in $(seq 1 60); do psql -X -q -c "SELECT 1" >/dev/null 2>&1 && break; sleep 1; done
  stop_server
  if grep -qs 'heap-buffer-overflow' "$TREE"/sanitizer/asan.*; then
    echo "selftest: ASan reported the heap-buffer-overflow"
    pass 1
  else
    fail "ASan did not report a deliberate heap-buffer-overflow: the set-up is blind"
  fi
  # UBSan, as a plugin of the preloaded ASan runtime, ignores log_path: its
  # reports go to stderr, i.e. the server log.
  if grep -qs 'runtime error: signed integer overflow' "$SERVER_LOG"; then
    echo "selftest: UBSan reported the signed integer overflow"
    pass 1
  else
    fail "UBSan did not report a deliberate signed overflow: the set-up is blind"
  fi
  mkdir -p "$LOGS/selftest-reports"
  find "$TREE/sanitizer" -type f -exec mv {} "$LOGS/selftest-reports/" \;
  rm -f "$(pg_config --pkglibdir)/asan_selftest.so"
fi

# --- sql: pg_regress + pgTAP, then the worker ---------------------------------
if wants sql; then
  start_server sql || { fail "could not start a sanitized server"; exit 1; }
  echo "==> pg_regress, isolation specs, pgTAP against a sanitized server"
  if make -C "$ROOT" -s installcheck TAP_TESTS= PG_CONFIG="$BINDIR/pg_config" >"$LOGS/regress.log" 2>&1; then
    pass "$(regress_counts "$LOGS/regress.log" | cut -d' ' -f1)"
  else
    head -n 40 "$ROOT/regression.diffs" "$ROOT/output_iso/regression.diffs" 2>/dev/null || true
    fail "pg_regress or isolation (log: $LOGS/regress.log)"
  fi
  grep -E 'tests (passed|failed)' "$LOGS/regress.log" || true
  if make -C "$ROOT" -s installcheck-pgtap PG_CONFIG="$BINDIR/pg_config" >"$LOGS/pgtap.log" 2>&1; then
    pass "$(tap_counts "$LOGS/pgtap.log" | cut -d' ' -f1)"
  else
    grep -E '^\s*not ok|Parse errors' "$LOGS/pgtap.log" || tail -n 20 "$LOGS/pgtap.log"
    fail "pgTAP (log: $LOGS/pgtap.log)"
  fi
  grep -E '^(Files|Result)' "$LOGS/pgtap.log" || true

  echo "==> the background worker under the sanitizer: batches, a dropped table, a failing trigger"
  psql -X -q -v runs=250 -v prefix=w -f "$ROOT/test/fixtures/worker.sql" >/dev/null
  psql -X -q -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE TABLE refusing (id int PRIMARY KEY, status text NOT NULL, created_at timestamptz NOT NULL);
SELECT recovery.watch('refusing');
CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$;
CREATE TRIGGER refuse BEFORE UPDATE ON refusing FOR EACH ROW EXECUTE FUNCTION refuse();
INSERT INTO refusing VALUES (1, 'PENDING', now() - interval '2 hours');
ALTER SYSTEM SET recovery.enabled = on;
ALTER SYSTEM SET recovery.naptime = 1;
ALTER SYSTEM SET recovery.batch_size = 100;
SELECT pg_reload_conf();
SQL
  recovered=""
  for _ in $(seq 1 60); do
    [ "$(psql -X -Atq -c "SELECT count(*) FROM qualification_runs WHERE status = 'FAILED'")" = 250 ] &&
      { recovered=1; break; }
    sleep 1
  done
  sleep 3    # a few more cycles over the broken tables
  state=$(psql -X -Atq -c "SELECT state || ' ' || total_recovered FROM recovery.worker_status() WHERE database = 'postgres'")
  if [ -n "$recovered" ] && [[ $state =~ ^(idle|running)\ 250$ ]]; then
    echo "worker: 250 runs recovered in batches of 100, a dropped table skipped, a failing trigger survived"
    pass 1
  else
    fail "the worker did not recover the 250 runs ($state; see $SERVER_LOG)"
  fi
  stop_server
  scan_server_log "$SERVER_LOG"
fi

# --- the TAP tests and the soak against sanitized servers ---------------------
# prove_tests NAME [make variables...]: make prove-installcheck with the
# private tree's pg_config; the servers' logs (tmp_check/log) are kept in
# $LOGS/NAME-servers.
prove_tests() {
  local name=$1
  shift
  if make -C "$ROOT" -s prove-installcheck PG_CONFIG="$BINDIR/pg_config" "$@" >"$LOGS/$name.log" 2>&1; then
    pass "$(tap_counts "$LOGS/$name.log" | cut -d' ' -f1)"
    grep -E '^# soak:|^(Files|Result)' "$LOGS/$name.log" || true
  else
    grep -E '^[^ ]+\.pl \.\.|^\s*not ok|^(Files|Result)' "$LOGS/$name.log" || tail -n 20 "$LOGS/$name.log"
    fail "$name (log: $LOGS/$name.log)"
  fi
  rm -rf "$LOGS/$name-servers" && cp -r "$ROOT/tmp_check/log" "$LOGS/$name-servers" 2>/dev/null || mkdir -p "$LOGS/$name-servers"
}
if wants tap; then
  echo "==> TAP tests (test/tap) against sanitized servers"
  prove_tests tap RECOVERY_TAP_TIMEOUT="${RECOVERY_TAP_TIMEOUT:-600}"
  # These tests crash servers on purpose (SIGKILL, immediate stops): only
  # sanitizer reports and aborts count here.
  if grep -nE 'Sanitizer|runtime error:|terminated by signal 6' "$LOGS"/tap-servers/*.log; then
    fail "sanitizer report in a TAP server log ($LOGS/tap-servers)"
  fi
fi
if wants soak; then
  echo "==> soak (test/soak) against a sanitized server"
  seconds=${RECOVERY_SOAK_SECONDS:-30}
  export RECOVERY_SOAK_SECONDS=$seconds
  prove_tests soak PROVE_TESTS=test/soak/201_soak.pl RECOVERY_TAP_TIMEOUT=$((seconds + 300))
  if grep -nE 'Sanitizer|runtime error:|terminated by signal' "$LOGS"/soak-servers/*.log; then
    fail "sanitizer report or crash in the soak's server log ($LOGS/soak-servers)"
  fi
fi

# --- every report, whichever process wrote it ---------------------------------
count=0
if [ -n "$BINDIR" ]; then
  reports=$(sanitizer_reports "$TREE")
  if [ -n "$reports" ]; then
    count=$(echo "$reports" | wc -l)
    mkdir -p "$LOGS/reports"
    for r in $reports; do
      cp "$r" "$LOGS/reports/"
      echo "----- $r"
      head -n 40 "$r"
    done
    fail "$count sanitizer report(s), copied to $LOGS/reports"
  fi
fi
echo "sanitize: ${parts[*]}: $passed passed, $count reports, $failures failures, $(( $(date +%s) - started ))s"
[ "$failures" -eq 0 ]
