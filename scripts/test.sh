#!/usr/bin/env bash
# Runs every test suite on every tested major (TESTED_MAJORS in lib.sh: 15
# and 18) and ends with "N passed, N failed" (all majors), after one such line
# per major. Exit status is non-zero on any failure.
#   bash scripts/test.sh                    all suites, every major
#   bash scripts/test.sh unit sql           only some (unit, sql, tap, node, soak, asan)
#   PG_MAJOR=18 bash scripts/test.sh        one major alone (make test PG_MAJOR=18)
#   RECOVERY_TEST_PRIVATE=1 ...             15 in a private tree (private_tree in
#                                           lib.sh), nothing installed system-wide
#   RECOVERY_TAP_TESTS=test/tap/113_instances.pl bash scripts/test.sh tap
#                                           some TAP files only
# PGXS and the tools run the tests; this script prepares (packages, PostgreSQL
# 18 from scripts/pg18.sh, recovery built and installed), leaves root once
# (become_postgres), gives each suite its server, and counts:
#   unit   GoogleTest (ctest)
#   sql    pg_regress, the isolation specs (make installcheck) and pgTAP (make
#          installcheck-pgtap), each against a throwaway cluster (with_cluster)
#   tap    the PostgreSQL::Test::Cluster suites, test/tap (make prove-installcheck)
#   node   the Next.js example app and the recover-stuck-runs CLI (node --test)
#   soak   test/soak: pgbench load, then its invariants (RECOVERY_SOAK_SECONDS, 60)
#   asan   scripts/sanitize.sh selftest sql (ASan+UBSan, private tree)
# Pass or fail is each tool's exit status; the counts are what it reported.
# On 15 (Debian's packages) every suite runs; on 18, sql and tap (unit and
# node do not depend on the server, soak and asan stay on 15). Test files that
# need pg_cron skip themselves on 18 (not built there) and are listed by name
# as skipped, never counted as passed; on 15 a skip is a failure. Logs:
# build/test-logs/ (pgN/ for another major).
# Read once, before use_major exports PG_MAJOR: the re-run as postgres
# (become_postgres) gets the caller's choice, not the last major set up.
only_major=${RECOVERY_ONLY_MAJOR-${PG_MAJOR:-}}
export RECOVERY_ONLY_MAJOR=$only_major
source "$(dirname "$0")/lib.sh"

