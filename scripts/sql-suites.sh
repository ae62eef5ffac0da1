#!/usr/bin/env bash
# Runs inside with_cluster (lib.sh; PG* variables point at a throwaway
# cluster of PG_MAJOR): pg_regress through PGXS installcheck, in PG_MAJOR's
# build directory, then the pgTAP files with pg_prove.
source "$(dirname "$0")/lib.sh"
status=0
rm -f "$BUILD_DIR/regression.diffs"
make -C "$BUILD_DIR" -s installcheck PG_CONFIG="$PG_CONFIG" || status=$?
psql -X -q -c "CREATE DATABASE pgtap_runs" >/dev/null
psql -X -q -d pgtap_runs -c "CREATE EXTENSION pgtap; CREATE EXTENSION recovery;" >/dev/null
pg_prove -v -d pgtap_runs "$ROOT"/test/pgtap/*.sql || status=$?
exit $status
