#include "engine/engine.hpp"

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"
#include "core/table_sql.hpp"
#include "engine/access.hpp"
#include "engine/claims.hpp"
#include "engine/history.hpp"
#include "engine/instances.hpp"
#include "engine/params.hpp"
#include "engine/run_json.hpp"
#include "settings/settings.hpp"

namespace recovery::engine {

namespace {

// Rows per cursor fetch: bounds memory for any number of stuck runs.
constexpr long kChunkRows = 1000;

// Reads the seven leading result columns of find_query/recover_query; the
// run from the row's own columns when `run` is given.
RunRow read_row(const registry::Watched& table, const Clock& clock, uint64 row,
                RunJson* run = nullptr) {
  RunRow r;
  r.table = &table;
  bool is_null = false;
  r.run_id = pg::value(row, 1, &is_null);
  r.status = pg::value(row, 2, &is_null);
  r.started_at = pg::value(row, 3, &r.started_at_null);
  r.last_activity_at = pg::value(row, 4, &is_null);
  r.run = run != nullptr ? run->build(row) : pg::value(row, 5, &is_null);
  r.reason = pg::value(row, 6, &is_null);
  r.action = pg::value(row, 7, &is_null);
  r.stuck_minutes = core::whole_minutes(clock.now, DatumGetTimestampTz(r.last_activity_at));
  return r;
}

// Bounds any lock wait of the table's statements by recovery.lock_timeout,
// unless the session already has a shorter one.
void with_lock_timeout(const pg::Scoped& fn) {
  const int session = pg::current_lock_timeout_ms();
  if (session > 0 && session <= settings::lock_timeout_ms) {
    fn();
    return;
  }
  pg::with_settings({{"lock_timeout", std::to_string(settings::lock_timeout_ms) + "ms"}}, fn);
}

// Plans the recover statement for its TID join: the CTE hands the UPDATE
// each locked row's TID, and a nested loop of TID lookups reads just those
// rows again. The planner, which cannot see how few rows the CTE yields,
// would rather re-scan the table's index into a hash join (measured: ~10% of
// the statement for 5,000 runs). The settings cover planning only; the
// statement runs at the first fetch, so the table's triggers plan as usual.
void open_recover_cursor(std::optional<pg::Cursor>& cursor, const core::Statement& statement,
                         const std::vector<pg::Param>& params) {
  pg::with_settings({{"enable_hashjoin", "off"}, {"enable_mergejoin", "off"}},
                    [&] { cursor.emplace(statement.sql, params, false); });
}

// Whether the statements consult the table's claims (claims::table_claims,
// read before the table's code runs).
core::Claims consulted(const claims::TableClaims& c) {
  return c.any ? core::Claims::kConsult : core::Claims::kIgnore;
}

}  // namespace

Clock clock_for(const Interval* timeout, const char* argument) {
  if (timeout == nullptr) core::validate_timeout(true, 0, argument);
  // Saturated to its sign: only whether it is positive matters here.
  const __int128 span = static_cast<__int128>(timeout->time) +
                        static_cast<__int128>(timeout->day) * USECS_PER_DAY +
                        static_cast<__int128>(timeout->month) * DAYS_PER_MONTH * USECS_PER_DAY;
  core::validate_timeout(false, span > 0 ? 1 : (span < 0 ? -1 : 0), argument);
  Clock clock;
  clock.now = GetCurrentTransactionStartTimestamp();
  // On the plain (UTC) calendar, so "1 day" is the same span whatever
  // TimeZone the session has.
  clock.cutoff = pg::minus_interval(clock.now, *timeout);
  // Judged by the cutoff itself too: '-1 year 361 days' must not reach the future.
  core::validate_timeout(false, clock.now - clock.cutoff, argument);
  return clock;
}

bool has_future_activity(const registry::Watched& w, const Clock& clock) {
  const core::Statement statement = core::future_activity_query(w.table, pg::quote_ident);
  Clock in_a_minute = clock;
  in_a_minute.cutoff = clock.now + USECS_PER_MINUTE;
  uint64 rows = 0;
  // Bounded like the recovery itself: a table locked by someone else must
  // not hold the caller (the worker) up.
  with_lock_timeout(
      [&] { with_table_code(w, [&] { rows = execute(statement, w, {&in_a_minute}, true); }); });
  return rows > 0;
}

void warn_future_activity(const registry::Watched& w, int level) {
  pg::report(level,
             "recovery: table " + w.name +
                 " has active runs whose last activity lies in the future (time zone " +
                 w.time_zone + ")",
             "Such runs are never stuck by timeout. A plain timestamp read in a zone west of the "
             "one it was written in looks like the future.",
             "Register the zone the table's timestamps are written in: SELECT recovery.watch(" +
                 pg::quote_literal(w.name) + ", time_zone => '...');");
}

uint64 find_in_table(const registry::Watched& w, const Clock& clock, const RowSink& sink) {
  require_read(w, true);
  const claims::TableClaims table_claims = claims::table_claims(w.relid, false);
  const core::Claims claims = consulted(table_claims);
  const std::string& ended = table_claims.ended;
  const core::Statement statement = core::find_query(w.table, claims, pg::quote_ident);
  const pg::ErrorContextLine context("recovery: finding stuck runs of table " + w.name);
  uint64 total = 0;
  with_table_code(w, [&] {
    // The values go through the table's types' input functions: table code too.
    const std::vector<pg::Param> params = params_for(statement, w, {&clock, {}, ended});
    pg::Cursor cursor(statement.sql, params, false);
    RunJson run(core::kFindRowColumn, w.time_zone);
    pg::ScratchContext scratch;  // the runs built: per chunk (the sink copies them)
    for (;;) {
      const uint64 rows = cursor.fetch(kChunkRows);
      if (rows == 0) break;
      scratch.run([&] {
        for (uint64 row = 0; row < rows; ++row) sink(read_row(w, clock, row, &run));
      });
      total += rows;
    }
    cursor.close();
  });
  return total;
}

uint64 recover_table(const registry::Watched& w, const Clock& clock, std::optional<int64> limit,
                     const RowSink& sink) {
  const bool wants_rows = static_cast<bool>(sink);
  require_read(w, wants_rows);
  const bool may = may_update(w);
  const claims::TableClaims table_claims = claims::table_claims(w.relid, may);
  const core::Claims claims = consulted(table_claims);
  const std::string& ended = table_claims.ended;
  if (!may) {
    // Nothing to do is not an error; stuck runs the caller may not fix are.
    uint64 stuck = 0;
    with_table_code(w, [&] {
      stuck = execute(core::exists_query(w.table, claims, pg::quote_ident), w,
                      {&clock, limit, ended}, false);
    });
    if (stuck == 0) return 0;
    const std::string role = pg::current_role_name();
    throw core::Error(core::sqlstate::kInsufficientPrivilege,
                      "permission denied to recover stuck runs of table " + w.name,
                      "Role \"" + role + "\" may not update it, and it has stuck runs.",
                      "GRANT UPDATE ON " + w.name + " TO " + pg::quote_ident(role) + ";");
  }

  const history::Writer writer;  // records the caller, before any identity switch
  const core::Statement statement =
      core::recover_query(w.table, claims, pg::quote_ident, wants_rows);
  const pg::ErrorContextLine context("recovery: recovering stuck runs of table " + w.name);
  uint64 total = 0;
  with_lock_timeout([&] {
    with_table_code(w, [&] {
      std::optional<pg::Cursor> cursor;
      open_recover_cursor(cursor, statement, params_for(statement, w, {&clock, limit, ended}));
      RunJson run(core::kRecoverRowColumn, w.time_zone);
      pg::ScratchContext scratch;  // history arrays, payloads and runs: per chunk
      for (;;) {
        const uint64 rows = cursor->fetch(kChunkRows);
        if (rows == 0) break;
        scratch.run([&] {
          history::Chunk history;
          for (uint64 row = 0; row < rows; ++row) {
            RunRow r = read_row(w, clock, row, wants_rows ? &run : nullptr);
            bool is_null = false;
            r.new_status = pg::value(row, 8, &is_null);
            r.previous_values = pg::value(row, 9, &is_null);
            history.add(r);
            if (wants_rows) sink(r);
          }
          writer.write(w, history);
          if (claims == core::Claims::kConsult) claims::forget(w.relid, history.run_ids);
        });
        total += rows;
      }
      cursor->close();
    });
  });
  return total;
}

TableStatus table_status(const registry::Watched& w, const Clock& clock) {
  TableStatus status;
  const claims::TableClaims table_claims = claims::table_claims(w.relid, false);
  const core::Claims claims = consulted(table_claims);
  const std::string& ended = table_claims.ended;
  const core::Statement statement = core::stuck_summary_query(w.table, claims, pg::quote_ident);
  const pg::ErrorContextLine context("recovery: counting stuck runs of table " + w.name);
  with_lock_timeout([&] {
    with_table_code(w, [&] {
      execute(statement, w, {&clock, {}, ended}, true);
      bool is_null = false;
      status.stuck_runs = DatumGetInt32(pg::value(0, 1, &is_null));
      const Datum oldest = pg::value(0, 2, &is_null);
      if (!is_null) status.oldest_stuck_activity = DatumGetTimestampTz(oldest);
    });
  });
  // The partial index history_table_recovered_at_idx answers both (undo
  // rows are no recoveries).
  const std::string history_sql =
      "SELECT (SELECT pg_catalog.count(*)::pg_catalog.int4 FROM recovery.history AS h WHERE "
      "h.run_table_oid" +
      core::op("=") + "$1 AND h.undo_of IS NULL AND h.recovered_at" + core::op(">=") +
      "$2), (SELECT pg_catalog.max(h.recovered_at) FROM recovery.history AS h WHERE "
      "h.run_table_oid" +
      core::op("=") + "$1 AND h.undo_of IS NULL)";
  pg::execute(history_sql,
              {pg::param(OIDOID, ObjectIdGetDatum(w.relid)),
               pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(clock.now - USECS_PER_DAY))},
              true);
  bool is_null = false;
  status.recovered_24h = DatumGetInt32(pg::value(0, 1, &is_null));
  const Datum last = pg::value(0, 2, &is_null);
  if (!is_null) status.last_recovered_at = DatumGetTimestampTz(last);
  return status;
}

}  // namespace recovery::engine
