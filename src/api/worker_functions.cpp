// SQL-facing entry points for the background worker and history upkeep.
#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/guard.hpp"
#include "pg/result_set.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"
#include "core/run_table.hpp"
#include "engine/engine.hpp"
#include "engine/history.hpp"
#include "registry/registry.hpp"
#include "settings/settings.hpp"
#include "worker/shared_state.hpp"

extern "C" {
#include "miscadmin.h"
#include "utils/acl.h"
}

using namespace recovery;

// worker_status(): one row per database with the extension that has a
// worker slot (its worker running, or about to come back), from shared memory.
RECOVERY_FUNCTION(recovery_worker_status) {
  pg::ResultSet result(fcinfo, {"database", "pid", "state", "last_run_at", "last_recovered",
                                "total_recovered", "last_error"});
  for (const auto& slot : worker::shared::snapshot()) {
    if (slot.database_oid == InvalidOid || !slot.has_extension) continue;
    const std::string error = slot.last_error;
    Datum values[7] = {pg::text_datum(slot.database),
                       Int32GetDatum(slot.pid),
                       pg::text_datum(core::worker_state_name(
                           slot.pid == 0 ? core::WorkerState::kStarting : slot.state)),
                       TimestampTzGetDatum(slot.last_run_at),
                       Int64GetDatum(slot.last_recovered),
                       Int64GetDatum(slot.total_recovered),
                       error.empty() ? static_cast<Datum>(0) : pg::text_datum(error)};
    bool nulls[7] = {false, slot.pid == 0, false, slot.last_run_at == 0, slot.last_run_at == 0,
                     false, error.empty()};
    result.put(values, nulls);
  }
  return static_cast<Datum>(0);
}

// run_worker_now(database): wake that database's worker for a cycle now.
RECOVERY_FUNCTION(recovery_run_worker_now) {
  if (!worker::shared::available()) {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "the recovery background worker is not running", {},
                      "Add recovery to shared_preload_libraries and restart the server.");
  }
  if (PG_ARGISNULL(0))
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "database must not be NULL");
  PG_RETURN_BOOL(worker::shared::wake(NameStr(*PG_GETARG_NAME(0))));
}

// prune_history(older_than): delete history rows recovered before now() - older_than.
RECOVERY_SPI_FUNCTION(recovery_prune_history) {
  // The same TimeZone-free arithmetic as recovery timeouts.
  const engine::Clock clock =
      engine::clock_for(PG_ARGISNULL(0) ? nullptr : PG_GETARG_INTERVAL_P(0), "older_than");
  const uint64 deleted = engine::history::prune(clock.cutoff, 10000, false);
  PG_RETURN_INT64(static_cast<int64>(deleted));
}

// The worker of this database's last error, if it was about `table` (the
// worker records the last error of a cycle, per database: "recovering
// <table>: <message>"); empty otherwise.
static std::string worker_error_for(const std::string& table) {
  if (!worker::shared::available()) return {};
  const std::string prefix = "recovering " + table + ": ";
  for (const auto& slot : worker::shared::snapshot()) {
    if (slot.database_oid != MyDatabaseId) continue;
    const std::string error = slot.last_error;
    if (error.compare(0, prefix.size(), prefix) == 0) return error.substr(prefix.size());
  }
  return {};
}

// table_status(): one row per watched table the caller may read (covered,
// and SELECT on it); the others are left out silently, never an error. Stuck
// is judged as the worker judges it: recovery.timeout and the claims.
RECOVERY_SPI_FUNCTION(recovery_table_status) {
  Interval timeout{};
  timeout.time = static_cast<int64>(settings::timeout_minutes) * USECS_PER_MINUTE;
  const engine::Clock clock = engine::clock_for(&timeout);
  pg::ResultSet result(fcinfo, {"run_table", "stuck_runs", "oldest_stuck_minutes", "recovered_24h",
                                "last_recovered_at", "last_error"});
  // A covered table that no longer fits its registration is not counted,
  // but shows up: its row's last_error says why (no WARNING: a scraper).
  std::vector<registry::Skipped> unusable;
  const auto tables =
      registry::load_covered([&](const registry::Skipped& s) { unusable.push_back(s); });
  for (const auto& s : unusable) {
    bool missing = false;
    const Oid relid = s.relid;
    const bool readable = pg::guard([&] {
      return pg_class_aclcheck_ext(relid, GetUserId(), ACL_SELECT, &missing) == ACLCHECK_OK;
    });
    if (missing || !readable) continue;
    Datum values[6] = {
        pg::text_datum(s.name), 0, 0, 0, 0, pg::text_datum("registration unusable: " + s.problem)};
    bool nulls[6] = {false, true, true, true, true, false};
    result.put(values, nulls);
  }
  for (const auto& table : tables) {
    if (!pg::has_table_privilege(table.relid, ACL_SELECT)) continue;
    engine::TableStatus status;
    // A table whose code fails (or a lock held past recovery.lock_timeout)
    // spoils only its own row: the error is its last_error.
    const std::optional<pg::ErrorReport> failure =
        pg::in_subtransaction([&] { status = engine::table_status(table, clock); });
    std::string error = failure ? failure->message : worker_error_for(table.name);
    const bool counted = !failure;
    const int32 oldest = status.oldest_stuck_activity
                             ? core::whole_minutes(clock.now, *status.oldest_stuck_activity)
                             : 0;
    Datum values[6] = {pg::text_datum(table.name),
                       Int32GetDatum(status.stuck_runs),
                       Int32GetDatum(oldest),
                       Int32GetDatum(status.recovered_24h),
                       TimestampTzGetDatum(status.last_recovered_at.value_or(0)),
                       error.empty() ? static_cast<Datum>(0) : pg::text_datum(error)};
    bool nulls[6] = {false,
                     !counted,
                     !counted || !status.oldest_stuck_activity,
                     !counted,
                     !status.last_recovered_at,
                     error.empty()};
    result.put(values, nulls);
  }
  return static_cast<Datum>(0);
}
