// SQL-facing entry points for the background worker and history upkeep.
#include "bridge/backend.hpp"
#include "bridge/guard.hpp"
#include "bridge/result_set.hpp"
#include "bridge/spi.hpp"
#include "core/error.hpp"
#include "engine/history.hpp"
#include "worker/shared_state.hpp"

using namespace recovery;

// worker_status(): one row per database with the extension that has a
// worker slot (its worker running, or about to come back), from shared memory.
RECOVERY_FUNCTION(recovery_worker_status) {
  pg::ResultSet result(fcinfo);
  for (const auto& slot : shared::snapshot()) {
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
  if (!shared::available()) {
    throw Error(sqlstate::kObjectNotInPrerequisiteState,
                "the recovery background worker is not running", {},
                "Add recovery to shared_preload_libraries and restart the server.");
  }
  if (PG_ARGISNULL(0)) throw Error(sqlstate::kNullValueNotAllowed, "database must not be NULL");
  PG_RETURN_BOOL(shared::wake(NameStr(*PG_GETARG_NAME(0))));
}

// prune_history(older_than): delete history rows recovered before now() - older_than.
RECOVERY_FUNCTION(recovery_prune_history) {
  // The same TimeZone-free arithmetic as recovery timeouts.
  const engine::Clock clock =
      engine::clock_for(PG_ARGISNULL(0) ? nullptr : PG_GETARG_INTERVAL_P(0), "older_than");
  pg::SpiConnection spi;
  const uint64 deleted = history::prune(clock.cutoff, 10000, false);
  spi.finish();
  PG_RETURN_INT64(static_cast<int64>(deleted));
}