suites=("$@")
explicit=${#suites[@]}
[ ${#suites[@]} -gt 0 ] || suites=(unit sql tap node soak asan)
for s in "${suites[@]}"; do
  [[ $s =~ ^(unit|sql|tap|node|soak|asan)$ ]] || { echo "test.sh: unknown suite $s" >&2; exit 2; }
done
if [ -n "$only_major" ]; then majors=("$only_major"); else majors=("${TESTED_MAJORS[@]}"); fi
export LANG=C.UTF-8

suites_of() {
  case $1 in
    15) echo "unit sql tap node soak asan" ;;
    *) echo "sql tap" ;;
  esac
}
wanted_of() {  # the requested suites major $1 runs
  local s out=()
  for s in "${suites[@]}"; do [[ " $(suites_of "$1") " != *" $s "* ]] || out+=("$s"); done
  echo "${out[*]}"
}

# --- as root (or with sudo): what is installed ---------------------------------
# PostgreSQL 18 comes from scripts/pg18.sh (cached after its first build); 15
# from apt (install-deps.sh). recovery is installed into each, except with
# RECOVERY_TEST_PRIVATE=1, where 15 gets a private tree below instead.
prepare_major() {
  use_major "$1"
  if [ "$1" = 18 ] && [[ $PG_BINDIR != /usr/lib/postgresql/* ]]; then bash "$ROOT/scripts/pg18.sh"; fi
  [ -x "$PG_BINDIR/postgres" ] || { echo "PostgreSQL $1 is not installed in $PG_BINDIR"; return 1; }
  [ "$1" = 15 ] && [ -n "${RECOVERY_TEST_PRIVATE:-}" ] || build_and_install
}
if [ -z "${RECOVERY_AS_POSTGRES:-}" ]; then
  bash "$ROOT/scripts/install-deps.sh"
  RECOVERY_SETUP_FAILED=""
  mkdir -p "$ROOT/build/test-logs"
  for major in "${majors[@]}"; do
    [ -n "$(wanted_of "$major")" ] || continue
    log="$ROOT/build/test-logs/setup-pg$major.log"
    prepare_major "$major" >"$log" 2>&1 || { cat "$log"; RECOVERY_SETUP_FAILED+=" $major"; }
    grep -h 'WARNING' "$log" || true
  done
  export RECOVERY_SETUP_FAILED
fi
become_postgres "$@"

# --- as the server user: the suites --------------------------------------------
passed=0
failed=0
record() {  # NAME STATUS PASSED FAILED: the exit status decides, the counts are the tool's
  local name=$1 status=$2 ok=${3:-0} bad=${4:-0}
  if [ "$status" -ne 0 ]; then
    [ "$bad" -gt 0 ] || bad=1
  elif [ "$ok" -eq 0 ]; then
    echo "==> $name: exit status 0, but no test ran"
    bad=1
  else
    bad=0
  fi
  echo "==> $name: $ok passed, $bad failed"
  major_passed=$((major_passed + ok))
  major_failed=$((major_failed + bad))
}
# run LOG COMMAND...: runs it, its output into LOG; sets $status.
run() { local log=$1; shift; status=0; "$@" >"$log" 2>&1 || status=$?; }

run_unit() {
  run "$LOGS/unit.log" bash -c 'cmake -S "$1" -B "$1/build" -DCMAKE_BUILD_TYPE=Debug &&
    cmake --build "$1/build" -j"$(nproc)" && cd "$1/build" && ctest --output-on-failure' _ "$ROOT"
  grep -E 'tests passed|error' "$LOGS/unit.log" | tail -n 20 || true
  set -- $(sed -nE 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2 \1/p' "$LOGS/unit.log") 0 0
  record unit "$status" $(($1 - $2)) "$2"
}

# pg_regress, the isolation specs and pgTAP, each against a cluster of its own
# where the workers are paused (the launcher starts one in each test
# database): they must not race the tests' own calls.
sql_cluster() { with_cluster -o "shared_preload_libraries=recovery" -o "recovery.enabled=off" "$@"; }
run_sql() {
  rm -f "$ROOT/regression.diffs" "$ROOT/output_iso/regression.diffs"
  run "$LOGS/regress.log" sql_cluster make -C "$ROOT" -s installcheck TAP_TESTS= ISOLATION=
  grep -E 'FAILED|failed|^not ok' "$LOGS/regress.log" || true
  [ ! -f "$ROOT/regression.diffs" ] || head -n 80 "$ROOT/regression.diffs"
  record pg_regress "$status" $(regress_counts "$LOGS/regress.log")

  run "$LOGS/isolation.log" sql_cluster make -C "$ROOT" -s installcheck TAP_TESTS= REGRESS=
  grep -E 'FAILED|failed|^not ok' "$LOGS/isolation.log" || true
  [ ! -f "$ROOT/output_iso/regression.diffs" ] || head -n 80 "$ROOT/output_iso/regression.diffs"
  record "isolation (specs/)" "$status" $(regress_counts "$LOGS/isolation.log")

  run "$LOGS/pgtap.log" sql_cluster make -C "$ROOT" -s installcheck-pgtap
  show_prove "$LOGS/pgtap.log"
  record pgTAP "$status" $(tap_counts "$LOGS/pgtap.log")
}

# What prove or pg_prove said in LOG: failures, the figures (diag) the
# regexp $2 picks, the result; on failure, the summary report (or the log's
# end) and the end of each failed test file's own log.
show_prove() {
  grep -E "^\s*not ok|^#\s+Failed test|^Files=|^Result:${2:+|$2}" "$1" || true
  [ "$status" -ne 0 ] || return 0
  grep -q '^Test Summary Report' "$1" || { tail -n 30 "$1"; return 0; }
  sed -n '/^Test Summary Report/,/^Files=/p' "$1"
  for f in $(sed -nE 's|^[^ ]*/([^ /]+)\.pl +\(Wstat.*|\1|p' "$1"); do
    echo "----- tail of tmp_check/log/regress_log_$f"
    tail -n 25 "$ROOT/tmp_check/log/regress_log_$f" 2>/dev/null || true
  done
}

run_tap() {
  local skips="$LOGS/tap-skipped.txt" line
  : >"$skips"
  run "$LOGS/tap.log" make -C "$ROOT" -s prove-installcheck \
    ${RECOVERY_TAP_TESTS:+PROVE_TESTS="$RECOVERY_TAP_TESTS"}
  show_prove "$LOGS/tap.log"
  set -- $(tap_counts "$LOGS/tap.log" "$skips")
  local ok=$1 bad=$2
  while read -r line; do
    echo "==> TAP: SKIPPED $line"
    major_skipped+=("${line%% *}")
  done <"$skips"
  # Debian's 15 has every dependency (install-deps.sh): a skip there is a failure.
  if [ -s "$skips" ] && [ "$PG_MAJOR" = 15 ]; then
    echo "==> TAP: on 15 nothing may be skipped"
    bad=$((bad + $(wc -l <"$skips")))
    status=1
  fi
  record "TAP (PostgreSQL::Test::Cluster)" "$status" "$ok" "$bad"
}

# The Next.js example (examples/nextjs/test/*.test.ts: its modules, route
# handlers, and the built app over HTTP and in Debian's chromium) and the
# recover-stuck-runs CLI (test/cli/*.test.mjs), with node's test runner against
# one cluster (not preloaded: apps call the SQL API without the worker).
# Screenshots: build/test-artifacts/nextjs/.
node_suite() {
  local app="$ROOT/examples/nextjs" bad=0 offline=()
  # Prisma 7 needs node 20.19 or newer (Debian 12's own nodejs is 18).
  node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)' ||
    { echo "not ok - node $(node --version) is too old: the Prisma 7 example needs node >= 20.19"; return 1; }
  # npm packages exactly as locked; --ignore-scripts (also in the app's .npmrc):
  # Prisma's install script would download its schema engine (not needed, see
  # examples/nextjs/scripts/prisma-offline.sh). Then the client, offline.
  (cd "$app" && npm ci --ignore-scripts --prefer-offline --no-audit --no-fund && npm run -s generate) || return 1
  (cd "$app" && npx tsc --noEmit) || { echo "not ok - TypeScript type check failed"; bad=1; }
  # The app built as a user builds it, where user namespaces allow, with no
  # network at all: the build downloads nothing (fonts, engines, telemetry).
  if unshare -rn true 2>/dev/null; then offline=(unshare -rn); fi
  echo "==> npm run build (next build${offline[*]:+, no network: ${offline[*]}})"
  (cd "$app" && rm -rf .next && nice "${offline[@]}" npm run -s build) ||
    { echo "not ok - npm run build failed (the HTTP and browser tests will fail too)"; bad=1; }
  # The app runs in New York (TZ): every instant it reads must still be right.
  with_cluster bash -c 'cd "$1" && TZ=America/New_York node --import tsx --test test/*.test.ts "$2"/test/cli/*.test.mjs' \
    node-suite "$app" "$ROOT" || bad=1
  return "$bad"
}
run_node() {
  [ -f "$ROOT/examples/nextjs/package.json" ] || return 0
  run "$LOGS/node.log" node_suite
  grep -E '^# (pass|fail)|^not ok' "$LOGS/node.log" || true
  [ "$status" -eq 0 ] || tail -n 30 "$LOGS/node.log"
  local ok bad
  ok=$(sed -nE 's/^# pass ([0-9]+)/\1/p' "$LOGS/node.log" | awk '{s += $1} END {print s + 0}')
  bad=$(( $(sed -nE 's/^# fail ([0-9]+)/\1/p' "$LOGS/node.log" | awk '{s += $1} END {print s + 0}') +
          $(grep -c '^not ok - ' "$LOGS/node.log" || true) ))
  record node "$status" "$ok" "$bad"
}

# The concurrency soak (test/soak, bench/soak): RECOVERY_SOAK_SECONDS of load
# (60 by default), then its invariants; the figures are its "# " lines.
# Knobs: RECOVERY_SOAK_APP_CLIENTS, _RECOVERERS, _BACKLOG (docs/reliability.md).
run_soak() {
  local seconds=${RECOVERY_SOAK_SECONDS:-60}
  run "$LOGS/soak.log" make -C "$ROOT" -s prove-installcheck PROVE_TESTS=test/soak/201_soak.pl \
    RECOVERY_TAP_TIMEOUT=$((seconds + 180))
  show_prove "$LOGS/soak.log" '^# (soak|app runs|recoveries|instances|live runs|worker|lock waits|wrong|soak-)'
  record "soak (pgbench, $seconds s)" "$status" $(tap_counts "$LOGS/soak.log")
}

# The cheap sanitizer run (under a minute): recovery built with ASan+UBSan
# into a private tree, its self-test, then pg_regress, the isolation specs,
# pgTAP and worker cycles against it, failing on any report. The rest (unit,
# tap, soak) and valgrind: scripts/sanitize.sh, scripts/valgrind.sh.
run_asan() {
  run "$LOGS/asan.log" bash "$ROOT/scripts/sanitize.sh" selftest sql
  grep -E '^(selftest|worker|sanitize):|FAILED|^Result:' "$LOGS/asan.log" || true
  set -- $(sed -nE 's/^sanitize: .*: ([0-9]+) passed, [0-9]+ reports, ([0-9]+) failures.*/\1 \2/p' "$LOGS/asan.log") 0 0
  record "ASan+UBSan (pg_regress, isolation, pgTAP, worker)" "$status" "$1" "$2"
}

private_trees=()
trap 'for t in "${private_trees[@]+"${private_trees[@]}"}"; do rm -rf "$t"; done' EXIT
summary=()
for major in "${majors[@]}"; do
  wanted=$(wanted_of "$major")
  [ "$explicit" -eq 0 ] || [ "$wanted" = "${suites[*]}" ] || echo "==> PostgreSQL $major runs only: $(suites_of "$major")"
  [ -n "$wanted" ] || continue
  unset RECOVERY_PG_BINDIR
  use_major "$major"
  LOGS="$ROOT/build/test-logs"
  [ "$major" = 15 ] || LOGS="$ROOT/build/test-logs/pg$major"
  mkdir -p "$LOGS"
  major_passed=0
  major_failed=0
  major_skipped=()
  echo "==> PostgreSQL $major: $wanted"
  if [[ " ${RECOVERY_SETUP_FAILED:-} " == *" $major "* ]]; then
    record "PostgreSQL $major set-up (see build/test-logs/setup-pg$major.log)" 1 0 1
  elif [ "$major" = 15 ] && [ -n "${RECOVERY_TEST_PRIVATE:-}" ] &&
       ! { tree=$(mktemp -d "${TMPDIR:-/tmp}/recovery-pg15-private.XXXXXX") && private_trees+=("$tree") &&
           bindir=$(private_tree "$tree" 2>"$LOGS/setup.log" | tail -n 1) && [ -n "$bindir" ]; }; then
    cat "$LOGS/setup.log"
    record "PostgreSQL 15 private tree (see $LOGS/setup.log)" 1 0 1
  else
    [ -z "${bindir:-}" ] || { export RECOVERY_PG_BINDIR=$bindir; use_major 15; echo "==> private tree: $tree"; }
    # A suite whose counting itself breaks still counts, as a failure.
    for s in $wanted; do "run_$s" || record "$s (scripts/test.sh failed, see above)" 1 0 1; done
  fi
  bindir=""
  line="==> PostgreSQL $major: $major_passed passed, $major_failed failed"
  [ ${#major_skipped[@]} -eq 0 ] || line+=", ${#major_skipped[@]} skipped (${major_skipped[*]})"
  summary+=("$line")
  echo "$line"
  passed=$((passed + major_passed))
  failed=$((failed + major_failed))
done

[ ${#summary[@]} -lt 2 ] || printf '%s\n' "${summary[@]}"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
