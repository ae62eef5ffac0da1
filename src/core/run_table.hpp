// What recovery knows about one watched run table, and the SQL it runs on it.
//
// Pure C++ (no PostgreSQL headers): everything here is decided from names and
// kinds that the registry has already looked up and quoted, so it is unit
// tested without a server. Values never appear in the SQL text: they are
// always $n parameters whose types the engine passes to SPI.
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
  bool has_max_runtime = false;                // a hard limit: $6 is its cutoff
  std::optional<std::string> progress_column;  // with total_column: finished
  std::optional<std::string> total_column;     // work is completed, not failed
  std::string completed_status = "COMPLETED";
  bool requeue = false;                        // on_stuck = 'requeue'
  std::optional<std::string> attempts_column;  // required with requeue
  std::string requeue_status = "PENDING";

  // The zone plain timestamp columns hold wall-clock time in, as a quoted
  // SQL literal ('UTC', 'America/New_York').
  std::string zone_literal = "'UTC'";
  // Every timestamp and timestamptz column, so the row as jsonb shows each
  // as a UTC instant ending in Z ($13 holds their names).
  std::vector<TimeColumn> time_columns;
};

// Whether the statements consult recovery.claims (only when the table has
// claims: the plain timeout statement is the fast path).
enum class Claims { kIgnore, kConsult };

// Quotes one identifier; the backend passes quote_identifier().
using Quoter = std::string (*)(const std::string&);

// " OPERATOR(pg_catalog.<op>) ": recovery's SQL names no operator through
// search_path (core/sql_check.hpp).
std::string op(const char* name);

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

// SQL expression of the last activity of row alias `t`.
std::string last_activity_expr(const RunTable& table, Quoter quote);

// Parameters shared by the statements below (every statement gets all of
// them; each uses some):
//   $1 active statuses (array of the status column's type)
//   $2 cutoff (of last_activity_kind): no activity since is stuck
//   $3 failed status, $7 completed status, $8 requeue status (status type)
//   $4 now (of the finished column's kind), $11 now (of the activity kind)
//   $5 max rows (int8, NULL for all)
//   $6 max_runtime cutoff (of the started kind; NULL without one)
//   $9 max attempts (int4)
//   $10 the table (regclass), to find its claims
//   $12 the names of overwritten_columns() (text[])
//   $13 the names of time_columns (text[]; no statement reads it since the
//       run is built in C++, engine/run_json.hpp)
//   $14 the ended incarnations that own claims, as jsonb text
//       {"<incarnation id>": "<reason>"} (text; with claims consulted)
//
// A stuck run has a reason: owner_gone (its claiming session ended),
// instance_restarted, instance_stopped or instance_gone (the app instance
// incarnation that claimed it was superseded, stopped, or let its lease lapse),
// timeout (unclaimed, no activity since $2) or max_runtime (started before
// $7), and an action: complete (progress reached a positive total), requeue
// (attempts left) or fail. The reason reported for complete and requeue is
// progress_complete and requeued.
//
// Both select lists start with the same seven columns:
//   run_id text, status text, started (timestamptz), last activity (timestamptz),
//   run (NULL jsonb: the engine builds it from the row), reason text, action text
// find_query returns them for every stuck row, oldest first, then the row's
// own columns (t.*, from column kFindRowColumn on).
constexpr int kFindRowColumn = 8;
std::string find_query(const RunTable& table, Claims claims, Quoter quote);

// recover_query locks stuck rows (SKIP LOCKED), re-checks status and the
// reason in the UPDATE itself, and returns the seven columns above for each
// updated row (status being the previous one), then: new status text and the
// previous values of the other columns it wrote (jsonb), then with `with_run`
// the row's own columns (t.*, from column kRecoverRowColumn on): callers that
// discard the rows do not pay for the row.
constexpr int kRecoverRowColumn = 10;
std::string recover_query(const RunTable& table, Claims claims, Quoter quote, bool with_run = true);

// The columns besides the status that recover_query may write (finished,
// attempts, activity), whose previous values it returns for undo.
std::vector<std::string> overwritten_columns(const RunTable& table);

// One row if an active run's last activity lies after $2 (here: a minute
// from now), which a wrong time_zone east of UTC produces. Such a run is
// never stuck by timeout; the table deserves a warning.
std::string future_activity_query(const RunTable& table, Quoter quote);

// One row if the table has any stuck run (for the privilege pre-check).
std::string exists_query(const RunTable& table, Claims claims, Quoter quote);

// One row: how many runs are stuck now (int4) and the oldest last activity
// among them (timestamptz, NULL when none): the find statement's rows,
// counted (recovery.table_status()).
std::string stuck_summary_query(const RunTable& table, Claims claims, Quoter quote);

// The partial index that serves the stuck-run predicate: active rows only,
// keyed by last activity, so finding stuck runs reads only active rows.
// `readable` writes the predicate as "IN (...)" for a person to copy (their
// own session resolves it); recovery runs the qualified form.
std::string index_statement(const RunTable& table, const std::string& index_name, Quoter quote,
                            Quoter quote_literal, bool readable = false);

// Whole minutes between `last` and `now` (microseconds since any epoch),
// clamped to the int32 range, never negative.
int32_t whole_minutes(int64_t now_usec, int64_t last_usec);

}  // namespace recovery::core
