#!/usr/bin/env bash
# Runs every test suite against real PostgreSQL servers it starts itself, and
# ends with "N passed, N failed". Exit status is non-zero on any failure.
#   bash scripts/test.sh            all suites
#   bash scripts/test.sh unit sql   only some (unit, sql, tap, node, soak, asan)
source "$(dirname "$0")/lib.sh"

suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=(unit sql tap node soak asan)
LOGS="$ROOT/build/test-logs"
mkdir -p "$LOGS"

passed=0
failed=0
record() {  # suite passed failed
  echo "==> $1: $2 passed, $3 failed"
  passed=$((passed + $2))
  failed=$((failed + $3))
}
count() { grep -cE "$1" "$2" || true; }

bash "$ROOT/scripts/install-deps.sh"
build_and_install

run_unit() {
  local log="$LOGS/unit.log"
  if ! { cmake -S "$ROOT" -B "$ROOT/build" -DCMAKE_BUILD_TYPE=Debug >"$log" 2>&1 &&
         cmake --build "$ROOT/build" -j"$(nproc)" >>"$log" 2>&1; }; then
    grep -E "error" "$log" | head -n 20
    record unit 0 1
    return
  fi
  local status=0
  (cd "$ROOT/build" && ctest --output-on-failure) >"$log" 2>&1 || status=$?
  cat "$log" | tail -n 3
  local total bad
  total=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/p' "$log")
  bad=$(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/p' "$log")
  if [ -z "$total" ]; then record unit 0 1; return; fi
  [ "$status" -eq 0 ] || [ "$bad" -gt 0 ] || bad=1
  record unit $((total - bad)) "$bad"
}

# pg_regress (sql/, expected/) and pgTAP (test/pgtap) share one throwaway cluster.
run_sql() {
  local log="$LOGS/sql.log" port status=0
  port=$(free_port)
  # The workers are paused (the launcher starts one in each test database):
  # they must not race the tests' own calls.
  pg_virtualenv -t -c "-p $port" -o "shared_preload_libraries=recovery" -o "recovery.enabled=off" \
    bash "$ROOT/scripts/sql-suites.sh" >"$log" 2>&1 || status=$?
  grep -E '\.\.\. |^(not )?ok |^(All|[0-9]+ of) .*tests|Result:' "$log" | grep -v '^ok ' || true
  local ok bad
  ok=$(( $(count '\.\.\. ok' "$log") + $(count '^ok [0-9]' "$log") ))
  bad=$(( $(count '\.\.\. FAILED|\.\.\. failed' "$log") + $(count '^not ok [0-9]' "$log") ))
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
    tail -n 30 "$log"
    bad=1
  fi
  [ -f "$ROOT/regression.diffs" ] && head -n 80 "$ROOT/regression.diffs"
  record "pg_regress+pgTAP" "$ok" "$bad"
}

run_tap() {
  [ -n "$(ls "$ROOT"/test/tap/*.pl 2>/dev/null)" ] || return 0
  local log="$LOGS/tap.log" status=0
  bash "$ROOT/scripts/tap-suite.sh" >"$log" 2>&1 || status=$?
  grep -E '^t/|^(not )?ok |Result:|^# ' "$log" | grep -vE '^ok |^# (Looks|at )' || true
  local ok bad
  ok=$(count '^\s*ok [0-9]' "$log")
  bad=$(count '^\s*not ok [0-9]' "$log")
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then tail -n 40 "$log"; bad=1; fi
  record "TAP (PostgreSQL::Test::Cluster)" "$ok" "$bad"
}

run_node() {
  [ -f "$ROOT/examples/nextjs/package.json" ] || return 0
  local log="$LOGS/node.log" status=0
  bash "$ROOT/scripts/node-suite.sh" >"$log" 2>&1 || status=$?
  grep -E '^# (pass|fail)|^not ok' "$log" || true
  local ok bad
  ok=$(sed -nE 's/^# pass ([0-9]+)/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  bad=$(sed -nE 's/^# fail ([0-9]+)/\1/p' "$log" | awk '{s+=$1} END {print s+0}')
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then tail -n 40 "$log"; bad=1; fi
  record "node" "$ok" "$bad"
}

# The concurrency soak (test/soak, bench/soak): RECOVERY_SOAK_SECONDS of load
# (60 by default), then its invariants; the figures are its "# " lines.
run_soak() {
  local log="$LOGS/soak.log" status=0
  bash "$ROOT/scripts/soak-suite.sh" >"$log" 2>&1 || status=$?
  grep -E '^# (soak|app runs|recoveries|live runs|worker|lock waits|wrong|soak-)|^not ok|Result:' "$log" || true
  local ok bad
  ok=$(count '^\s*ok [0-9]' "$log")
  bad=$(count '^\s*not ok [0-9]' "$log")
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then tail -n 40 "$log"; bad=1; fi
  record "soak (pgbench, ${RECOVERY_SOAK_SECONDS:-60} s)" "$ok" "$bad"
}

# The cheap sanitizer run (under a minute): recovery built with
# ASan+UBSan into a private PostgreSQL tree (never system-wide), its self-test,
# then pg_regress, pgTAP and worker cycles against it, failing on any report.
# The rest (unit, tap, soak) and valgrind: scripts/sanitize.sh, scripts/valgrind.sh.
run_asan() {
  local log="$LOGS/asan.log" status=0
  bash "$ROOT/scripts/sanitize.sh" selftest sql >"$log" 2>&1 || status=$?
  grep -E '^(selftest|worker|sanitize):|FAILED|^Result:|tests passed' "$log" || true
  local ok bad regress=0 pgtap=0
  regress=$(sed -nE 's/^ *All ([0-9]+) tests passed.*/\1/p' "$log" | head -n 1)
  grep -q '^Result: PASS' "$log" && pgtap=$(sed -nE 's/^Files=[0-9]+, Tests=([0-9]+),.*/\1/p' "$log" | head -n 1)
  ok=$(( $(count '^(selftest|worker): ' "$log") + ${regress:-0} + ${pgtap:-0} ))
  bad=$(sed -nE 's/^sanitize: .*: ([0-9]+) reports, ([0-9]+) failures.*/\2/p' "$log")
  [ -n "$bad" ] || bad=1
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then tail -n 40 "$log"; bad=1; fi
  record "ASan+UBSan (pg_regress, pgTAP, worker)" "$ok" "$bad"
}

for suite in "${suites[@]}"; do "run_$suite"; done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
