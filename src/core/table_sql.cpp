#include "core/table_sql.hpp"

namespace recovery::core {

namespace {

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
std::string time_as(const RunTable& table, const Builder& b, const TimeColumn& col, TimeKind target,
                    const char* alias) {
  if (col.kind == target) return b.column(col.name, alias);
  return instant(table, b.column(col.name, alias), col.kind);
}

std::string last_activity_of(const RunTable& table, const Builder& b, const char* alias = "t.") {
  if (!table.activity) return b.column(table.started.name, alias);
  const TimeKind kind = last_activity_kind(table);
  return "GREATEST(" + time_as(table, b, table.started, kind, alias) + ", " +
         time_as(table, b, *table.activity, kind, alias) + ")";
}

// The plain timeout rule; the whole predicate when no claims are consulted
// and there is no max_runtime (the indexable fast path).
std::string timeout_predicate(const RunTable& table, Builder& b) {
  return last_activity_of(table, b) + op("<") + b.bind(Slot::kCutoff);
}

bool plain(const RunTable& table, Claims claims) {
  return claims == Claims::kIgnore && !table.has_max_runtime;
}

// Why a row of alias t (claims alias c) is stuck, or NULL.
std::string reason_expr(const RunTable& table, Claims claims, Builder& b) {
  if (plain(table, claims)) return "'timeout'::pg_catalog.text";
  std::string e = "CASE";
  if (claims == Claims::kConsult) {
    // An instance's claim is dead when the ended incarnations (reasons by
    // id) name its incarnation; a session's when its backend is gone.
    const std::string ended = "pg_catalog.jsonb_extract_path_text(" +
                              b.bind(Slot::kEndedIncarnations) +
                              "::pg_catalog.jsonb, c.incarnation::pg_catalog.text)";
    e += " WHEN c.incarnation IS NOT NULL AND " + ended + " IS NOT NULL THEN " + ended +
         " WHEN c.run_id IS NOT NULL AND c.incarnation IS NULL AND NOT "
         "recovery.backend_alive(c.backend_pid, c.backend_start) THEN 'owner_gone' WHEN "
         "c.run_id IS NULL AND " +
         timeout_predicate(table, b) + " THEN 'timeout'";
  } else {
    e += " WHEN " + timeout_predicate(table, b) + " THEN 'timeout'";
  }
  if (table.has_max_runtime) {
    e += " WHEN " + b.column(table.started.name) + op("<") + b.bind(Slot::kMaxRuntimeCutoff) +
         " THEN 'max_runtime'";
  }
  return e + " END";
}

// What recovery does with a stuck row of alias t.
std::string action_expr(const RunTable& table, Builder& b) {
  std::string e = "CASE";
  if (table.progress_column && table.total_column) {
    e += " WHEN " + b.column(*table.total_column) + op(">") + "0 AND " +
         b.column(*table.progress_column) + op(">=") + b.column(*table.total_column) +
         " THEN 'complete'";
  }
  if (table.requeue && table.attempts_column) {
    e += " WHEN (COALESCE(" + b.column(*table.attempts_column) + ", 0)" + op("+") + "1)" + op("<") +
         b.bind(Slot::kMaxAttempts) + " THEN 'requeue'";
  }
  if (e == "CASE") return "'fail'::pg_catalog.text";
  return e + " ELSE 'fail' END";
}

std::string active(const RunTable& table, Builder& b, const char* alias = "t.") {
  return b.column(table.status_column, alias) + op("=") + "ANY (" + b.bind(Slot::kActiveStatuses) +
         ")";
}

// The claims of the table (alias `alias`) on the run of row alias t.
std::string claim_of_run(const RunTable& table, Builder& b, const char* alias) {
  const std::string a = alias;
  return a + ".run_table" + op("=") + b.bind(Slot::kRunTable) + " AND " + a + ".run_id" + op("=") +
         b.column(table.id_column) + "::pg_catalog.text";
}

// FROM and WHERE shared by find, exists, the summary and the recover CTE:
// the table, its claims if consulted, r(reason, action), and the stuck rows.
std::string stuck_rows(const RunTable& table, Claims claims, Builder& b) {
  std::string from = table.qualified_name + " AS t";
  if (claims == Claims::kConsult) {
    from += " LEFT JOIN recovery.claims AS c ON " + claim_of_run(table, b, "c");
  }
  // Bound in the order the text reads: the active statuses first.
  const std::string where = active(table, b);
  from += " CROSS JOIN LATERAL (SELECT " + reason_expr(table, claims, b) + " AS reason, " +
          action_expr(table, b) + " AS action) AS r";
  if (plain(table, claims)) return from + " WHERE " + where + " AND " + timeout_predicate(table, b);
  return from + " WHERE " + where + " AND r.reason IS NOT NULL";
}

// The reason as reported: complete and requeue name themselves.
std::string reported_reason(const std::string& reason, const std::string& action) {
  return "CASE WHEN " + action + op("=") + "'complete' THEN 'progress_complete' WHEN " + action +
         op("=") + "'requeue' THEN 'requeued' ELSE " + reason + " END";
}

// The seven leading result columns, with `status` naming where the status is
// read. The run (column 5) is NULL here: the engine builds it from the row's
// own columns, t.* at the end of the select list (engine/run_json.hpp).
std::string result_columns(const RunTable& table, Builder& b, const std::string& status,
                           const std::string& reason, const std::string& action) {
  return b.column(table.id_column) + "::pg_catalog.text, " + status + "::pg_catalog.text, " +
         instant_bits(table, b.column(table.started.name), table.started.kind) + ", " +
         instant_bits(table, last_activity_of(table, b), last_activity_kind(table)) +
         ", NULL::pg_catalog.jsonb, " + reported_reason(reason, action) + ", " + action;
}

// SET of the recover UPDATE: the new status, and the columns written with it.
std::string recover_set(const RunTable& table, Builder& b) {
  const bool completes = table.progress_column && table.total_column;
  const bool requeues = table.requeue && table.attempts_column;
  std::string new_status = b.bind(Slot::kFailedStatus);
  if (completes || requeues) {
    std::string when;
    if (completes) {
      when += " WHEN s.action" + op("=") + "'complete' THEN " + b.bind(Slot::kCompletedStatus);
    }
    if (requeues) {
      when += " WHEN s.action" + op("=") + "'requeue' THEN " + b.bind(Slot::kRequeueStatus);
    }
    new_status = "CASE" + when + " ELSE " + new_status + " END";
  }
  std::string set = b.ident(table.status_column) + " = " + new_status;
  if (table.finished) {
    const std::string finished = b.ident(table.finished->name);
    const std::string now = b.bind(Slot::kFinishedNow);
    set += ", " + finished + " = " +
           (requeues ? "CASE WHEN s.action" + op("=") + "'requeue' THEN t." + finished + " ELSE " +
                           now + " END"
                     : now);
  }
  if (requeues) {
    const std::string attempts = b.ident(*table.attempts_column);
    // Every recovery counts as an attempt, whatever the action.
    set += ", " + attempts + " = COALESCE(t." + attempts + ", 0)" + op("+") + "1";
    if (table.activity) {
      const std::string activity = b.ident(table.activity->name);
      set += ", " + activity + " = CASE WHEN s.action" + op("=") + "'requeue' THEN " +
             b.bind(Slot::kActivityNow) + " ELSE t." + activity + " END";
    }
  }
  return set;
}

// Before-values of the other columns written, for undo, keyed by column
// name (the names are bound as one text[], overwritten_columns order).
std::string previous_values(const RunTable& table, Builder& b) {
  const auto overwritten = overwritten_columns(table);
  if (overwritten.empty()) return "'{}'::pg_catalog.jsonb";
  const std::string names = b.bind(Slot::kOverwrittenNames);
  std::string previous = "pg_catalog.jsonb_build_object(";
  for (size_t n = 0; n < overwritten.size(); ++n) {
    previous += (n == 0 ? "" : ", ") + names + "[" + std::to_string(n + 1) + "], " +
                b.column(overwritten[n]);
  }
  return previous + ")";
}

}  // namespace

std::string last_activity_expr(const RunTable& table, Quoter quote) {
  return last_activity_of(table, Builder(quote));
}

std::string index_statement(const RunTable& table, const std::string& index_name, Quoter quote,
                            Quoter quote_literal, bool readable) {
  const Builder b(quote);
  const std::string head = "CREATE INDEX IF NOT EXISTS " + b.ident(index_name) + " ON " +
                           table.qualified_name + " ((" + last_activity_of(table, b, "") +
                           ")) WHERE " + b.ident(table.status_column);
  if (readable) {
    std::string labels;
    for (const auto& status : table.active_statuses) {
      labels += (labels.empty() ? "" : ", ") + quote_literal(status);
    }
    return head + " IN (" + labels + ")";
  }
  // The labels go in as one array literal, which takes the status column's
  // type ("= ANY" of an untyped literal).
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

Statement find_query(const RunTable& table, Claims claims, Quoter quote) {
  Builder b(quote);
  const std::string columns =
      result_columns(table, b, b.column(table.status_column), "r.reason", "r.action");
  const std::string rows = stuck_rows(table, claims, b);
  return b.finish("SELECT " + columns + ", t.* FROM " + rows + " ORDER BY " +
                  last_activity_of(table, b) + ", 1");
}

Statement recover_query(const RunTable& table, Claims claims, Quoter quote, bool with_run) {
  Builder b(quote);
  const std::string status = b.column(table.status_column);
  // The CTE takes row locks oldest first and skips rows a live transaction
  // holds (NO KEY: an app inserting child rows only holds KEY SHARE, which
  // must not hide the run).
  const std::string previous = previous_values(table, b);
  std::string rows = stuck_rows(table, claims, b);
  if (claims == Claims::kIgnore) {
    // Claims were left out because an earlier statement saw none: a first
    // claim committed since stops this one (a one-time check), and the next
    // call consults it.
    rows += " AND NOT EXISTS (SELECT 1 FROM recovery.claims AS c WHERE c.run_table" + op("=") +
            b.bind(Slot::kRunTable) + ")";
  }
  const std::string cte = "WITH stuck AS (SELECT t.tableoid AS run_tableoid, t.ctid AS run_ctid, " +
                          status + " AS previous_status, r.reason, r.action, " + previous +
                          " AS previous_values FROM " + rows + " ORDER BY " +
                          last_activity_of(table, b) + " LIMIT " + b.bind(Slot::kMaxRows) +
                          " FOR NO KEY UPDATE OF t SKIP LOCKED)";
  const std::string set = recover_set(table, b);

  // Re-checked in the UPDATE: still active and still stuck for the same
  // reason (a run that completed, showed activity or was claimed since the
  // scan is never overwritten).
  std::string recheck = active(table, b) + " AND ";
  if (plain(table, claims)) {
    recheck += timeout_predicate(table, b);
  } else {
    recheck += "(s.reason" + op("<>") + "'timeout' OR (" + timeout_predicate(table, b);
    if (claims == Claims::kConsult) {
      recheck += " AND NOT EXISTS (SELECT 1 FROM recovery.claims AS c2 WHERE " +
                 claim_of_run(table, b, "c2") + ")";
    }
    recheck += "))";
  }
  const std::string returning =
      result_columns(table, b, "s.previous_status", "s.reason", "s.action");

  // The UPDATE finds each locked row again by its TID (a locked row cannot
  // move; one that a concurrent update moved after this statement's
  // snapshot is not found, so it is left alone) and tableoid (TIDs repeat
  // across partitions and inheritance children).
  return b.finish(cte + " UPDATE " + table.qualified_name + " AS t SET " + set +
                  " FROM stuck AS s WHERE t.ctid" + op("=") + "s.run_ctid AND t.tableoid" +
                  op("=") + "s.run_tableoid AND " + recheck + " RETURNING " + returning + ", " +
                  status + "::pg_catalog.text, s.previous_values" + (with_run ? ", t.*" : ""));
}

Statement future_activity_query(const RunTable& table, Quoter quote) {
  Builder b(quote);
  const std::string where = active(table, b);
  return b.finish("SELECT 1 FROM " + table.qualified_name + " AS t WHERE " + where + " AND " +
                  last_activity_of(table, b) + op(">") + b.bind(Slot::kCutoff) + " LIMIT 1");
}

Statement exists_query(const RunTable& table, Claims claims, Quoter quote) {
  Builder b(quote);
  const std::string rows = stuck_rows(table, claims, b);
  return b.finish("SELECT 1 FROM " + rows + " LIMIT 1");
}

Statement stuck_summary_query(const RunTable& table, Claims claims, Quoter quote) {
  Builder b(quote);
  const std::string oldest = instant(table, last_activity_of(table, b), last_activity_kind(table));
  const std::string rows = stuck_rows(table, claims, b);
  return b.finish("SELECT pg_catalog.count(*)::pg_catalog.int4, pg_catalog.min(" + oldest +
                  ") FROM " + rows);
}

Statement claim_lookup_query(const RunTable& table, const std::string& id_equality, bool for_claim,
                             Quoter quote) {
  Builder b(quote);
  const std::string id = b.column(table.id_column);
  std::string sql = "SELECT " + id + "::pg_catalog.text FROM " + table.qualified_name +
                    " AS t WHERE " + id + " " + id_equality + " " + b.bind(Slot::kRunId);
  if (!for_claim) return b.finish(sql + " FOR KEY SHARE OF t");
  return b.finish(sql + " AND " + active(table, b) + " FOR SHARE OF t");
}

Statement finished_claims_query(const RunTable& table, const std::string& id_equality,
                                const std::string& id_type, Quoter quote) {
  Builder b(quote);
  const std::string of_table = "c.run_table" + op("=") + b.bind(Slot::kRunTable);
  return b.finish("SELECT c.run_id, c.claimed_at FROM recovery.claims AS c WHERE " + of_table +
                  " AND NOT EXISTS (SELECT 1 FROM " + table.qualified_name + " AS t WHERE " +
                  b.column(table.id_column) + " " + id_equality + " c.run_id::" + id_type +
                  " AND " + active(table, b) + ")");
}

namespace {

// ", col = the previous value if the history row recorded one, else as is".
std::string restore_column(const std::string& col, const std::string& has_key, size_t n) {
  return ", " + col + " = CASE WHEN " + has_key + "[" + std::to_string(n) + "] THEN r." + col +
         " ELSE t." + col + " END";
}

}  // namespace

Statement undo_query(const RunTable& table, const std::string& id_equality, Quoter quote) {
  Builder b(quote);
  std::string set = b.ident(table.status_column) + " = " + b.bind(Slot::kRestoredStatus);
  const std::string values = b.bind(Slot::kPreviousValues);
  const auto columns = overwritten_columns(table);
  if (!columns.empty()) {
    // The history row has a key: names[n] of the overwritten names.
    const std::string has_key = values + op("?") + b.bind(Slot::kOverwrittenNames);
    for (size_t n = 0; n < columns.size(); ++n) {
      // Only keys the history row has: a column it did not record stays as is.
      set += restore_column(b.ident(columns[n]), has_key, n + 1);
    }
  }
  // The values go through jsonb_populate_record of the table's row type:
  // the table's types (domain checks included) judge them.
  return b.finish("UPDATE " + table.qualified_name + " AS t SET " + set +
                  " FROM pg_catalog.jsonb_populate_record(NULL::" + table.qualified_name + ", " +
                  values + ") AS r WHERE " + b.column(table.id_column) + " " + id_equality + " " +
                  b.bind(Slot::kRunId) + " AND " + b.column(table.status_column) + op("=") +
                  b.bind(Slot::kRecoveredStatus));
}

}  // namespace recovery::core
