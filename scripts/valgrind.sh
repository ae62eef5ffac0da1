#!/usr/bin/env bash
# Valgrind (memcheck) runs of recovery, from one command (docs/reliability.md).
#   bash scripts/valgrind.sh               selftest unit single server
#   bash scripts/valgrind.sh unit single   only some parts:
#     selftest  a deliberate heap overflow in a throwaway module, called in a
#               single-user backend under memcheck, must be reported
#     unit    the GoogleTest binary under memcheck (leaks: definite)
#     single  one backend in single-user mode (postgres --single), under
#             memcheck, running the pg_regress files (CREATE EXTENSION, watch,
#             find, recover, bad input, worker API) in one database and the
#             pgTAP files that need no second session (01, 02, 05, 06: shapes,
#             security, 150 hostile calls) in another
#     server  the whole server under memcheck (--trace-children=yes): the
#             postmaster, the background worker and every backend, running
#             the pg_regress files, the isolation specs, every pgTAP file
#             and worker cycles
# recovery is built normally (-g -O2) into a private PostgreSQL tree
# (private_tree in lib.sh), never system-wide; as root, it runs as user
# postgres (become_postgres in lib.sh). PostgreSQL itself is not
# built with USE_VALGRIND, so its own reports are noise: test/valgrind/
# summarize.pl shows only the errors and definite leaks whose stacks go
# through recovery's code, and counts the rest; test/valgrind/glibc.supp
# suppresses a false positive of glibc's loader (seen when JIT loads
# llvmjit.so). Exit status non-zero when there are any. Logs:
# build/valgrind-logs/.
PG_MAJOR=15 # the private tree is a copy of Debian's PostgreSQL 15 (private_tree in lib.sh)
source "$(dirname "$0")/lib.sh"

