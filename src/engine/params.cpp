#include "engine/params.hpp"

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "core/error.hpp"

namespace recovery::engine {

namespace {

// An instant as a parameter of `type`: a timestamptz as is, a plain
// timestamp as the wall-clock time in the table's zone.
pg::Param time_param(const registry::Watched& w, Oid type, TimestampTz value) {
  if (type == TIMESTAMPOID) return pg::param(type, pg::wall_clock(value, w.time_zone));
  return pg::param(type, TimestampTzGetDatum(value));
}

pg::Param status_param(const registry::Watched& w, const std::string& label) {
  return pg::param(w.status_type, pg::typed_datum(w.status_type, label));
}

template <typename T>
const T& given(const std::optional<T>& value, core::Slot slot) {
  if (!value) {
    throw core::Error(
        core::sqlstate::kInternalError,
        std::string("recovery: no value for statement slot ") + core::slot_name(slot));
  }
  return *value;
}

const Clock& given_clock(const SlotValues& values, core::Slot slot) {
  if (values.clock == nullptr) {
    throw core::Error(
        core::sqlstate::kInternalError,
        std::string("recovery: no clock for statement slot ") + core::slot_name(slot));
  }
  return *values.clock;
}

pg::Param slot_param(core::Slot slot, const registry::Watched& w, const SlotValues& v) {
  const core::RunTable& t = w.table;
  using core::Slot;
  switch (slot) {
    case Slot::kActiveStatuses:
      return pg::param(pg::array_type_of(w.status_type),
                       pg::array_of(t.active_statuses, w.status_type));
    case Slot::kCutoff:
      return time_param(w, w.last_activity_type, given_clock(v, slot).cutoff);
    case Slot::kFailedStatus:
      return status_param(w, t.failed_status);
    case Slot::kCompletedStatus:
      return status_param(w, t.completed_status);
    case Slot::kRequeueStatus:
      return status_param(w, t.requeue_status);
    case Slot::kFinishedNow:
      return time_param(w, t.finished ? w.finished_type : TIMESTAMPTZOID, given_clock(v, slot).now);
    case Slot::kActivityNow:
      return time_param(w, w.activity_type != InvalidOid ? w.activity_type : TIMESTAMPTZOID,
                        given_clock(v, slot).now);
    case Slot::kMaxRows:
      return v.limit ? pg::param(INT8OID, Int64GetDatum(*v.limit)) : pg::null_param(INT8OID);
    case Slot::kMaxRuntimeCutoff:
      if (!w.max_runtime) return pg::null_param(w.started_type);
      return time_param(w, w.started_type,
                        pg::minus_interval(given_clock(v, slot).now, *w.max_runtime));
    case Slot::kMaxAttempts:
      return pg::param(INT4OID, Int32GetDatum(w.max_attempts));
    case Slot::kRunTable:
      return pg::param(REGCLASSOID, ObjectIdGetDatum(w.relid));
    case Slot::kOverwrittenNames:
      return pg::param(TEXTARRAYOID, pg::array_of(core::overwritten_columns(t), TEXTOID));
    case Slot::kEndedIncarnations:
      return pg::param(TEXTOID, pg::text_datum(v.ended));
    case Slot::kRunId:
      return pg::param(w.id_type, pg::typed_datum(w.id_type, given(v.run_id, slot)));
    case Slot::kRestoredStatus:
      return status_param(w, given(v.restored_status, slot));
    case Slot::kRecoveredStatus:
      return status_param(w, given(v.recovered_status, slot));
    case Slot::kPreviousValues:
      return pg::param(JSONBOID, pg::typed_datum(JSONBOID, given(v.previous_values, slot)));
  }
  throw core::Error(core::sqlstate::kInternalError, "recovery: unknown statement slot");
}

}  // namespace

std::vector<pg::Param> params_for(const core::Statement& statement, const registry::Watched& w,
                                  const SlotValues& values) {
  std::vector<pg::Param> params;
  params.reserve(statement.slots.size());
  for (const core::Slot slot : statement.slots) params.push_back(slot_param(slot, w, values));
  return params;
}

uint64 execute(const core::Statement& statement, const registry::Watched& w,
               const SlotValues& values, bool read_only) {
  return pg::execute(statement.sql, params_for(statement, w, values), read_only);
}

}  // namespace recovery::engine
