// What recovery knows about one watched run table (core/table_sql.hpp builds
// the SQL it runs on it).
//
// Pure C++ (no PostgreSQL headers): everything here is decided from names and
// kinds that the registry has already looked up, so it is unit tested
// without a server.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace recovery::core {

// Timestamp columns come in two kinds. Plain `timestamp` (what Prisma, Rails
// and TypeORM create) holds wall-clock time in the table's zone (UTC unless
// registered otherwise), so no answer depends on the session's TimeZone.
enum class TimeKind { kTimestamp, kTimestampTz };

// The status column is compared in its own type so that a partial index
// `WHERE status IN (...)` can be matched by the planner.
enum class StatusKind { kText, kEnum };

struct TimeColumn {
  std::string name;  // unquoted, as in the catalog
  TimeKind kind = TimeKind::kTimestampTz;
};

// A watched table with every column resolved. Identifiers are stored raw and
// quoted by the caller-supplied quoter when SQL is built.
struct RunTable {
  std::string qualified_name;  // already quoted: public.qualification_runs
  std::string id_column;
  std::string status_column;
  StatusKind status_kind = StatusKind::kText;
  TimeColumn started;
  std::optional<TimeColumn> activity;
  std::optional<TimeColumn> finished;
  std::vector<std::string> active_statuses;
  std::string failed_status;

  // Beyond timeouts (all optional).
  bool has_max_runtime = false;                // a hard limit on the started column
  std::optional<std::string> progress_column;  // with total_column: finished
  std::optional<std::string> total_column;     // work is completed, not failed
  std::string completed_status = "COMPLETED";
  bool requeue = false;                        // on_stuck = 'requeue'
  std::optional<std::string> attempts_column;  // required with requeue
  std::string requeue_status = "PENDING";

  // The zone plain timestamp columns hold wall-clock time in, as a quoted
  // SQL literal ('UTC', 'America/New_York').
  std::string zone_literal = "'UTC'";
};

// Candidate column names, first match wins. Plain arrays: no C++ global
// with a destructor (PostgreSQL ends processes with exit()).
using Candidates = std::array<const char*, 4>;
inline constexpr Candidates kStartedCandidates = {"createdAt", "created_at", "startedAt",
                                                  "started_at"};
inline constexpr Candidates kActivityCandidates = {"updatedAt", "updated_at", "heartbeatAt",
                                                   "heartbeat_at"};
inline constexpr Candidates kFinishedCandidates = {"completedAt", "completed_at", "finishedAt",
                                                   "finished_at"};

// First candidate present in `columns` (exact, case-sensitive), if any.
std::optional<std::string> detect_column(const std::vector<std::string>& columns,
                                         const Candidates& candidates);

// Whether a column default (as pg_get_expr prints it) is the current time
// converted by the session's TimeZone: now(), CURRENT_TIMESTAMP,
// LOCALTIMESTAMP and the like, without an explicit AT TIME ZONE.
bool defaults_to_local_now(const std::string& default_expr);

// Throws Error(22023/22004) unless the statuses are usable: at least one
// active status, no empty or duplicate label, and the failed status is not
// one of the active ones.
void validate_statuses(const std::vector<std::optional<std::string>>& active,
                       const std::optional<std::string>& failed);

// Throws Error unless the timeout is a positive span. Called twice: with the
// interval's length as PostgreSQL compares intervals (a day is 24 h, a month
// 30 days), and with now minus the cutoff it gives on the calendar; both
// must be positive, so '1 month -30 days' and '-1 year 361 days' are refused.
void validate_timeout(bool is_null, int64_t span_usec, const char* argument = "timeout");

// Throws Error(22023) unless max_runs is NULL or at least 1.
void validate_max_runs(bool is_null, int64_t max_runs);

// The kind of the "last activity" value: the later of started and activity.
TimeKind last_activity_kind(const RunTable& table);

// The columns besides the status that recovery may write (finished,
// attempts, activity), whose previous values it keeps for undo.
std::vector<std::string> overwritten_columns(const RunTable& table);

// Whole minutes between `last` and `now` (microseconds since any epoch),
// clamped to the int32 range, never negative.
int32_t whole_minutes(int64_t now_usec, int64_t last_usec);

}  // namespace recovery::core
