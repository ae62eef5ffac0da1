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

std::string op(const char* name) { return std::string(" OPERATOR(pg_catalog.") + name + ") "; }

TimeKind last_activity_kind(const RunTable& table) {
  if (!table.activity || table.activity->kind == table.started.kind) return table.started.kind;
  return TimeKind::kTimestampTz;
}

namespace {

std::string column(const std::string& name, Quoter quote, const char* alias = "t.") {
  return alias + quote(name);
}

// An expression of `kind` as an instant: plain timestamps hold wall-clock
// time in the table's zone.
std::string instant(const RunTable& table, const std::string& expr, TimeKind kind) {
  if (kind == TimeKind::kTimestampTz) return expr;
  return "(" + expr + " AT TIME ZONE " + table.zone_literal + ")";
}

// An expression of `kind` for a result column the engine reads as a
// timestamptz Datum: a plain timestamp holding UTC has the bits of its
// instant already, so it goes as is (no AT TIME ZONE per row).
std::string instant_bits(const RunTable& table, const std::string& expr, TimeKind kind) {
  if (kind == TimeKind::kTimestamp && table.zone_literal == "'UTC'") return expr;
  return instant(table, expr, kind);
}

// A time column as the kind `target` (only plain to timestamptz is needed:
// mixed kinds compare as instants).
std::string time_as(const RunTable& table, const TimeColumn& col, TimeKind target, Quoter quote,
                    const char* alias) {
  if (col.kind == target) return column(col.name, quote, alias);
  return instant(table, column(col.name, quote, alias), col.kind);
}

// The plain timeout rule; the whole predicate when no claims are consulted
// and there is no max_runtime (the indexable fast path).
std::string timeout_predicate(const RunTable& table, Quoter quote) {
  return last_activity_expr(table, quote) + op("<") + "$2";
}

bool plain(const RunTable& table, Claims claims) {
  return claims == Claims::kIgnore && !table.has_max_runtime;
}

// Why a row of alias t (claims alias c) is stuck, or NULL.
std::string reason_expr(const RunTable& table, Claims claims, Quoter quote) {
  if (plain(table, claims)) return "'timeout'::pg_catalog.text";
  std::string e = "CASE";
  if (claims == Claims::kConsult) {
    // An instance's claim is dead when $14 (dead incarnations: reasons by
    // id) names its incarnation; a session's when its backend is gone.
    const std::string ended =
        "pg_catalog.jsonb_extract_path_text($14::pg_catalog.jsonb, "
        "c.incarnation::pg_catalog.text)";
    e += " WHEN c.incarnation IS NOT NULL AND " + ended + " IS NOT NULL THEN " + ended +
         " WHEN c.run_id IS NOT NULL AND c.incarnation IS NULL AND NOT "
         "recovery.backend_alive(c.backend_pid, c.backend_start) THEN 'owner_gone' WHEN "
         "c.run_id IS NULL AND " +
         timeout_predicate(table, quote) + " THEN 'timeout'";
  } else {
    e += " WHEN " + timeout_predicate(table, quote) + " THEN 'timeout'";
  }
  if (table.has_max_runtime) {
    e += " WHEN " + column(table.started.name, quote) + op("<") + "$6 THEN 'max_runtime'";
  }
  return e + " END";
}

// What recovery does with a stuck row of alias t.
std::string action_expr(const RunTable& table, Quoter quote) {
  std::string e = "CASE";
  if (table.progress_column && table.total_column) {
    e += " WHEN " + column(*table.total_column, quote) + op(">") + "0 AND " +
         column(*table.progress_column, quote) + op(">=") + column(*table.total_column, quote) +
         " THEN 'complete'";
  }
  if (table.requeue && table.attempts_column) {
    e += " WHEN (COALESCE(" + column(*table.attempts_column, quote) + ", 0)" + op("+") + "1)" +
         op("<") + "$9 THEN 'requeue'";
  }
  if (e == "CASE") return "'fail'::pg_catalog.text";
  return e + " ELSE 'fail' END";
}

// FROM clause shared by find and the recover CTE: the table, its claims if
// consulted, and r(reason, action).
std::string stuck_from(const RunTable& table, Claims claims, Quoter quote) {
  std::string from = table.qualified_name + " AS t";
  if (claims == Claims::kConsult) {
    from += " LEFT JOIN recovery.claims AS c ON c.run_table" + op("=") + "$10 AND c.run_id" +
            op("=") + column(table.id_column, quote) + "::pg_catalog.text";
  }
  return from + " CROSS JOIN LATERAL (SELECT " + reason_expr(table, claims, quote) +
         " AS reason, " + action_expr(table, quote) + " AS action) AS r";
}

std::string stuck_where(const RunTable& table, Claims claims, Quoter quote) {
  const std::string active = column(table.status_column, quote) + op("=") + "ANY ($1)";
  if (plain(table, claims)) return active + " AND " + timeout_predicate(table, quote);
  return active + " AND r.reason IS NOT NULL";
}

// The reason as reported: complete and requeue name themselves.
std::string reported_reason(const std::string& reason, const std::string& action) {
  return "CASE WHEN " + action + op("=") + "'complete' THEN 'progress_complete' WHEN " + action +
         op("=") + "'requeue' THEN 'requeued' ELSE " + reason + " END";
}

// The seven leading result columns, with `status` naming where the status is
// read. The run (column 5) is NULL here: the engine builds it from the row's
// own columns, t.* at the end of the select list (engine/run_json.hpp).
std::string result_columns(const RunTable& table, Quoter quote, const std::string& status,
                           const std::string& reason, const std::string& action) {
  return column(table.id_column, quote) + "::pg_catalog.text, " + status + "::pg_catalog.text, " +
         instant_bits(table, column(table.started.name, quote), table.started.kind) + ", " +
         instant_bits(table, last_activity_expr(table, quote), last_activity_kind(table)) +
         ", NULL::pg_catalog.jsonb, " + reported_reason(reason, action) + ", " + action;
}

}  // namespace

