#!/usr/bin/env bash
# Runs PostgreSQL::Test::Cluster (Perl TAP) tests of one directory with
# `prove -v`, like scripts/tap-suite.sh (same handling of root: as root, the
# tests run as user "postgres" from a copy in a temporary directory), plus:
#   - the directory is an argument: test/soak (scripts/soak-suite.sh) or test/tap;
#   - PG_MAJOR (lib.sh) picks the major, 15 by default; RECOVERY_PG_BINDIR
#     runs them against another PostgreSQL installation, e.g. a private tree
#     with a sanitized recovery (scripts/private-tree.sh);
#   - RECOVERY_SOAK_* settings reach the tests (see test/soak/201_soak.pl);
#   - RECOVERY_TAP_KEEP_LOGS=DIR keeps the tests' and servers' logs there,
#     pass or fail (scripts/sanitize.sh searches them).
#   bash scripts/cluster-tests.sh test/soak
#   bash scripts/cluster-tests.sh test/tap 101 202
# The extension must be installed (in RECOVERY_PG_BINDIR's tree, if given).
source "$(dirname "$0")/lib.sh"
[ -z "${RECOVERY_PG_BINDIR:-}" ] || export PATH="$RECOVERY_PG_BINDIR:$PATH"
[ $# -gt 0 ] || { echo "usage: cluster-tests.sh DIR [test-prefix...]" >&2; exit 2; }
TEST_DIR=$(cd "$1" && pwd)
SUITE=$(basename "$TEST_DIR")
shift

PGXS_ROOT=$(cd "$(dirname "$(pg_config --pgxs)")/../.." && pwd)
PERL_LIB="$PGXS_ROOT/src/test/perl"
PG_REGRESS_BIN="$PGXS_ROOT/src/test/regress/pg_regress"
SHAREDIR=$(pg_config --sharedir)
RUN_AS=postgres
SECONDS_OF_LOAD=${RECOVERY_SOAK_SECONDS:-60}
if [ "$SUITE" = soak ]; then
  PER_TEST_TIMEOUT=${RECOVERY_TAP_TIMEOUT:-$((SECONDS_OF_LOAD + 180))}
else
  PER_TEST_TIMEOUT=${RECOVERY_TAP_TIMEOUT:-180}
fi
LOG_KEEP="$ROOT/build/$SUITE-logs"

fail() { echo "cluster-tests: $*" >&2; exit 2; }
[[ $SECONDS_OF_LOAD =~ ^[1-9][0-9]*$ ]] || fail "RECOVERY_SOAK_SECONDS must be a positive number of seconds"
[ -f "$PERL_LIB/PostgreSQL/Test/Cluster.pm" ] ||
  fail "PostgreSQL::Test::Cluster not found in $PERL_LIB (install postgresql-server-dev-$PG_MAJOR, or for 18 run scripts/pg18.sh)"
[ -f "$SHAREDIR/extension/recovery.control" ] ||
  fail "extension recovery is not installed in $SHAREDIR (run make && make install)"
command -v pgbench >/dev/null || fail "pgbench not found (postgresql-contrib / postgresql-$PG_MAJOR)"
perl -MIPC::Run -e 1 2>/dev/null || fail "IPC::Run is missing (apt-get install libipc-run-perl)"

tests=()
if [ $# -eq 0 ]; then
  tests=("$TEST_DIR"/*.pl)
else
  for prefix in "$@"; do
    prefix=${prefix##*/}
    for f in "$TEST_DIR"/"${prefix%.pl}"*.pl; do [ -f "$f" ] && tests+=("$f"); done
  done
fi
[ ${#tests[@]} -gt 0 ] && [ -f "${tests[0]}" ] || fail "no test files to run"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/recovery-$SUITE.XXXXXX")
status=0
cleanup() {
  if [ -n "${RECOVERY_TAP_KEEP_LOGS:-}" ] && [ -d "$WORK/tmp_check/log" ]; then
    mkdir -p "$RECOVERY_TAP_KEEP_LOGS" && cp -r "$WORK/tmp_check/log/." "$RECOVERY_TAP_KEEP_LOGS/" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -d "$WORK/tmp_check/log" ]; then
    rm -rf "$LOG_KEEP" && mkdir -p "$LOG_KEEP" &&
      cp -r "$WORK/tmp_check/log/." "$LOG_KEEP/" 2>/dev/null || true
    echo "cluster-tests: logs of this run kept in $LOG_KEEP"
  fi
  if [ -n "${PG_TEST_NOCLEAN:-}" ]; then
    echo "cluster-tests: PG_TEST_NOCLEAN set, data directories kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

mkdir -p "$WORK/t" "$WORK/bench"
cp "$ROOT"/test/tap/*.pm "$WORK/t/"
cp "$TEST_DIR"/*.pm "$WORK/t/" 2>/dev/null || true
for f in "${tests[@]}"; do cp "$f" "$WORK/t/"; done
cp -r "$ROOT/demo" "$WORK/demo"
cp -r "$ROOT/bench/soak" "$WORK/bench/soak"
mkdir -p "$WORK/examples" && cp -r "$ROOT/examples/monitoring" "$WORK/examples/monitoring"

env_vars=(
  "PATH=$(pg_config --bindir):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "PERL5LIB=$PERL_LIB:$WORK/t"
  "PG_REGRESS=$PG_REGRESS_BIN"
  "TESTDIR=$WORK"
  # Where PostgreSQL::Test::Utils puts data directories and logs: 15 derives
  # them from TESTDIR, 16 on reads these (else ./tmp_check and ./log).
  "TESTDATADIR=$WORK/tmp_check"
  "TESTLOGDIR=$WORK/tmp_check/log"
  "TMPDIR=$WORK"
  "HOME=$WORK"
  "PG_TEST_TIMEOUT_DEFAULT=${PG_TEST_TIMEOUT_DEFAULT:-60}"
  "RECOVERY_ROOT=$WORK"
  "RECOVERY_TAP_TIMEOUT=$PER_TEST_TIMEOUT"
  "RECOVERY_SOAK_SECONDS=$SECONDS_OF_LOAD"
  "LANG=C.UTF-8"
)
for v in RECOVERY_SOAK_APP_CLIENTS RECOVERY_SOAK_RECOVERERS RECOVERY_SOAK_BACKLOG PG_TEST_NOCLEAN; do
  [ -n "${!v:-}" ] && env_vars+=("$v=${!v}")
done

prove_cmd=(prove -v --exec "timeout -k 15 $PER_TEST_TIMEOUT perl -MTapWatchdog")
for f in "${tests[@]}"; do prove_cmd+=("t/${f##*/}"); done

# As in tap-suite.sh: "# " notes (every query) are dropped unless
# RECOVERY_TAP_NOTES=1; the figures are diag lines (stderr) and always shown.
notes_filter() {
  if [ -n "${RECOVERY_TAP_NOTES:-}" ]; then cat; else grep --line-buffered -vE '^\s*# ' || true; fi
}
run_prove() {
  if [ "$(id -u)" -eq 0 ]; then
    id "$RUN_AS" >/dev/null 2>&1 || fail "user $RUN_AS does not exist (apt-get install postgresql-common)"
    chown -R "$RUN_AS:" "$WORK"
    chmod 700 "$WORK"
    echo "cluster-tests: running as root; tests run as user $RUN_AS in $WORK"
    cd "$WORK" && runuser -u "$RUN_AS" -- env -i "${env_vars[@]}" "${prove_cmd[@]}"
  else
    echo "cluster-tests: running as $(id -un) in $WORK"
    cd "$WORK" && env -i "${env_vars[@]}" "${prove_cmd[@]}"
  fi
}

started=$(date +%s)
set +e
(run_prove) | notes_filter
status=${PIPESTATUS[0]}
set -e
echo "cluster-tests: $(( $(date +%s) - started ))s, prove exit status $status"
if [ "$status" -ne 0 ]; then
  for log in "$WORK"/tmp_check/log/regress_log_* "$WORK"/tmp_check/log/*.log; do
    [ -f "$log" ] || continue
    echo "----- tail of ${log##*/}"
    tail -n 25 "$log"
  done
fi
exit "$status"
