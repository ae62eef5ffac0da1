#!/usr/bin/env bash
# The concurrency soak, test/soak/*.pl: pgbench clients playing the app
# (bench/soak/*.sql), SQL recoverers in a tight loop and the background worker
# on the same tables, then the invariants as TAP tests and figures.
#   bash scripts/soak-suite.sh                              60 s of load
#   RECOVERY_SOAK_SECONDS=600 bash scripts/soak-suite.sh    longer
# Knobs: RECOVERY_SOAK_APP_CLIENTS (4), RECOVERY_SOAK_RECOVERERS (2),
# RECOVERY_SOAK_BACKLOG (1500 stuck runs per table at the start),
# RECOVERY_PG_BINDIR (another installation, see scripts/private-tree.sh),
# PG_TEST_NOCLEAN=1 (keep the data directories). See docs/reliability.md.
exec bash "$(dirname "$0")/cluster-tests.sh" "$(dirname "$0")/../test/soak" "$@"
