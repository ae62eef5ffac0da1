#include "engine/history.hpp"

#include "bridge/backend.hpp"
#include "bridge/spi.hpp"

namespace recovery::history {

namespace {
constexpr const char* kNotifyChannel = "recovery";
}

void Chunk::add(const engine::RunRow& r, Datum payload) {
  run_ids.push_back(r.run_id);
  previous.push_back(r.status);
  next.push_back(r.new_status);
  started.push_back(r.started_at);
  started_nulls.push_back(r.started_at_null);
  last.push_back(r.last_activity_at);
  minutes.push_back(Int32GetDatum(r.stuck_minutes));
  payloads.push_back(payload);
}

Writer::Writer()
    : owner_(pg::relation_owner(pg::recovery_table("history"))),
      role_(pg::current_role_name()),
      application_(pg::current_application_name()) {}

void Writer::write(const registry::Watched& w, const char* reason, const Chunk& c) const {
  if (c.empty()) return;
  const Oid timestamptz_array = pg::array_type_of(TIMESTAMPTZOID);
  const std::vector<pg::Param> params = {
      pg::param(TEXTOID, pg::text_datum(w.name)),
      pg::param(TEXTARRAYOID, pg::array_of(c.run_ids, {}, TEXTOID)),
      pg::param(TEXTARRAYOID, pg::array_of(c.previous, {}, TEXTOID)),
      pg::param(TEXTARRAYOID, pg::array_of(c.next, {}, TEXTOID)),
      pg::param(timestamptz_array, pg::array_of(c.started, c.started_nulls, TIMESTAMPTZOID)),
      pg::param(timestamptz_array, pg::array_of(c.last, {}, TIMESTAMPTZOID)),
      pg::param(INT4ARRAYOID, pg::array_of(c.minutes, {}, INT4OID)),
      pg::param(TEXTOID, pg::text_datum(reason)),
      pg::param(TEXTOID, pg::text_datum(role_)),
      pg::param(TEXTOID, pg::text_datum(application_)),
  };
  pg::as_role(owner_, [&] {
    pg::execute(
        "INSERT INTO recovery.history (run_table, run_id, previous_status, new_status, "
        "started_at, last_activity_at, stuck_minutes, reason, recovered_by, application_name) "
        "SELECT $1, u.run_id, u.previous_status, u.new_status, u.started_at, "
        "u.last_activity_at, u.stuck_minutes, $8, $9::pg_catalog.name, $10 "
        "FROM ROWS FROM (pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
        "pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7)) "
        "AS u(run_id, previous_status, new_status, started_at, last_activity_at, stuck_minutes)",
        params, false);
  });
  pg::notify(kNotifyChannel, c.payloads);
}

uint64 prune(TimestampTz cutoff, int64 batch, bool single_batch) {
  const Oid owner = pg::relation_owner(pg::recovery_table("history"));
  const std::vector<pg::Param> params = {pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(cutoff)),
                                         pg::param(INT8OID, Int64GetDatum(batch))};
  uint64 total = 0;
  pg::as_role(owner, [&] {
    for (;;) {
      const uint64 deleted = pg::execute(
          "DELETE FROM recovery.history WHERE id IN (SELECT id FROM recovery.history "
          "WHERE recovered_at < $1 ORDER BY recovered_at LIMIT $2)",
          params, false);
      total += deleted;
      if (single_batch || deleted < static_cast<uint64>(batch)) break;
    }
  });
  return total;
}

}  // namespace recovery::history
