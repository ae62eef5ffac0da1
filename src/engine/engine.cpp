#include "engine/engine.hpp"

#include "bridge/backend.hpp"
#include "bridge/spi.hpp"
#include "core/error.hpp"
#include "engine/history.hpp"

extern "C" {
#include "utils/datetime.h"
}

namespace recovery::engine {

namespace {

// Rows per cursor fetch: bounds memory for any number of stuck runs.
constexpr long kChunkRows = 1000;

pg::Param time_param(Oid type, TimestampTz value) {
  // timestamp and timestamptz share the int64 representation (see Clock).
  return pg::param(type, TimestampTzGetDatum(value));
}

// Reads the five leading result columns of find_query/recover_query.
RunRow read_row(const registry::Watched& table, const Clock& clock, uint64 row) {
  RunRow r;
  r.table = &table;
  bool is_null = false;
  r.run_id = pg::value(row, 1, &is_null);
  r.status = pg::value(row, 2, &is_null);
  r.started_at = pg::value(row, 3, &r.started_at_null);
  r.last_activity_at = pg::value(row, 4, &is_null);
  r.run = pg::value(row, 5, &is_null);
  r.stuck_minutes = core::whole_minutes(clock.now, DatumGetTimestampTz(r.last_activity_at));
  return r;
}

std::vector<pg::Param> stuck_params(const registry::Watched& w, const Clock& clock) {
  return {pg::param(pg::array_type_of(w.status_type),
                    pg::array_datum(w.table.active_statuses, w.status_type)),
          time_param(w.last_activity_type, clock.cutoff)};
}

// Runs the statements that execute a table's own code (its triggers, casts,
// index expressions). A superuser who does not own the table runs them as the
// owner, security-restricted, as VACUUM does: otherwise any role able to
// create a watched table could run code with superuser rights through a
// superuser's call, a pg_cron job or the worker. Anyone else runs them as
// themselves, exactly as their own UPDATE would.
template <typename Fn>
void with_table_code_user(const registry::Watched& w, Fn&& fn) {
  const Oid owner = pg::relation_owner(w.relid);
  if (owner != pg::current_user_id() && pg::current_user_is_superuser()) {
    pg::as_role(owner, fn, true);
  } else {
    fn();
  }
}

bool may_update(const registry::Watched& w) {
  if (pg::has_table_privilege(w.relid, ACL_UPDATE)) return true;
  for (AttrNumber attnum : w.updated_columns) {
    if (!pg::has_column_privilege(w.relid, attnum, ACL_UPDATE)) return false;
  }
  return true;
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
  // timestamp_mi_interval works on the plain (UTC) calendar, so "1 day" is
  // the same span whatever TimeZone the session has.
  const TimestampTz now = clock.now;
  clock.cutoff = pg::guard([&] {
    return DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval, TimestampGetDatum(now),
                                                 PointerGetDatum(timeout)));
  });
  // Judged by the cutoff itself: '-1 year 361 days' must not reach the future.
  core::validate_timeout(false, clock.now - clock.cutoff, argument);
  return clock;
}

uint64 find_in_table(const registry::Watched& w, const Clock& clock, const RowSink& sink) {
  const std::vector<pg::Param> params = stuck_params(w, clock);
  uint64 total = 0;
  with_table_code_user(w, [&] {
    pg::Cursor cursor(core::find_query(w.table, pg::quote_ident), params, false);
    for (;;) {
      const uint64 rows = cursor.fetch(kChunkRows);
      if (rows == 0) break;
      for (uint64 row = 0; row < rows; ++row) sink(read_row(w, clock, row));
      total += rows;
    }
    cursor.close();
  });
  return total;
}

uint64 recover_table(const registry::Watched& w, const Clock& clock, std::optional<int64> limit,
                     const RowSink& sink) {
  std::vector<pg::Param> params = stuck_params(w, clock);
  if (!may_update(w)) {
    // Nothing to do is not an error; stuck runs the caller may not fix are.
    if (pg::execute(core::exists_query(w.table, pg::quote_ident), params, false) == 0) return 0;
    const std::string role = pg::current_role_name();
    throw Error(sqlstate::kInsufficientPrivilege,
                "permission denied to recover stuck runs of table " + w.name,
                "Role \"" + role + "\" may not update it, and it has stuck runs.",
                "GRANT UPDATE ON " + w.name + " TO " + pg::quote_ident(role) + ";");
  }
  params.push_back(pg::param(w.status_type, w.status_type == TEXTOID
                                                ? pg::text_datum(w.table.failed_status)
                                                : pg::guard([&] {
                                                    return DirectFunctionCall2(
                                                        enum_in,
                                                        CStringGetDatum(
                                                            w.table.failed_status.c_str()),
                                                        ObjectIdGetDatum(w.status_type));
                                                  })));
  params.push_back(time_param(w.table.finished ? w.finished_type : TIMESTAMPTZOID, clock.now));
  params.push_back(limit ? pg::param(INT8OID, Int64GetDatum(*limit)) : pg::null_param(INT8OID));
  params.push_back(pg::param(TEXTOID, pg::text_datum(w.name)));

  const history::Writer writer;  // records the caller, before any identity switch

  uint64 total = 0;
  with_table_code_user(w, [&] {
    pg::Cursor cursor(core::recover_query(w.table, pg::quote_ident), params, false);
    for (;;) {
      const uint64 rows = cursor.fetch(kChunkRows);
      if (rows == 0) break;
      history::Chunk history;
      for (uint64 row = 0; row < rows; ++row) {
        RunRow r = read_row(w, clock, row);
        bool is_null = false;
        r.new_status = pg::value(row, 6, &is_null);
        history.add(r, pg::value(row, 7, &is_null));
        sink(r);
      }
      writer.write(w, "timeout", history);
      total += rows;
    }
    cursor.close();
  });
  return total;
}

}  // namespace recovery::engine
