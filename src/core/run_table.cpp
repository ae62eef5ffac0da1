#include "core/run_table.hpp"

#include <algorithm>
#include <limits>
#include <set>

#include "core/error.hpp"

namespace recovery::core {

const std::vector<std::string> kStartedCandidates = {"createdAt", "created_at", "startedAt",
                                                     "started_at"};
const std::vector<std::string> kActivityCandidates = {"updatedAt", "updated_at", "heartbeatAt",
                                                      "heartbeat_at"};
const std::vector<std::string> kFinishedCandidates = {"completedAt", "completed_at",
                                                      "finishedAt", "finished_at"};

std::optional<std::string> detect_column(const std::vector<std::string>& columns,
                                         const std::vector<std::string>& candidates) {
  for (const auto& candidate : candidates) {
    if (std::find(columns.begin(), columns.end(), candidate) != columns.end()) return candidate;
  }
  return std::nullopt;
}

void validate_statuses(const std::vector<std::optional<std::string>>& active,
                       const std::optional<std::string>& failed) {
  if (!failed) {
    throw Error(sqlstate::kNullValueNotAllowed, "failed_status must not be NULL", {},
                "Pass the status that marks a failed run, for example 'FAILED'.");
  }
  if (failed->empty()) throw Error(sqlstate::kInvalidParameterValue, "failed_status is empty");
  if (active.empty()) {
    throw Error(sqlstate::kInvalidParameterValue, "active_statuses must not be empty", {},
                "List the statuses of runs in progress, for example '{PENDING,PROCESSING}'.");
  }
  std::set<std::string> seen;
  for (const auto& status : active) {
    if (!status) {
      throw Error(sqlstate::kInvalidParameterValue, "active_statuses must not contain NULL");
    }
    if (status->empty()) {
      throw Error(sqlstate::kInvalidParameterValue, "active_statuses must not contain \"\"");
    }
    if (!seen.insert(*status).second) {
      throw Error(sqlstate::kInvalidParameterValue,
                  "active_statuses lists \"" + *status + "\" twice");
    }
    if (*status == *failed) {
      throw Error(sqlstate::kInvalidParameterValue,
                  "failed_status \"" + *failed + "\" is also an active status",
                  "A recovered run would still count as active.",
                  "Remove it from active_statuses or choose another failed_status.");
    }
  }
}

void validate_timeout(bool is_null, int64_t span_usec, const char* argument) {
  const std::string name = argument;
  const std::string hint = name == "timeout"
                               ? "Pass how long a run may go without activity, for example "
                                 "'30 minutes'."
                               : "Pass an age, for example '90 days'.";
  if (is_null) throw Error(sqlstate::kNullValueNotAllowed, name + " must not be NULL", {}, hint);
  if (span_usec <= 0) {
    throw Error(sqlstate::kInvalidParameterValue, name + " must be a positive interval", {},
                hint);
  }
}

void validate_max_runs(bool is_null, int64_t max_runs) {
  if (!is_null && max_runs < 1) {
    throw Error(sqlstate::kInvalidParameterValue, "max_runs must be at least 1", {},
                "Pass NULL to recover every stuck run.");
  }
}

TimeKind last_activity_kind(const RunTable& table) {
  if (!table.activity || table.activity->kind == table.started.kind) return table.started.kind;
  return TimeKind::kTimestampTz;
}

namespace {

std::string column(const std::string& name, Quoter quote) { return "t." + quote(name); }

// A time column as the kind `target`; plain timestamps are UTC.
std::string time_as(const TimeColumn& col, TimeKind target, Quoter quote) {
  if (col.kind == target) return column(col.name, quote);
  return "(" + column(col.name, quote) + " AT TIME ZONE 'UTC')";
}

// The WHERE clause that defines a stuck run of alias t.
std::string stuck_predicate(const RunTable& table, Quoter quote) {
  return column(table.status_column, quote) + " = ANY ($1) AND " +
         last_activity_expr(table, quote) + " < $2";
}

// The five leading result columns, with `status` naming where the status is read.
std::string result_columns(const RunTable& table, Quoter quote, const std::string& status) {
  return column(table.id_column, quote) + "::pg_catalog.text, " + status +
         "::pg_catalog.text, " + column(table.started.name, quote) + ", " +
         last_activity_expr(table, quote) + ", pg_catalog.to_jsonb(t.*)";
}

}  // namespace

std::string last_activity_expr(const RunTable& table, Quoter quote) {
  if (!table.activity) return column(table.started.name, quote);
  const TimeKind kind = last_activity_kind(table);
  return "GREATEST(" + time_as(table.started, kind, quote) + ", " +
         time_as(*table.activity, kind, quote) + ")";
}

std::string find_query(const RunTable& table, Quoter quote) {
  return "SELECT " + result_columns(table, quote, column(table.status_column, quote)) +
         " FROM " + table.qualified_name + " AS t WHERE " + stuck_predicate(table, quote) +
         " ORDER BY " + last_activity_expr(table, quote) + ", 1";
}

std::string recover_query(const RunTable& table, Quoter quote) {
  const std::string id = column(table.id_column, quote);
  std::string set = quote(table.status_column) + " = $3";
  if (table.finished) set += ", " + quote(table.finished->name) + " = $4";
  // The CTE takes row locks oldest first and skips rows a live transaction
  // holds (NO KEY: an app inserting child rows only holds KEY SHARE, which
  // must not hide the run); the UPDATE re-checks status and age so a run that
  // completed or showed activity since the scan is never overwritten. The
  // join includes tableoid: under inheritance, ids repeat across children.
  return "WITH stuck AS (SELECT t.tableoid AS run_tableoid, " + id + " AS run_key, " +
         column(table.status_column, quote) +
         " AS previous_status FROM " + table.qualified_name + " AS t WHERE " +
         stuck_predicate(table, quote) + " ORDER BY " + last_activity_expr(table, quote) +
         " LIMIT $5 FOR NO KEY UPDATE OF t SKIP LOCKED) UPDATE " + table.qualified_name +
         " AS t SET " + set + " FROM stuck AS s WHERE t.tableoid = s.run_tableoid AND " + id +
         " = s.run_key AND " +
         stuck_predicate(table, quote) + " RETURNING " +
         result_columns(table, quote, "s.previous_status") + ", " +
         column(table.status_column, quote) +
         "::pg_catalog.text, pg_catalog.jsonb_build_object('run_table', $6::pg_catalog.text, "
         "'run_id', " +
         id + "::pg_catalog.text, 'previous_status', s.previous_status::pg_catalog.text, "
              "'new_status', " +
         column(table.status_column, quote) + "::pg_catalog.text)::pg_catalog.text";
}

std::string exists_query(const RunTable& table, Quoter quote) {
  return "SELECT 1 FROM " + table.qualified_name + " AS t WHERE " +
         stuck_predicate(table, quote) + " LIMIT 1";
}

int32_t whole_minutes(int64_t now_usec, int64_t last_usec) {
  constexpr int64_t kUsecPerMinute = 60LL * 1000 * 1000;
  if (last_usec >= now_usec) return 0;
  // Unsigned, because the gap to a -infinity timestamp (INT64_MIN) overflows int64.
  const uint64_t minutes =
      (static_cast<uint64_t>(now_usec) - static_cast<uint64_t>(last_usec)) / kUsecPerMinute;
  constexpr auto kMax = static_cast<uint64_t>(std::numeric_limits<int32_t>::max());
  return static_cast<int32_t>(std::min(minutes, kMax));
}

}  // namespace recovery::core