std::vector<std::string> overwritten_columns(const RunTable& table) {
  std::vector<std::string> cols;
  if (table.finished) cols.push_back(table.finished->name);
  if (table.requeue && table.attempts_column) {
    cols.push_back(*table.attempts_column);
    if (table.activity) cols.push_back(table.activity->name);
  }
  return cols;
}

namespace {
std::string last_activity_of(const RunTable& table, Quoter quote, const char* alias) {
  if (!table.activity) return column(table.started.name, quote, alias);
  const TimeKind kind = last_activity_kind(table);
  return "GREATEST(" + time_as(table, table.started, kind, quote, alias) + ", " +
         time_as(table, *table.activity, kind, quote, alias) + ")";
}
}  // namespace

std::string last_activity_expr(const RunTable& table, Quoter quote) {
  return last_activity_of(table, quote, "t.");
}

std::string index_statement(const RunTable& table, const std::string& index_name, Quoter quote,
                            Quoter quote_literal, bool readable) {
  const std::string head = "CREATE INDEX IF NOT EXISTS " + quote(index_name) + " ON " +
                           table.qualified_name + " ((" + last_activity_of(table, quote, "") +
                           ")) WHERE " + quote(table.status_column);
  if (readable) {
    std::string labels;
    for (const auto& status : table.active_statuses) {
      labels += (labels.empty() ? "" : ", ") + quote_literal(status);
    }
    return head + " IN (" + labels + ")";
  }
  // DDL cannot take parameters: the labels go in as one array literal,
  // which takes the status column's type ("= ANY" of an untyped literal).
  std::string labels = "{";
  for (const auto& status : table.active_statuses) {
    if (labels.size() > 1) labels += ',';
    labels += '"';
    for (char c : status) {
      if (c == '"' || c == '\\') labels += '\\';
      labels += c;
    }
    labels += '"';
  }
  labels += '}';
  return head + op("=") + "ANY (" + quote_literal(labels) + ")";
}

std::string find_query(const RunTable& table, Claims claims, Quoter quote) {
  return "SELECT " +
         result_columns(table, quote, column(table.status_column, quote), "r.reason", "r.action") +
         ", t.* FROM " + stuck_from(table, claims, quote) + " WHERE " +
         stuck_where(table, claims, quote) + " ORDER BY " + last_activity_expr(table, quote) +
         ", 1";
}

