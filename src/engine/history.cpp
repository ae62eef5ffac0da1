#include "engine/history.hpp"

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/notify.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/table_sql.hpp"

extern "C" {
#include "utils/json.h"
}

namespace recovery::engine::history {

namespace {

using core::op;

constexpr const char* kNotifyChannel = "recovery";
// A run id longer than this is shortened in the payload (history keeps it
// whole): NOTIFY refuses payloads of 8000 bytes or more.
constexpr int kPayloadIdBytes = 1024;

// The NOTIFY payload, as jsonb_build_object(...)::text prints it (keys in
// jsonb's order: by length, then bytes), written directly: one escape_json per
// value, no jsonb built, sorted and printed for every run.
char* payload_text(Datum run_id, Datum table, Datum new_status, Datum previous_status, bool cut) {
  return pg::guard([&] {
    StringInfoData out;
    initStringInfo(&out);
    const std::pair<const char*, Datum> fields[] = {{"{\"run_id\": ", run_id},
                                                    {", \"run_table\": ", table},
                                                    {", \"new_status\": ", new_status},
                                                    {", \"previous_status\": ", previous_status}};
    for (const auto& [key, value] : fields) {
      appendStringInfoString(&out, key);
      char* chars = TextDatumGetCString(value);
      escape_json(&out, chars);
      pfree(chars);
    }
    appendStringInfoString(&out, cut ? ", \"run_id_truncated\": true}" : "}");
    return out.data;
  });
}

// One NOTIFY recovery: {"run_id", "run_table", "new_status", "previous_status"},
// and "run_id_truncated": true when the id was shortened.
void notify_recovered(Datum table, Datum run_id, Datum previous_status, Datum new_status) {
  bool cut = false;
  const Datum id = pg::text_prefix(run_id, kPayloadIdBytes, &cut);
  char* payload = payload_text(id, table, new_status, previous_status, cut);
  if (strlen(payload) > pg::notify_payload_limit()) return;  // only with absurd status labels
  pg::notify(kNotifyChannel, payload);
}

}  // namespace

void Chunk::add(const engine::RunRow& r) {
  run_ids.push_back(r.run_id);
  previous.push_back(r.status);
  next.push_back(r.new_status);
  started.push_back(r.started_at);
  started_nulls.push_back(r.started_at_null);
  last.push_back(r.last_activity_at);
  minutes.push_back(Int32GetDatum(r.stuck_minutes));
  reasons.push_back(r.reason);
  actions.push_back(r.action);
  previous_values.push_back(r.previous_values);
}

Writer::Writer() : role_(pg::current_role_name()), application_(pg::current_application_name()) {}

void Writer::write(const registry::Watched& w, const Chunk& c) const {
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
      pg::param(TEXTARRAYOID, pg::array_of(c.reasons, {}, TEXTOID)),
      pg::param(TEXTOID, pg::text_datum(role_)),
      pg::param(TEXTOID, pg::text_datum(application_)),
      pg::param(TEXTARRAYOID, pg::array_of(c.actions, {}, TEXTOID)),
      pg::param(pg::array_type_of(JSONBOID), pg::array_of(c.previous_values, {}, JSONBOID)),
      pg::param(OIDOID, ObjectIdGetDatum(w.relid)),
  };
  pg::as_recovery_owner([&] {
    pg::execute(
        "INSERT INTO recovery.history (run_table, run_id, previous_status, new_status, "
        "started_at, last_activity_at, stuck_minutes, reason, action, previous_values, "
        "recovered_by, application_name, run_table_oid) "
        "SELECT $1, pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4), "
        "pg_catalog.unnest($5), pg_catalog.unnest($6), pg_catalog.unnest($7), "
        "pg_catalog.unnest($8), pg_catalog.unnest($11), pg_catalog.unnest($12), "
        "$9::pg_catalog.name, $10, $13",
        params, false);
  });
  if (!w.notify) return;
  // NOTIFY keeps its own copy of each payload: build each in memory reused
  // row after row.
  const Datum table = params[0].value;
  pg::ScratchContext payload_memory;
  for (size_t i = 0; i < c.run_ids.size(); ++i) {
    payload_memory.run([&] { notify_recovered(table, c.run_ids[i], c.previous[i], c.next[i]); });
  }
}

int64 Writer::write_undo(const registry::Watched& w, const std::string& run_id,
                         const std::string& from_status, const std::string& to_status,
                         int64 undo_of) const {
  const std::vector<pg::Param> params = {
      pg::param(TEXTOID, pg::text_datum(w.name)),
      pg::param(TEXTOID, pg::text_datum(run_id)),
      pg::param(TEXTOID, pg::text_datum(from_status)),
      pg::param(TEXTOID, pg::text_datum(to_status)),
      pg::param(INT8OID, Int64GetDatum(undo_of)),
      pg::param(TEXTOID, pg::text_datum(role_)),
      pg::param(TEXTOID, pg::text_datum(application_)),
      pg::param(OIDOID, ObjectIdGetDatum(w.relid)),
  };
  int64 id = 0;
  pg::as_recovery_owner([&] {
    pg::execute(
        "INSERT INTO recovery.history (run_table, run_id, previous_status, new_status, "
        "stuck_minutes, reason, action, undo_of, recovered_by, application_name, run_table_oid) "
        "VALUES ($1, $2, $3, $4, 0, 'undo', 'undo', $5, $6::pg_catalog.name, $7, $8) RETURNING id",
        params, false);
    bool is_null = false;
    id = DatumGetInt64(pg::value(0, 1, &is_null));
  });
  if (w.notify)
    notify_recovered(params[0].value, params[1].value, params[2].value, params[3].value);
  return id;
}

uint64 prune(TimestampTz cutoff, int64 batch, bool single_batch) {
  const std::vector<pg::Param> params = {pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(cutoff)),
                                         pg::param(INT8OID, Int64GetDatum(batch))};
  uint64 total = 0;
  pg::as_recovery_owner([&] {
    for (;;) {
      const uint64 deleted =
          pg::execute("DELETE FROM recovery.history WHERE id" + op("=") +
                          "ANY (ARRAY(SELECT id FROM recovery.history WHERE recovered_at" +
                          op("<") + "$1 ORDER BY recovered_at LIMIT $2))",
                      params, false);
      total += deleted;
      if (single_batch || deleted < static_cast<uint64>(batch)) break;
    }
  });
  return total;
}

}  // namespace recovery::engine::history
