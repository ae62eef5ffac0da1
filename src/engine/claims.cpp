#include "engine/claims.hpp"

#include "bridge/backend.hpp"
#include "bridge/spi.hpp"
#include "core/error.hpp"
#include "engine/access.hpp"
#include "worker/shared_state.hpp"

extern "C" {
#include "commands/dbcommands.h"
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/backend_status.h"
}

namespace recovery::claims {

namespace {

// The worker slot of this backend's database, once this backend has claimed
// a run; -1 before. Read by the exit callback.
int g_worker_slot = -1;
bool g_exit_hook = false;

// Called by PostgreSQL as this backend exits (C code: must not throw): tells
// the database's worker, which recovers the claimed runs at once instead of
// one naptime later.
void on_claimer_exit(int, Datum) {
  if (g_worker_slot >= 0) shared::report_exit(g_worker_slot, MyProcPid);
}

void watch_own_exit() {
  if (g_exit_hook) return;
  const char* db = pg::guard([] { return get_database_name(MyDatabaseId); });
  g_worker_slot = db != nullptr ? shared::slot_of(db) : -1;
  pg::guard([] { before_shmem_exit(on_claimer_exit, 0); });
  g_exit_hook = true;
}

Oid claims_owner() { return pg::relation_owner(pg::recovery_table("claims")); }

registry::Watched writable_table(Oid relid, const char* verb) {
  auto tables = registry::load(relid);
  if (tables.empty()) {
    throw Error(sqlstate::kObjectNotInPrerequisiteState,
                "watched table " + pg::relation_name(relid).value_or(std::to_string(relid)) +
                    " cannot be used: see the warning above");
  }
  registry::Watched w = std::move(tables.front());
  if (!engine::may_update(w)) {
    throw Error(sqlstate::kInsufficientPrivilege,
                std::string("permission denied to ") + verb + " runs of table " + w.name, {},
                "Only roles that may update the table may claim or release its runs.");
  }
  return w;
}

}  // namespace

bool claim(Oid relid, const std::string& run_id) {
  const registry::Watched w = writable_table(relid, "claim");
  const core::RunTable& t = w.table;
  // Looked up as the caller would read it (privileges, row security), in the
  // id column's own type so its index serves and '007' finds 7.
  std::optional<std::string> canonical;
  engine::with_table_code_user(w, [&] {
    const uint64 rows =
        pg::execute("SELECT t." + pg::quote_ident(t.id_column) + "::pg_catalog.text FROM " +
                        w.name + " AS t WHERE t." + pg::quote_ident(t.id_column) + " = $1 AND t." +
                        pg::quote_ident(t.status_column) + " = ANY ($2)",
                    {pg::param(w.id_type, pg::typed_datum(w.id_type, run_id)),
                     pg::param(pg::array_type_of(w.status_type),
                               pg::array_datum(t.active_statuses, w.status_type))},
                    false);
    if (rows > 0) canonical = pg::text_value(0, 1);
  });
  if (!canonical) return false;

  const std::vector<pg::Param> params = {
      pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
      pg::param(TEXTOID, pg::text_datum(*canonical)),
      pg::param(INT4OID, Int32GetDatum(MyProcPid)),
      pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(MyStartTimestamp)),
      pg::param(TEXTOID, pg::text_datum(pg::current_role_name())),
  };
  pg::as_role(claims_owner(), [&] {
    pg::execute(
        "INSERT INTO recovery.claims (run_table, run_id, backend_pid, backend_start, claimed_by) "
        "VALUES ($1, $2, $3, $4, $5::pg_catalog.name) ON CONFLICT (run_table, run_id) DO UPDATE "
        "SET backend_pid = EXCLUDED.backend_pid, backend_start = EXCLUDED.backend_start, "
        "claimed_at = pg_catalog.now(), claimed_by = EXCLUDED.claimed_by",
        params, false);
  });
  watch_own_exit();
  return true;
}

bool release(Oid relid, const std::string& run_id) {
  const registry::Watched w = writable_table(relid, "release");
  const std::string canonical = pg::canonical_text(w.id_type, run_id);
  uint64 rows = 0;
  pg::as_role(claims_owner(), [&] {
    rows = pg::execute("DELETE FROM recovery.claims WHERE run_table = $1 AND run_id = $2",
                       {pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
                        pg::param(TEXTOID, pg::text_datum(canonical))},
                       false);
  });
  return rows > 0;
}

bool backend_alive(int32 pid, TimestampTz started) {
  if (started < PgStartTime) return false;  // the server restarted since
  return pg::guard([&] {
    // The backend status table, as of this transaction's first look.
    const int count = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= count; ++i) {
      LocalPgBackendStatus* entry = compat::local_backend_status(i);
      if (entry != nullptr && entry->backendStatus.st_procpid == pid) {
        return entry->backendStatus.st_proc_start_timestamp == started;
      }
    }
    return false;
  });
}

bool table_has_claims(Oid relid) {
  return pg::execute("SELECT 1 FROM recovery.claims WHERE run_table = $1 LIMIT 1",
                     {pg::param(REGCLASSOID, ObjectIdGetDatum(relid))}, false) > 0;
}

void forget(Oid relid, const std::vector<Datum>& run_ids) {
  if (run_ids.empty()) return;
  pg::as_role(claims_owner(), [&] {
    pg::execute("DELETE FROM recovery.claims WHERE run_table = $1 AND run_id = ANY ($2)",
                {pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
                 pg::param(TEXTARRAYOID, pg::array_of(run_ids, {}, TEXTOID))},
                false);
  });
}

uint64 forget_finished(const registry::Watched& w) {
  if (!table_has_claims(w.relid)) return 0;
  const core::RunTable& t = w.table;
  // Which claimed runs are still active: read as the table's code user.
  std::vector<std::string> active;
  engine::with_table_code_user(w, [&] {
    const uint64 rows = pg::execute(
        "SELECT c.run_id FROM recovery.claims AS c WHERE c.run_table = $1 AND EXISTS (SELECT 1 "
        "FROM " +
            w.name + " AS t WHERE t." + pg::quote_ident(t.id_column) + " = CAST(c.run_id AS " +
            pg::type_name(w.id_type) + ") AND t." + pg::quote_ident(t.status_column) +
            " = ANY ($2))",
        {pg::param(REGCLASSOID, ObjectIdGetDatum(w.relid)),
         pg::param(pg::array_type_of(w.status_type),
                   pg::array_datum(t.active_statuses, w.status_type))},
        false);
    for (uint64 row = 0; row < rows; ++row) active.push_back(pg::text_value(row, 1));
  });
  uint64 deleted = 0;
  pg::as_role(claims_owner(), [&] {
    deleted = pg::execute(
        // Claims made since this transaction began are left for next time.
        "DELETE FROM recovery.claims WHERE run_table = $1 AND run_id <> ALL ($2) "
        "AND claimed_at < $3",
        {pg::param(REGCLASSOID, ObjectIdGetDatum(w.relid)),
         pg::param(TEXTARRAYOID, pg::text_array_datum(active)),
         pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(GetCurrentTransactionStartTimestamp()))},
        false);
  });
  return deleted;
}

}  // namespace recovery::claims
