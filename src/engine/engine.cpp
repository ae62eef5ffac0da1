#include "engine/engine.hpp"

#include "bridge/backend.hpp"
#include "bridge/spi.hpp"
#include "core/error.hpp"
#include "engine/access.hpp"
#include "engine/claims.hpp"
#include "engine/history.hpp"
#include "engine/instances.hpp"
#include "engine/run_json.hpp"
#include "settings/settings.hpp"

extern "C" {
#include "utils/datetime.h"
}

namespace recovery::engine {

namespace {

// Rows per cursor fetch: bounds memory for any number of stuck runs.
constexpr long kChunkRows = 1000;

// An instant as a parameter of `type`: a timestamptz as is, a plain
// timestamp as the wall-clock time in the table's zone.
pg::Param time_param(const registry::Watched& w, Oid type, TimestampTz value) {
  if (type == TIMESTAMPOID) return pg::param(type, pg::wall_clock(value, w.time_zone));
  return pg::param(type, TimestampTzGetDatum(value));
}

pg::Param status_param(const registry::Watched& w, bool wanted, const std::string& label) {
  if (!wanted) return pg::null_param(w.status_type);
  return pg::param(w.status_type, pg::typed_datum(w.status_type, label));
}

// now - interval on the UTC calendar (see Clock).
TimestampTz minus(TimestampTz now, const Interval& span) {
  return pg::guard([&] {
    return DatumGetTimestamp(
        DirectFunctionCall2(timestamp_mi_interval, TimestampGetDatum(now), PointerGetDatum(&span)));
  });
}

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
void with_lock_timeout(const std::function<void()>& fn) {
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
void open_recover_cursor(std::optional<pg::Cursor>& cursor, const std::string& sql,
                         const std::vector<pg::Param>& params) {
  pg::with_settings({{"enable_hashjoin", "off"}, {"enable_mergejoin", "off"}},
                    [&] { cursor.emplace(sql, params, false); });
}

std::vector<std::string> time_column_names(const core::RunTable& t) {
  std::vector<std::string> names;
  for (const auto& col : t.time_columns) names.push_back(col.name);
  return names;
}

core::Claims claims_of(const registry::Watched& w) {
  return claims::table_has_claims(w.relid) ? core::Claims::kConsult : core::Claims::kIgnore;
}

// $14: the ended incarnations owning claims on the table (none when claims
// are not consulted). Read before the table's code runs.
std::string ended_incarnations(const registry::Watched& w, core::Claims claims) {
  return claims == core::Claims::kConsult ? instances::dead_incarnations(w.relid) : "{}";
}

}  // namespace

std::vector<pg::Param> statement_params(const registry::Watched& w, const Clock& clock,
                                        std::optional<int64> limit, const std::string& ended) {
  const core::RunTable& t = w.table;
  const Oid activity_type = w.activity_type != InvalidOid ? w.activity_type : TIMESTAMPTZOID;
  return {
      pg::param(pg::array_type_of(w.status_type),
                pg::array_datum(t.active_statuses, w.status_type)),
      time_param(w, w.last_activity_type, clock.cutoff),
      status_param(w, true, t.failed_status),
      time_param(w, t.finished ? w.finished_type : TIMESTAMPTZOID, clock.now),
      limit ? pg::param(INT8OID, Int64GetDatum(*limit)) : pg::null_param(INT8OID),
      w.max_runtime ? time_param(w, w.started_type, minus(clock.now, *w.max_runtime))
                    : pg::null_param(w.started_type),
      status_param(w, t.progress_column.has_value(), t.completed_status),
      status_param(w, t.requeue, t.requeue_status),
      pg::param(INT4OID, Int32GetDatum(w.max_attempts)),
      pg::param(REGCLASSOID, ObjectIdGetDatum(w.relid)),
      time_param(w, activity_type, clock.now),
      pg::param(TEXTARRAYOID, pg::text_array_datum(core::overwritten_columns(t))),
      pg::param(TEXTARRAYOID, pg::text_array_datum(time_column_names(t))),
      pg::param(TEXTOID, pg::text_datum(ended)),
  };
}

Clock clock_for(const Interval* timeout, const char* argument) {
  if (timeout == nullptr) core::validate_timeout(true, 0, argument);
  // Saturated to its sign: only whether it is positive matters here.
  const __int128 span = static_cast<__int128>(timeout->time) +
                        static_cast<__int128>(timeout->day) * USECS_PER_DAY +
                        static_cast<__int128>(timeout->month) * DAYS_PER_MONTH * USECS_PER_DAY;
  core::validate_timeout(false, span > 0 ? 1 : (span < 0 ? -1 : 0), argument);
  Clock clock;
  clock.now = GetCurrentTransactionStartTimestamp();
  // timestamp_mi_interval works on the plain (UTC) calendar, so "1 day" is
  // the same span whatever TimeZone the session has.
  clock.cutoff = minus(clock.now, *timeout);
  // Judged by the cutoff itself too: '-1 year 361 days' must not reach the future.
  core::validate_timeout(false, clock.now - clock.cutoff, argument);
  return clock;
}

bool has_future_activity(const registry::Watched& w, const Clock& clock) {
  const std::string sql = core::future_activity_query(w.table, pg::quote_ident);
  uint64 rows = 0;
  // Bounded like the recovery itself: a table locked by someone else must
  // not hold the caller (the worker) up.
  with_lock_timeout([&] {
    with_table_code(w, [&] {
      std::vector<pg::Param> params = statement_params(w, clock, std::nullopt);
      params[1] = time_param(w, w.last_activity_type, clock.now + USECS_PER_MINUTE);
      rows = pg::execute(sql, params, true);
    });
  });
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
  const core::Claims claims = claims_of(w);
  const std::string ended = ended_incarnations(w, claims);
  const std::string sql = core::find_query(w.table, claims, pg::quote_ident);
  const pg::ErrorContextLine context("recovery: finding stuck runs of table " + w.name);
  uint64 total = 0;
  with_table_code(w, [&] {
    // The values go through the table's types' input functions: table code too.
    const std::vector<pg::Param> params = statement_params(w, clock, std::nullopt, ended);
    pg::Cursor cursor(sql, params, false);
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
  const core::Claims claims = claims_of(w);
  const std::string ended = ended_incarnations(w, claims);
  if (!may_update(w)) {
    // Nothing to do is not an error; stuck runs the caller may not fix are.
    uint64 stuck = 0;
    with_table_code(w, [&] {
      stuck = pg::execute(core::exists_query(w.table, claims, pg::quote_ident),
                          statement_params(w, clock, limit, ended), false);
    });
    if (stuck == 0) return 0;
    const std::string role = pg::current_role_name();
    throw Error(sqlstate::kInsufficientPrivilege,
                "permission denied to recover stuck runs of table " + w.name,
                "Role \"" + role + "\" may not update it, and it has stuck runs.",
                "GRANT UPDATE ON " + w.name + " TO " + pg::quote_ident(role) + ";");
  }

  const history::Writer writer;  // records the caller, before any identity switch
  const std::string sql = core::recover_query(w.table, claims, pg::quote_ident, wants_rows);
  const pg::ErrorContextLine context("recovery: recovering stuck runs of table " + w.name);
  uint64 total = 0;
  with_lock_timeout([&] {
    with_table_code(w, [&] {
      const std::vector<pg::Param> params = statement_params(w, clock, limit, ended);
      std::optional<pg::Cursor> cursor;
      open_recover_cursor(cursor, sql, params);
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
  const core::Claims claims = claims_of(w);
  const std::string ended = ended_incarnations(w, claims);
  const std::string sql = core::stuck_summary_query(w.table, claims, pg::quote_ident);
  const pg::ErrorContextLine context("recovery: counting stuck runs of table " + w.name);
  with_lock_timeout([&] {
    with_table_code(w, [&] {
      pg::execute(sql, statement_params(w, clock, std::nullopt, ended), true);
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
