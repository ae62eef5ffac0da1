#include "core/run_table.hpp"

#include <algorithm>
#include <cctype>
#include <limits>
#include <set>

#include "core/error.hpp"

namespace recovery::core {

std::optional<std::string> detect_column(const std::vector<std::string>& columns,
                                         const Candidates& candidates) {
  for (const char* candidate : candidates) {
    if (std::find(columns.begin(), columns.end(), candidate) != columns.end()) return candidate;
  }
  return std::nullopt;
}

bool defaults_to_local_now(const std::string& default_expr) {
  std::string e;
  for (char c : default_expr) e += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (e.find("at time zone") != std::string::npos || e.find("timezone(") != std::string::npos) {
    return false;  // converted explicitly: the app chose the zone
  }
  for (const char* now : {"now()", "current_timestamp", "localtimestamp", "transaction_timestamp()",
                          "statement_timestamp()", "clock_timestamp()"}) {
    if (e.find(now) != std::string::npos) return true;
  }
  return false;
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
    throw Error(sqlstate::kInvalidParameterValue, name + " must be a positive interval", {}, hint);
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

std::vector<std::string> overwritten_columns(const RunTable& table) {
  std::vector<std::string> cols;
  if (table.finished) cols.push_back(table.finished->name);
  if (table.requeue && table.attempts_column) {
    cols.push_back(*table.attempts_column);
    if (table.activity) cols.push_back(table.activity->name);
  }
  return cols;
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
