#!/usr/bin/env bash
# Runs inside pg_virtualenv (PG* variables point at a throwaway cluster):
# pg_regress through PGXS installcheck, then the pgTAP files with pg_prove.
source "$(dirname "$0")/lib.sh"
status=0
rm -f "$ROOT/regression.diffs"
make -C "$ROOT" -s installcheck || status=$?
psql -X -q -c "CREATE DATABASE pgtap_runs" >/dev/null
psql -X -q -d pgtap_runs -c "CREATE EXTENSION pgtap; CREATE EXTENSION recovery;" >/dev/null
pg_prove -v -d pgtap_runs "$ROOT"/test/pgtap/*.sql || status=$?
exit $status