std::string recover_query(const RunTable& table, Claims claims, Quoter quote, bool with_run) {
  const std::string id = column(table.id_column, quote);
  const std::string status = column(table.status_column, quote);
  const bool completes = table.progress_column && table.total_column;
  const bool requeues = table.requeue && table.attempts_column;

  std::string new_status = "$3";
  if (completes || requeues) {
    new_status =
        std::string("CASE") + (completes ? " WHEN s.action" + op("=") + "'complete' THEN $7" : "") +
        (requeues ? " WHEN s.action" + op("=") + "'requeue' THEN $8" : "") + " ELSE $3 END";
  }
  std::string set = quote(table.status_column) + " = " + new_status;
  if (table.finished) {
    const std::string finished = quote(table.finished->name);
    set +=
        ", " + finished + " = " +
        (requeues ? "CASE WHEN s.action" + op("=") + "'requeue' THEN t." + finished + " ELSE $4 END"
                  : std::string("$4"));
  }
  if (requeues) {
    const std::string attempts = quote(*table.attempts_column);
    // Every recovery counts as an attempt, whatever the action.
    set += ", " + attempts + " = COALESCE(t." + attempts + ", 0)" + op("+") + "1";
    if (table.activity) {
      const std::string activity = quote(table.activity->name);
      set += ", " + activity + " = CASE WHEN s.action" + op("=") + "'requeue' THEN $11 ELSE t." +
             activity + " END";
    }
  }

  // Before-values of the other columns written, for undo, keyed by column
  // name: the names come in as $12 (text[], overwritten_columns order).
  std::string previous = "pg_catalog.jsonb_build_object(";
  const auto overwritten = overwritten_columns(table);
  for (size_t n = 0; n < overwritten.size(); ++n) {
    previous += (n == 0 ? "" : ", ") + std::string("$12[") + std::to_string(n + 1) + "], " +
                column(overwritten[n], quote);
  }
  previous += ")";

  // Re-checked in the UPDATE: still active and still stuck for the same
  // reason (a run that completed, showed activity or was claimed since the
  // scan is never overwritten).
  std::string recheck = status + op("=") + "ANY ($1) AND ";
  if (plain(table, claims)) {
    recheck += timeout_predicate(table, quote);
  } else {
    recheck += "(s.reason" + op("<>") + "'timeout' OR (" + timeout_predicate(table, quote);
    if (claims == Claims::kConsult) {
      recheck += " AND NOT EXISTS (SELECT 1 FROM recovery.claims AS c2 WHERE c2.run_table" +
                 op("=") + "$10 AND c2.run_id" + op("=") + id + "::pg_catalog.text)";
    }
    recheck += "))";
  }

  // The CTE takes row locks oldest first and skips rows a live transaction
  // holds (NO KEY: an app inserting child rows only holds KEY SHARE, which
  // must not hide the run). The UPDATE finds each locked row again by its
  // TID (a locked row cannot move; one that a concurrent update moved after
  // this statement's snapshot is not found, so it is left alone) and
  // tableoid (TIDs repeat across partitions and inheritance children).
  return "WITH stuck AS (SELECT t.tableoid AS run_tableoid, t.ctid AS run_ctid, " + status +
         " AS previous_status, r.reason, r.action, " + previous + " AS previous_values FROM " +
         stuck_from(table, claims, quote) + " WHERE " + stuck_where(table, claims, quote) +
         " ORDER BY " + last_activity_expr(table, quote) +
         " LIMIT $5 FOR NO KEY UPDATE OF t SKIP LOCKED) UPDATE " + table.qualified_name +
         " AS t SET " + set + " FROM stuck AS s WHERE t.ctid" + op("=") +
         "s.run_ctid AND t.tableoid" + op("=") + "s.run_tableoid AND " + recheck + " RETURNING " +
         result_columns(table, quote, "s.previous_status", "s.reason", "s.action") + ", " + status +
         "::pg_catalog.text, s.previous_values" + (with_run ? ", t.*" : "");
}

std::string future_activity_query(const RunTable& table, Quoter quote) {
  return "SELECT 1 FROM " + table.qualified_name + " AS t WHERE " +
         column(table.status_column, quote) + op("=") + "ANY ($1) AND " +
         last_activity_expr(table, quote) + op(">") + "$2 LIMIT 1";
}

std::string exists_query(const RunTable& table, Claims claims, Quoter quote) {
  return "SELECT 1 FROM " + stuck_from(table, claims, quote) + " WHERE " +
         stuck_where(table, claims, quote) + " LIMIT 1";
}

std::string stuck_summary_query(const RunTable& table, Claims claims, Quoter quote) {
  return "SELECT pg_catalog.count(*)::pg_catalog.int4, pg_catalog.min(" +
         instant(table, last_activity_expr(table, quote), last_activity_kind(table)) + ") FROM " +
         stuck_from(table, claims, quote) + " WHERE " + stuck_where(table, claims, quote);
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
