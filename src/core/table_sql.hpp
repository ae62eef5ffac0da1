// Every statement recovery runs on an application's run table, built from
// its description (core/run_table.hpp) with core/statement.hpp's builder:
// each returns its text and the slots it binds, and the engine fills just
// those. All of it is qualified down to operators (core/sql_check.hpp).
// Pure C++: test/unit checks every shape.
#pragma once

#include <string>

#include "core/run_table.hpp"
#include "core/statement.hpp"

namespace recovery::core {

// Whether the statements consult recovery.claims (only when the table has
// claims: the plain timeout statement is the fast path).
enum class Claims { kIgnore, kConsult };

// SQL expression of the last activity of row alias `t`.
std::string last_activity_expr(const RunTable& table, Quoter quote);

// A stuck run has a reason: owner_gone (its claiming session ended),
// instance_restarted, instance_stopped or instance_gone (the app instance
// incarnation that claimed it was superseded, stopped, or let its lease
// lapse; Slot::kEndedIncarnations names those), timeout (unclaimed, no
// activity since the cutoff) or max_runtime, and an action: complete
// (progress reached a positive total), requeue (attempts left) or fail. The
// reason reported for complete and requeue is progress_complete and requeued.
//
// Both select lists start with the same seven columns:
//   run_id text, status text, started (timestamptz), last activity
//   (timestamptz), run (NULL jsonb: the engine builds it from the row),
//   reason text, action text
// find_query returns them for every stuck row, oldest first, then the row's
// own columns (t.*, from column kFindRowColumn on).
inline constexpr int kFindRowColumn = 8;
Statement find_query(const RunTable& table, Claims claims, Quoter quote);

// recover_query locks stuck rows (SKIP LOCKED), re-checks status and the
// reason in the UPDATE itself, and returns the seven columns above for each
// updated row (status being the previous one), then: new status text and the
// previous values of the other columns it wrote (jsonb), then with
// `with_run` the row's own columns (t.*, from column kRecoverRowColumn on):
// callers that discard the rows do not pay for the row.
inline constexpr int kRecoverRowColumn = 10;
Statement recover_query(const RunTable& table, Claims claims, Quoter quote, bool with_run = true);

// One row if an active run's last activity lies after the cutoff (the caller
// passes now plus a minute), which a wrong time_zone east of UTC produces.
// Such a run is never stuck by timeout; the table deserves a warning.
Statement future_activity_query(const RunTable& table, Quoter quote);

// One row if the table has any stuck run (for the privilege pre-check).
Statement exists_query(const RunTable& table, Claims claims, Quoter quote);

// One row: how many runs are stuck now (int4) and the oldest last activity
// among them (timestamptz, NULL when none): the find statement's rows,
// counted (recovery.table_status()).
Statement stuck_summary_query(const RunTable& table, Claims claims, Quoter quote);

// The id of one run as the table prints it (claims key on that text), if it
// exists, row-locked: a row lock needs UPDATE rights, and row-level security
// applies the table's UPDATE policies to it. `id_equality` is the id type's
// own equality, OPERATOR(schema.=), so '1.5' finds 1.50 and citext ignores
// case. For a claim (`for_claim`) the run must be active and is locked FOR
// SHARE, which a recovery's FOR NO KEY UPDATE conflicts with both ways: a
// recovery that already locked the run is waited for (the run is then
// failed, so not claimed), and one that comes later skips it until the
// claim commits. A release only reads the id: FOR KEY SHARE, which waits
// for nobody but a key change.
Statement claim_lookup_query(const RunTable& table, const std::string& id_equality, bool for_claim,
                             Quoter quote);

// The table's claims whose runs are no longer active (or gone): run id and
// claimed_at, so that exactly these rows, as this one snapshot saw them, are
// deleted (instance_sql::forget_seen_claims); a claim committed after it is
// not among them. Alias c is recovery.claims; `id_type` is the id's
// schema-qualified type, to read the claim's text key as an id.
Statement finished_claims_query(const RunTable& table, const std::string& id_equality,
                                const std::string& id_type, Quoter quote);

// undo: puts back the status and those overwritten columns whose previous
// values the history row has, for the run that still has the status
// recovery gave it. Returns no rows.
Statement undo_query(const RunTable& table, const std::string& id_equality, Quoter quote);

// The partial index that serves the stuck-run predicate: active rows only,
// keyed by last activity, so finding stuck runs reads only active rows.
// `readable` writes the predicate as "IN (...)" for a person to copy (their
// own session resolves it); recovery runs the qualified form. DDL takes no
// parameters: the statuses are literals (`quote_literal`).
std::string index_statement(const RunTable& table, const std::string& index_name, Quoter quote,
                            Quoter quote_literal, bool readable = false);

}  // namespace recovery::core
