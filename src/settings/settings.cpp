#include "settings/settings.hpp"

#include "pg/postgres.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace recovery::settings {

char* databases = nullptr;
char* worker_role = nullptr;
bool enabled = true;
int max_workers = 4;
int naptime_seconds = 60;
int timeout_minutes = 30;
int batch_size = 1000;
int history_retention_minutes = 90 * 24 * 60;
int lock_timeout_ms = 1000;
int statement_timeout_ms = 60 * 1000;

void define() {
  // _PG_init runs before any C++ could throw; these calls only ereport on
  // programming errors, at load time.
  DefineCustomStringVariable(
      "recovery.databases", "Databases the recovery launcher may start workers in.",
      "Comma-separated list; empty means every database that has the extension. Templates and "
      "databases that do not allow connections are never used.",
      &databases, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "recovery.max_workers", "Most recovery workers (one per database) that run at once.",
      "Databases beyond it wait for a free worker. Each worker is a background worker process: "
      "max_worker_processes must leave room for them and for the launcher.",
      &max_workers, 4, 1, 1024, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomStringVariable(
      "recovery.worker_role", "Role the recovery background worker connects as.",
      "Empty means the bootstrap superuser. A non-superuser role (with LOGIN) recovers only "
      "the tables it may update. A change restarts the workers.",
      &worker_role, "", PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomBoolVariable("recovery.enabled",
                           "Whether the recovery background worker recovers stuck runs.",
                           "Off pauses the workers without a restart.", &enabled, true, PGC_SIGHUP,
                           0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("recovery.naptime", "Time between two recovery worker cycles.", nullptr,
                          &naptime_seconds, 60, 1, 86400, PGC_SIGHUP, GUC_UNIT_S, nullptr, nullptr,
                          nullptr);
  DefineCustomIntVariable(
      "recovery.timeout", "Time without activity after which the worker recovers a run.",
      "The worker's equivalent of recover_stuck_runs(timeout).", &timeout_minutes, 30, 1,
      INT_MAX / 2, PGC_SIGHUP, GUC_UNIT_MIN, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("recovery.batch_size",
                          "Most runs the worker recovers in one transaction.",
                          "Bounds row locks and transaction size when many runs are stuck at once.",
                          &batch_size, 1000, 1, 1000000, PGC_SIGHUP, 0, nullptr, nullptr, nullptr);
  DefineCustomIntVariable("recovery.history_retention",
                          "Age after which the worker deletes recovery.history rows.",
                          "0 keeps the history forever.", &history_retention_minutes, 90 * 24 * 60,
                          0, INT_MAX / 2, PGC_SIGHUP, GUC_UNIT_MIN, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "recovery.lock_timeout", "Longest recovery waits for a table lock.",
      "Row locks held by live transactions are skipped, never waited for; this bounds the wait "
      "for anything else (a table being altered). A shorter session lock_timeout is kept.",
      &lock_timeout_ms, 1000, 1, INT_MAX, PGC_USERSET, GUC_UNIT_MS, nullptr, nullptr, nullptr);
  DefineCustomIntVariable(
      "recovery.statement_timeout", "Longest the worker spends on one watched table per batch.",
      "Bounds the table's own code (a trigger that sleeps or loops): the batch is rolled back, "
      "logged once, and the worker goes on with the next table. 0 means no limit.",
      &statement_timeout_ms, 60 * 1000, 0, INT_MAX, PGC_SIGHUP, GUC_UNIT_MS, nullptr, nullptr,
      nullptr);
  MarkGUCPrefixReserved("recovery");
}

}  // namespace recovery::settings
