#!/usr/bin/env bash
# Runs every test suite against real PostgreSQL servers it starts itself, on
# every tested major (TESTED_MAJORS in lib.sh: 15 and 18), and ends with
# "N passed, N failed" (all majors), after one such line per major. Exit
# status is non-zero on any failure.
#   bash scripts/test.sh                    all suites, every major
#   bash scripts/test.sh unit sql           only some (unit, sql, tap, node, soak, asan)
#   PG_MAJOR=18 bash scripts/test.sh        one major alone (make test PG_MAJOR=18)
# On 15 (Debian's packages): every suite. On 18 (scripts/pg18.sh builds it
# from Debian's source package): sql (pg_regress, pgTAP) and tap; unit and
# node do not depend on the server's major, soak and asan stay on 15. Test
# files that need pg_cron skip themselves on 18 (pg_cron is not built there)
# and are listed by name as skipped, never counted as passed.
#   RECOVERY_TEST_PRIVATE=1 bash scripts/test.sh   15 without installing system-wide (see setup_major)
only_major=${PG_MAJOR:-}
source "$(dirname "$0")/lib.sh"
source "$ROOT/scripts/private-tree.sh"

suites=("$@")
explicit=${#suites[@]}
[ ${#suites[@]} -gt 0 ] || suites=(unit sql tap node soak asan)
for s in "${suites[@]}"; do
  [[ $s =~ ^(unit|sql|tap|node|soak|asan)$ ]] || { echo "test.sh: unknown suite $s" >&2; exit 2; }
done
if [ -n "$only_major" ]; then majors=("$only_major"); else majors=("${TESTED_MAJORS[@]}"); fi

# The suites each major runs.
suites_of() {
  case $1 in
    15) echo "unit sql tap node soak asan" ;;
    *) echo "sql tap" ;;
  esac
}

passed=0
failed=0
major_passed=0
major_failed=0
major_skipped=()
record() {  # suite passed failed
  echo "==> $1: $2 passed, $3 failed"
  major_passed=$((major_passed + $2))
  major_failed=$((major_failed + $3))
}
count() { grep -cE "$1" "$2" || true; }

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
  local log="$LOGS/sql.log" status=0
  # The workers are paused (the launcher starts one in each test database):
  # they must not race the tests' own calls.
  with_cluster -o "shared_preload_libraries=recovery" -o "recovery.enabled=off" \
    bash "$ROOT/scripts/sql-suites.sh" >"$log" 2>&1 || status=$?
  grep -E '\.\.\. |^(not )?ok |^(# )?(All|[0-9]+ of) .*tests|Result:' "$log" | grep -v '^ok ' || true
  local ok bad
  ok=$(( $(count '\.\.\. ok' "$log") + $(count '^ok [0-9]' "$log") ))
  # A pgTAP file that died before its plan ran out prints no "not ok": its
  # "Bad plan" counts as a failure of its own.
  bad=$(( $(count '\.\.\. FAILED|\.\.\. failed' "$log") + $(count '^not ok [0-9]' "$log") +
          $(count 'Parse errors: Bad plan' "$log") ))
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then
    tail -n 30 "$log"
    bad=1
  fi
  [ -f "$BUILD_DIR/regression.diffs" ] && head -n 80 "$BUILD_DIR/regression.diffs"
  record "pg_regress+pgTAP" "$ok" "$bad"
}

