#!/usr/bin/env bash
# Runs the PostgreSQL::Test::Cluster (Perl TAP) tests, test/tap/*.pl, with
# `prove -v`. Each test starts its own throwaway clusters (Unix sockets in
# private temporary directories, so nothing listens on TCP and runs can
# overlap). Exit status is non-zero on any failure.
#   bash scripts/tap-suite.sh                   every test/tap/*.pl
#   bash scripts/tap-suite.sh 001_notify 004    only the files whose names start so
#
# PostgreSQL refuses to run as root. Run as root (CI), the tests are copied to
# a temporary directory owned by the "postgres" system user and run as that
# user; run as anyone else, they run as the caller. Nothing is written to the
# source tree, except the logs of a failed run: build/tap-logs/.
#
# The extension must already be installed (make install); this script does
# not build anything.
source "$(dirname "$0")/lib.sh"

PGXS_ROOT=$(cd "$(dirname "$(pg_config --pgxs)")/../.." && pwd)
PERL_LIB="$PGXS_ROOT/src/test/perl"
PG_REGRESS_BIN="$PGXS_ROOT/src/test/regress/pg_regress"
SHAREDIR=$(pg_config --sharedir)
RUN_AS=postgres                       # system user for runs started as root
PER_TEST_TIMEOUT=${RECOVERY_TAP_TIMEOUT:-180}   # seconds per test file
LOG_KEEP="$ROOT/build/tap-logs"

fail() { echo "tap-suite: $*" >&2; exit 2; }
[ -f "$PERL_LIB/PostgreSQL/Test/Cluster.pm" ] ||
  fail "PostgreSQL::Test::Cluster not found in $PERL_LIB (install postgresql-server-dev-15)"
[ -x "$PG_REGRESS_BIN" ] || fail "pg_regress not found at $PG_REGRESS_BIN"
[ -f "$SHAREDIR/extension/recovery.control" ] ||
  fail "extension recovery is not installed in $SHAREDIR (run make && make install)"
perl -MIPC::Run -e 1 2>/dev/null || fail "IPC::Run is missing (apt-get install libipc-run-perl)"

# The test files to run.
tests=()
if [ $# -eq 0 ]; then
  tests=("$ROOT"/test/tap/*.pl)
else
  for prefix in "$@"; do
    prefix=${prefix##*/}
    for f in "$ROOT"/test/tap/"${prefix%.pl}"*.pl; do [ -f "$f" ] && tests+=("$f"); done
  done
fi
[ ${#tests[@]} -gt 0 ] && [ -f "${tests[0]}" ] || fail "no test files to run"

WORK=$(mktemp -d "${TMPDIR:-/tmp}/recovery-tap.XXXXXX")
status=0
cleanup() {
  if [ "$status" -ne 0 ] && [ -d "$WORK/tmp_check/log" ]; then
    rm -rf "$LOG_KEEP" && mkdir -p "$LOG_KEEP" &&
      cp -r "$WORK/tmp_check/log/." "$LOG_KEEP/" 2>/dev/null || true
    echo "tap-suite: logs of this run kept in $LOG_KEEP"
  fi
  if [ -n "${PG_TEST_NOCLEAN:-}" ]; then
    echo "tap-suite: PG_TEST_NOCLEAN set, data directories kept in $WORK"
  else
    rm -rf "$WORK"
  fi
}
trap cleanup EXIT

# The copy: $WORK/t/ holds the test files and their helper modules (tests may
# `use lib $FindBin::RealBin`), $WORK/demo/ the seed schema; RECOVERY_ROOT
# points there, as the source tree's root would.
mkdir -p "$WORK/t"
cp "$ROOT"/test/tap/*.pm "$WORK/t/" 2>/dev/null || true
for f in "${tests[@]}"; do cp "$f" "$WORK/t/"; done
cp -r "$ROOT/demo" "$WORK/demo"

# PostgreSQL::Test::Utils reads TESTDIR (tmp_check/ goes there), Cluster.pm
# runs $PG_REGRESS --config-auth from init(). PG_TEST_TIMEOUT_DEFAULT bounds
# every poll_query_until/wait_for_log/background psql wait (in seconds).
env_vars=(
  "PATH=$(pg_config --bindir):/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
  "PERL5LIB=$PERL_LIB:$WORK/t"
  "PG_REGRESS=$PG_REGRESS_BIN"
  "TESTDIR=$WORK"
  "TMPDIR=$WORK"
  "HOME=$WORK"
  "PG_TEST_TIMEOUT_DEFAULT=${PG_TEST_TIMEOUT_DEFAULT:-60}"
  "RECOVERY_ROOT=$WORK"
  "RECOVERY_TAP_TIMEOUT=$PER_TEST_TIMEOUT"
  "LANG=C.UTF-8"
)
[ -n "${PG_TEST_NOCLEAN:-}" ] && env_vars+=("PG_TEST_NOCLEAN=1")

# Each test runs under `timeout`: SIGTERM after RECOVERY_TAP_TIMEOUT seconds,
# on which TapWatchdog.pm makes the test die so that Cluster.pm stops its
# servers; SIGKILL 15 s later if even that hangs.
prove_cmd=(prove -v --exec "timeout -k 15 $PER_TEST_TIMEOUT perl -MTapWatchdog")
for f in "${tests[@]}"; do prove_cmd+=("t/${f##*/}"); done

# prove -v shows every test's stdout: "ok N"/"not ok N" lines, which
# scripts/test.sh counts, and "# " notes, which are dropped here unless
# RECOVERY_TAP_NOTES=1 (Cluster.pm and BackgroundPsql note every query; it is
# all in tmp_check/log/regress_log_*). Failure diagnostics go to stderr and
# are always shown.
notes_filter() {
  if [ -n "${RECOVERY_TAP_NOTES:-}" ]; then cat; else grep --line-buffered -vE '^\s*# ' || true; fi
}
run_prove() {
  if [ "$(id -u)" -eq 0 ]; then
    id "$RUN_AS" >/dev/null 2>&1 || fail "user $RUN_AS does not exist (apt-get install postgresql-15)"
    chown -R "$RUN_AS:" "$WORK"
    chmod 700 "$WORK"
    echo "tap-suite: running as root; tests run as user $RUN_AS in $WORK"
    cd "$WORK" && runuser -u "$RUN_AS" -- env -i "${env_vars[@]}" "${prove_cmd[@]}"
  else
    echo "tap-suite: running as $(id -un) in $WORK"
    cd "$WORK" && env -i "${env_vars[@]}" "${prove_cmd[@]}"
  fi
}

started=$(date +%s)
set +e
(run_prove) | notes_filter
status=${PIPESTATUS[0]}
set -e
echo "tap-suite: $(( $(date +%s) - started ))s, prove exit status $status"

if [ "$status" -ne 0 ]; then
  # The tests' and servers' logs say why; show the end of each (the full logs are kept).
  for log in "$WORK"/tmp_check/log/regress_log_* "$WORK"/tmp_check/log/*.log; do
    [ -f "$log" ] || continue
    echo "----- tail of ${log##*/}"
    tail -n 25 "$log"
  done
fi
exit "$status"
