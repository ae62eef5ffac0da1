#!/usr/bin/env bash
# Runs the PostgreSQL::Test::Cluster tests of test/tap with `prove -v`; as
# root, as user "postgres" from a temporary copy (PostgreSQL refuses root).
#   bash scripts/tap-suite.sh            every test
#   bash scripts/tap-suite.sh 101 202    only tests whose names start so
# The shared runner, scripts/cluster-tests.sh, does the work (and documents
# its settings: RECOVERY_TAP_TIMEOUT, RECOVERY_TAP_NOTES, PG_TEST_NOCLEAN ...).
exec bash "$(dirname "$0")/cluster-tests.sh" "$(dirname "$0")/../test/tap" "$@"
