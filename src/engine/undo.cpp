#include "engine/undo.hpp"

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"
#include "core/table_sql.hpp"
#include "engine/access.hpp"
#include "engine/history.hpp"
#include "engine/params.hpp"

namespace recovery::engine {

namespace {

using core::op;

struct HistoryRow {
  std::string run_table, run_id, previous_status, new_status, action;
  std::optional<std::string> previous_values;  // jsonb as text
  Oid relid = InvalidOid;                      // InvalidOid: the table is gone
};

// Read as the caller: history's row security shows it only rows of tables
// it may read.
HistoryRow read_history(int64 id) {
  if (pg::execute("SELECT run_table, run_id, previous_status, new_status, action, "
                  "previous_values::pg_catalog.text, COALESCE(run_table_oid, "
                  "pg_catalog.to_regclass(run_table)::pg_catalog.oid) "
                  "FROM recovery.history WHERE id" +
                      op("=") + "$1",
                  {pg::param(INT8OID, Int64GetDatum(id))}, false) == 0) {
    throw core::Error(core::sqlstate::kInvalidParameterValue,
                      "recovery.history has no row with id " + std::to_string(id), {},
                      "A row of a table you may not read is not shown to you either.");
  }
  return {pg::text_value(0, 1), pg::text_value(0, 2), pg::text_value(0, 3),
          pg::text_value(0, 4), pg::text_value(0, 5), pg::optional_text_value(0, 6),
          pg::oid_value(0, 7)};
}

}  // namespace

bool undo(int64 history_id) {
  const HistoryRow h = read_history(history_id);
  const std::string run = "run " + h.run_id + " of " + h.run_table;
  if (h.action == "undo") {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "history row " + std::to_string(history_id) + " is itself an undo", {},
                      "Undo the recovery it reverted again instead: recover the run.");
  }
  if (pg::execute("SELECT id FROM recovery.history WHERE run_table" + op("=") + "$1 AND run_id" +
                      op("=") + "$2 AND id" + op(">") + "$3 ORDER BY id LIMIT 1",
                  {pg::param(TEXTOID, pg::text_datum(h.run_table)),
                   pg::param(TEXTOID, pg::text_datum(h.run_id)),
                   pg::param(INT8OID, Int64GetDatum(history_id))},
                  false) > 0) {
    bool is_null = false;
    const int64 later = DatumGetInt64(pg::value(0, 1, &is_null));
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "cannot undo history row " + std::to_string(history_id) + ": " + run +
                          " has a later history row (" + std::to_string(later) + ")",
                      {}, "Only the latest recovery of a run can be undone.");
  }
  const Oid relid = h.relid;
  if (!OidIsValid(relid) || pg::relation_kind(relid) == '\0') {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "cannot undo history row " + std::to_string(history_id) + ": table " +
                          h.run_table + " no longer exists");
  }
  const auto table = registry::load_one(relid);
  if (!table) {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "cannot undo history row " + std::to_string(history_id) + ": table " +
                          h.run_table + " no longer fits its registration (see the warning)");
  }
  const registry::Watched& w = *table;
  require_read(w, false);
  if (!may_update(w)) {
    throw core::Error(core::sqlstate::kInsufficientPrivilege,
                      "permission denied to undo recoveries of table " + w.name, {},
                      "Only roles that may update the table may undo its recoveries.");
  }

  // Restore the status, and those other columns recovery wrote that the
  // table still has (from the history row's previous values).
  const core::Statement statement =
      core::undo_query(w.table, pg::equality_operator(w.id_type), pg::quote_ident);
  SlotValues values;
  values.run_id = h.run_id;
  values.restored_status = h.previous_status;
  values.recovered_status = h.new_status;
  values.previous_values = h.previous_values.value_or("{}");
  uint64 rows = 0;
  // The values go through the table's types (domain checks included).
  with_table_code(w, [&] { rows = execute(statement, w, values, false); });
  if (rows == 0) {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "cannot undo history row " + std::to_string(history_id) + ": " + run +
                          " is no longer " + h.new_status,
                      "Something changed it after the recovery; nothing was undone.");
  }
  history::Writer().write_undo(w, h.run_id, h.new_status, h.previous_status, history_id);
  return true;
}

}  // namespace recovery::engine