run_tap() {
  [ -n "$(ls "$ROOT"/test/tap/*.pl 2>/dev/null)" ] || return 0
  local log="$LOGS/tap.log" status=0
  bash "$ROOT/scripts/tap-suite.sh" >"$log" 2>&1 || status=$?
  grep -E '^t/|^(not )?ok |Result:|^# ' "$log" | grep -vE '^ok |^# (Looks|at )' || true
  local ok bad skipped
  ok=$(count '^\s*ok [0-9]' "$log")
  bad=$(count '^\s*not ok [0-9]' "$log")
  if [ "$status" -ne 0 ] && [ "$bad" -eq 0 ]; then tail -n 40 "$log"; bad=1; fi
  # Files that skipped themselves (plan skip_all): "t/NAME.pl ... skipped: why";
  # and tests skipped inside a file (Test::More skip): "ok N # skip why",
  # listed by the file's name and the reason, and not counted as passed.
  skipped=$(sed -nE 's|^t/([^ ]+\.pl) \.+ skipped: (.*)|\1 (\2)|p' "$log")
  local inner
  inner=$(awk '/^t\/[^ ]+\.pl \.+/ { f = $1; sub(/^t\//, "", f) }
               /^[ \t]*ok [0-9]+ # skip / { r = $0; sub(/^[ \t]*ok [0-9]+ # skip /, "", r); print f " (" r ")" }' "$log")
  if [ -n "$inner" ]; then
    ok=$((ok - $(wc -l <<<"$inner")))
    skipped=$(printf '%s\n%s' "$skipped" "$inner" | sed '/^$/d')
  fi
  if [ -n "$skipped" ]; then
    while read -r line; do
      echo "==> TAP: SKIPPED ${line}"
      major_skipped+=("${line%% *}")
    done <<<"$skipped"
    # Debian's 15 has every dependency (install-deps.sh): a skip there is a failure.
    if [ "$PG_MAJOR" = 15 ]; then
      echo "==> TAP: on 15 nothing may be skipped"
      bad=$((bad + $(wc -l <<<"$skipped")))
    fi
  fi
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

# Sets up one major (its PostgreSQL, the extension built and installed for
# it) and runs the requested suites it has.
run_major() {
  local major=$1 wanted=() elsewhere=() s
  for s in "${suites[@]}"; do
    if [[ " $(suites_of "$major") " == *" $s "* ]]; then wanted+=("$s"); else elsewhere+=("$s"); fi
  done
  [ "$explicit" -eq 0 ] || [ ${#elsewhere[@]} -eq 0 ] ||
    echo "==> PostgreSQL $major: ${elsewhere[*]} run on 15 only"
  [ ${#wanted[@]} -gt 0 ] || return 0
  use_major "$major"
  LOGS="$ROOT/build/test-logs"
  [ "$major" = 15 ] || LOGS="$ROOT/build/test-logs/pg$major"
  mkdir -p "$LOGS"
  major_passed=0
  major_failed=0
  major_skipped=()
  echo "==> PostgreSQL $major: ${wanted[*]}"
  if ! setup_major "$major" >"$LOGS/setup.log" 2>&1; then
    cat "$LOGS/setup.log"
    record "PostgreSQL $major set-up (see $LOGS/setup.log)" 0 1
  else
    grep -h 'WARNING' "$LOGS/setup.log" || true
    for s in "${wanted[@]}"; do "run_$s"; done
  fi
  unset RECOVERY_PG_BINDIR RECOVERY_BUILD_DIR
  local line="==> PostgreSQL $major: $major_passed passed, $major_failed failed"
  [ ${#major_skipped[@]} -eq 0 ] || line+=", ${#major_skipped[@]} skipped (${major_skipped[*]})"
  summary+=("$line")
  echo "$line"
  passed=$((passed + major_passed))
  failed=$((failed + major_failed))
}

# PostgreSQL 18 comes from scripts/pg18.sh (cached after its first build);
# 15, or another Debian-packaged major, from apt (install-deps.sh).
# With RECOVERY_TEST_PRIVATE=1, 15's suites run against a private copy of
# Debian's PostgreSQL 15 with this tree's recovery built into it
# (scripts/private-tree.sh), and nothing is installed system-wide: for a
# machine where another work tree's recovery is installed there and tested.
setup_major() {
  if [ "$1" = 18 ] && [[ $PG_BINDIR != /usr/lib/postgresql/* ]]; then bash "$ROOT/scripts/pg18.sh"; fi
  [ -x "$PG_BINDIR/postgres" ] || { echo "PostgreSQL $1 is not installed in $PG_BINDIR"; return 1; }
  if [ "$1" = 15 ] && [ -n "${RECOVERY_TEST_PRIVATE:-}" ]; then
    local tree bindir
    tree=$(mktemp -d "${TMPDIR:-/tmp}/recovery-pg15-private.XXXXXX")
    private_trees+=("$tree")
    bindir=$(private_tree "$tree" | tail -n 1) || return 1
    export RECOVERY_PG_BINDIR="$bindir" RECOVERY_BUILD_DIR="$tree/build"
    use_major 15
    echo "private tree: $tree"
    return 0
  fi
  build_and_install
}
private_trees=()
remove_private_trees() {
  local t
  for t in "${private_trees[@]+"${private_trees[@]}"}"; do rm -rf "$t"; done
}
trap remove_private_trees EXIT

bash "$ROOT/scripts/install-deps.sh"
summary=()
for major in "${majors[@]}"; do run_major "$major"; done

[ ${#summary[@]} -lt 2 ] || printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