parts=("$@")
[ ${#parts[@]} -gt 0 ] || parts=(selftest unit single server)
for p in "${parts[@]}"; do
  [[ $p =~ ^(selftest|unit|single|server)$ ]] || { echo "valgrind: unknown part $p" >&2; exit 2; }
done
wants() { [[ " ${parts[*]} " == *" $1 "* ]]; }
command -v valgrind >/dev/null || { echo "valgrind: not installed (apt-get install valgrind)" >&2; exit 2; }
become_postgres "$@"

LOGS="$ROOT/build/valgrind-logs"
rm -rf "$LOGS" && mkdir -p "$LOGS"
TREE=$(mktemp -d "${TMPDIR:-/tmp}/recovery-valgrind.XXXXXX")
server_running=""
cleanup() {
  [ -z "$server_running" ] || "$BINDIR/pg_ctl" -D "$TREE/data/pg" -m immediate stop >/dev/null 2>&1 || true
  if [ -n "${RECOVERY_VALGRIND_KEEP:-}" ]; then echo "valgrind: tree kept in $TREE"; else rm -rf "$TREE"; fi
}
trap cleanup EXIT
failures=0
fail() { echo "valgrind: FAILED: $*"; failures=$((failures + 1)); }
started=$(date +%s)
MEMCHECK=(valgrind --tool=memcheck --num-callers=40 --error-limit=no --track-origins=yes
          --leak-check=full --show-leak-kinds=definite --errors-for-leak-kinds=definite
          --suppressions="$ROOT/test/valgrind/glibc.supp")

summarize() {  # name logs...
  local name=$1
  shift
  if perl "$ROOT/test/valgrind/summarize.pl" "$@" >"$LOGS/$name.summary"; then
    tail -n 20 "$LOGS/$name.summary"
  else
    cat "$LOGS/$name.summary" | head -n 120
    fail "$name: errors in recovery's code (see $LOGS/$name.summary)"
  fi
}

if wants unit; then
  echo "==> unit tests under memcheck"
  build="$ROOT/build/valgrind"
  cmake -S "$ROOT" -B "$build" -DCMAKE_BUILD_TYPE=Debug >"$LOGS/unit-build.log" 2>&1 &&
    cmake --build "$build" --target unit_tests -j"$(nproc)" >>"$LOGS/unit-build.log" 2>&1 ||
    { tail -n 20 "$LOGS/unit-build.log"; fail "unit test build"; }
  "${MEMCHECK[@]}" --log-file="$LOGS/unit.valgrind.log" "$build/unit_tests" >"$LOGS/unit.log" 2>&1 ||
    fail "unit tests under memcheck (see $LOGS/unit.log)"
  grep -E '^\[  (PASSED|FAILED)' "$LOGS/unit.log" || true
  summarize unit "$LOGS/unit.valgrind.log"
fi

if wants single || wants server || wants selftest; then
  echo "==> recovery (make, -g -O2) into a private PostgreSQL tree ($TREE)"
  BINDIR=$(private_tree "$TREE") || { fail "private tree"; exit 1; }
  export PATH="$BINDIR:$PATH"
  mkdir -p "$TREE/data"
  chmod 700 "$TREE/data"
  "$BINDIR/initdb" -D "$TREE/data/pg" -A trust -U postgres --locale=C.UTF-8 -E UTF8 \
    >"$LOGS/initdb.log" 2>&1 || { cat "$LOGS/initdb.log"; exit 1; }
  perl "$ROOT/test/valgrind/single-user.pl" sql/*.sql >/dev/null  # syntax check of the converter
fi

if wants selftest; then
  echo "==> self-test: a deliberate heap overflow must be reported"
  gcc -shared -fPIC -g -O0 -I"$(pg_config --includedir-server)" -o "$(pg_config --pkglibdir)/valgrind_selftest.so" \
    "$ROOT/test/sanitize/selftest.c"
  printf '%s\n\n' "CREATE FUNCTION selftest_overflow(int) RETURNS int AS 'valgrind_selftest', 'asan_selftest_overflow' LANGUAGE C STRICT;" \
    "SELECT selftest_overflow(8);" "DROP FUNCTION selftest_overflow(int);" >"$TREE/selftest.sql"
  chmod 644 "$TREE/selftest.sql"
  "${MEMCHECK[@]}" --log-file="$LOGS/selftest.valgrind.%p.log" \
    "$BINDIR/postgres" --single -D "$TREE/data/pg" -j postgres <"$TREE/selftest.sql" >"$LOGS/selftest.out" 2>&1 || true
  if VALGRIND_OURS='selftest\.c:\d+' perl "$ROOT/test/valgrind/summarize.pl" "$LOGS"/selftest.valgrind.*.log \
      >"$LOGS/selftest.summary"; then
    fail "memcheck did not report a deliberate heap overflow: the set-up is blind"
  else
    echo "selftest: memcheck reported the heap overflow ($(grep -m1 '^=== recovery' "$LOGS/selftest.summary" | sed 's/=== recovery: //'))"
  fi
  rm -f "$(pg_config --pkglibdir)/valgrind_selftest.so"
fi

if wants single; then
  echo "==> one backend in single-user mode under memcheck: pg_regress files, pgTAP 01 02 05 06"
  cd "$ROOT"
  single() {  # name database input
    "${MEMCHECK[@]}" --log-file="$LOGS/$1.valgrind.%p.log" \
      "$BINDIR/postgres" --single -D "$TREE/data/pg" -j -c shared_preload_libraries=recovery \
      -c max_stack_depth=4MB "$2" <"$3" >"$LOGS/$1.out" 2>&1
  }
  printf 'CREATE DATABASE regress;\n\nCREATE DATABASE taprun;\n\n' >"$TREE/create.sql"
  "$BINDIR/postgres" --single -D "$TREE/data/pg" -j postgres <"$TREE/create.sql" >/dev/null 2>&1
  perl test/valgrind/single-user.pl sql/*.sql >"$TREE/regress.sql"
  { printf 'CREATE EXTENSION pgtap;\n\nCREATE EXTENSION recovery;\n\n'
    perl test/valgrind/single-user.pl test/pgtap/01_*.sql test/pgtap/02_*.sql test/pgtap/05_*.sql test/pgtap/06_*.sql
  } >"$TREE/pgtap.sql"
  chmod 644 "$TREE"/*.sql
  t0=$(date +%s)
  single regress regress "$TREE/regress.sql" || fail "single-user backend (regress) exited non-zero"
  t1=$(date +%s)
  single pgtap taprun "$TREE/pgtap.sql" || fail "single-user backend (pgTAP) exited non-zero"
  t2=$(date +%s)
  echo "single-user: pg_regress files $((t1 - t0))s, pgTAP files $((t2 - t1))s; " \
    "pgTAP $(grep -cE '= "ok [0-9]' "$LOGS/pgtap.out" || true) ok, $(grep -cE '= "not ok [0-9]' "$LOGS/pgtap.out" || true) not ok;" \
    "statement errors: regress $(grep -c ' ERROR: ' "$LOGS/regress.out" || true), pgTAP $(grep -c ' ERROR: ' "$LOGS/pgtap.out" || true)" \
    "(the expected ones of the bad-input cases included; only memcheck's findings count here)"
  summarize single "$LOGS"/regress.valgrind.*.log "$LOGS"/pgtap.valgrind.*.log
fi

if wants server; then
  echo "==> the whole server under memcheck (--trace-children=yes): pg_regress files, a worker cycle"
  sock="$TREE/sock"
  mkdir -p "$sock"
  port=$(free_port)
  # Paused workers for the SQL suites (as scripts/test.sh runs them); on for
  # the worker cycle below (in postgresql.conf, so that ALTER SYSTEM wins).
  echo "recovery.enabled = off" >>"$TREE/data/pg/postgresql.conf"
  "${MEMCHECK[@]}" --trace-children=yes --log-file="$LOGS/server.valgrind.%p.log" \
    "$BINDIR/postgres" -D "$TREE/data/pg" -p "$port" -c listen_addresses= -c unix_socket_directories="$sock" \
    -c shared_preload_libraries=recovery -c recovery.naptime=1 >"$LOGS/server.log" 2>&1 &
  server_running=1
  export PGHOST="$sock" PGPORT="$port" PGUSER=postgres
  for _ in $(seq 1 120); do pg_isready -q && break; sleep 1; done
  t0=$(date +%s)
  make -C "$ROOT" -s installcheck TAP_TESTS= PG_CONFIG="$BINDIR/pg_config" >"$LOGS/server-sql.log" 2>&1 ||
    { head -n 40 "$ROOT/regression.diffs" "$ROOT/output_iso/regression.diffs" 2>/dev/null
      fail "pg_regress or isolation under memcheck (see $LOGS/server-sql.log)"; }
  grep -E 'tests passed|failed' "$LOGS/server-sql.log" || true
  make -C "$ROOT" -s installcheck-pgtap PG_CONFIG="$BINDIR/pg_config" >>"$LOGS/server-sql.log" 2>&1 ||
    fail "pgTAP under memcheck (see $LOGS/server-sql.log)"
  grep -E '^(Files|Result)' "$LOGS/server-sql.log" || true
  psql -X -q -d postgres -c "ALTER SYSTEM SET recovery.enabled = on" -c "SELECT pg_reload_conf()" >/dev/null
  psql -X -q -d postgres -v runs=20 -v prefix=v -f test/fixtures/worker.sql >/dev/null
  for _ in $(seq 1 120); do
    [ "$(psql -X -Atq -d postgres -c "SELECT count(*) FROM qualification_runs WHERE status = 'FAILED'")" = 20 ] && break
    sleep 1
  done
  sleep 3    # more cycles, over the dropped table too
  echo "server: worker recovered $(psql -X -Atq -d postgres -c "SELECT count(*) FROM recovery.history") of 20 runs;" \
    "$(( $(date +%s) - t0 ))s under memcheck"
  "$BINDIR/pg_ctl" -D "$TREE/data/pg" -m fast -w -t 600 stop >/dev/null || fail "server stop"
  server_running=""
  wait || true
  summarize server "$LOGS"/server.valgrind.*.log
fi

echo "valgrind: ${parts[*]}: $failures failures, $(( $(date +%s) - started ))s"
[ "$failures" -eq 0 ]
