// The recovery engine: detection of stuck runs and the conditional UPDATE
// that recovers them. The SQL functions, the background worker and pg_cron
// (through the SQL functions) all run this one piece of code.
#pragma once

#include <functional>

#include "pg/spi.hpp"
#include "registry/registry.hpp"

namespace recovery::engine {

// When a run counts as stuck: last activity before `cutoff`. Both values are
// microseconds since 2000-01-01 UTC, which is a timestamptz and also a plain
// timestamp read as UTC, so the same number serves both column kinds.
struct Clock {
  TimestampTz now = 0;
  TimestampTz cutoff = 0;
};

// now() minus `timeout`, computed on the UTC calendar (never the session's
// TimeZone). Throws recovery::core::Error for a NULL, zero or negative timeout.
Clock clock_for(const Interval* timeout, const char* argument = "timeout");

// One stuck or just-recovered run. Datums point into the current SPI chunk:
// valid only during the callback.
struct RunRow {
  const registry::Watched* table = nullptr;
  Datum run_id = 0;      // text
  Datum status = 0;      // text: current status (find) or the previous one (recover)
  Datum new_status = 0;  // text (recover only)
  Datum started_at = 0;  // timestamptz
  bool started_at_null = false;
  Datum last_activity_at = 0;  // timestamptz
  int32 stuck_minutes = 0;
  Datum reason = 0;           // text: timeout, owner_gone, max_runtime, progress_complete, requeued
  Datum action = 0;           // text: fail, complete, requeue
  Datum run = 0;              // jsonb: the whole row
  Datum previous_values = 0;  // jsonb (recover only): other columns' values before
};
using RowSink = std::function<void(const RunRow&)>;

// Whether an active run of `table` shows activity more than a minute after
// clock.now (a time_zone east of the truth). Needs SPI.
bool has_future_activity(const registry::Watched& table, const Clock& clock);

// The WARNING a table with future activity gets (once per call).
void warn_future_activity(const registry::Watched& table, int level);

// Feeds every stuck run of `table` to `sink`, oldest first. Changes nothing.
uint64 find_in_table(const registry::Watched& table, const Clock& clock, const RowSink& sink);

// Recovers up to `limit` (nullopt: all) stuck runs of `table`, oldest first:
// skips rows a live transaction has locked, re-checks status and age in the
// UPDATE, writes one history row and one NOTIFY per run, all in the calling
// transaction. The table's code runs as engine/access.hpp says. Throws 42501
// if the caller may not read the table, or may not update it and it has
// stuck runs. An empty `sink` says the rows are not wanted (the worker, a
// per-table summary): the row as jsonb is then not computed. Needs SPI.
uint64 recover_table(const registry::Watched& table, const Clock& clock, std::optional<int64> limit,
                     const RowSink& sink);

// What recovery.table_status() shows of one table.
struct TableStatus {
  int32 stuck_runs = 0;
  std::optional<TimestampTz> oldest_stuck_activity;  // last activity of the oldest stuck run
  int32 recovered_24h = 0;                           // history rows since clock.now - 24 h
  std::optional<TimestampTz> last_recovered_at;
};

// Counts the stuck runs of `table` (the find statement's rows, as the
// table's code: engine/access.hpp) and reads its recent history (as the
// caller: history's row-level security applies). Changes nothing; the
// caller must be allowed to read the table. Needs SPI.
TableStatus table_status(const registry::Watched& table, const Clock& clock);

}  // namespace recovery::engine
