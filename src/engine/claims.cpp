#include "engine/claims.hpp"

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"
#include "core/instance_sql.hpp"
#include "core/table_sql.hpp"
#include "engine/access.hpp"
#include "engine/instances.hpp"
#include "engine/params.hpp"

extern "C" {
#include "pgstat.h"
#include "storage/ipc.h"
#include "utils/backend_status.h"
}

namespace recovery::engine::claims {

namespace {

using core::op;
namespace isql = core::instance_sql;

ExitListener g_listener = nullptr;
bool g_exit_hook = false;

// Called by PostgreSQL as this backend exits (C code: must not throw): tells
// the listener (the database's worker), which recovers the claimed runs at
// once instead of one naptime later.
void on_claimer_exit(int, Datum) {
  if (g_listener != nullptr) g_listener(MyDatabaseId, MyProcPid);
}

void watch_own_exit() {
  if (g_exit_hook || g_listener == nullptr) return;
  pg::guard([] { before_shmem_exit(on_claimer_exit, 0); });
  g_exit_hook = true;
}

// A run may be claimed or released only by a role that may update it.
registry::Watched writable_table(Oid relid, const char* verb) {
  auto table = registry::load_one(relid);
  if (!table) {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "watched table " + pg::relation_name(relid).value_or(std::to_string(relid)) +
                          " cannot be used: see the warning above");
  }
  if (!engine::may_update(*table)) {
    throw core::Error(core::sqlstate::kInsufficientPrivilege,
                      std::string("permission denied to ") + verb + " runs of table " + table->name,
                      {}, "Only roles that may update the table may claim or release its runs.");
  }
  engine::require_read(*table, false);
  return std::move(*table);
}

// The id of run `run_id` as the table prints it (claims key on that text),
// if the run exists (and, `for_claim`, is active: locked so that it and a
// recovery exclude each other, see core::claim_lookup_query). Compared as
// the id type compares ('1.5' finds 1.50, citext ignores case), through the
// type's own equality. The row lock needs UPDATE rights, and row-level
// security applies the table's UPDATE policies to it, so a run the caller
// may not update is not found. Runs as the table's code.
std::optional<std::string> stored_id(const registry::Watched& w, const std::string& run_id,
                                     bool for_claim) {
  const core::Statement statement = core::claim_lookup_query(
      w.table, pg::equality_operator(w.id_type), for_claim, pg::quote_ident);
  engine::SlotValues values;
  values.run_id = run_id;
  std::optional<std::string> found;
  engine::with_table_code(w, [&] {
    if (engine::execute(statement, w, values, false) > 0) found = pg::text_value(0, 1);
  });
  return found;
}

}  // namespace

void set_exit_listener(ExitListener listener) { g_listener = listener; }

bool claim(Oid relid, const std::string& run_id, const std::optional<std::string>& instance) {
  const registry::Watched w = writable_table(relid, "claim");
  // An instance's claim: its incarnation must be live and the caller's.
  std::optional<int64> incarnation;
  if (instance) {
    incarnation = instances::live_incarnation(*instance);
    if (!incarnation) return false;
  }
  const std::optional<std::string> id = stored_id(w, run_id, true);
  if (!id) return false;

  const std::vector<pg::Param> params = {
      pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
      pg::param(TEXTOID, pg::text_datum(*id)),
      pg::param(INT4OID, Int32GetDatum(MyProcPid)),
      pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(MyStartTimestamp)),
      pg::param(TEXTOID, pg::text_datum(pg::current_role_name())),
      incarnation ? pg::param(INT8OID, Int64GetDatum(*incarnation)) : pg::null_param(INT8OID),
  };
  uint64 rows = 0;
  pg::as_recovery_owner([&] {
    // A live claim of another owner is never taken over.
    rows = pg::execute(isql::claim_upsert(), params, false);
  });
  if (rows == 0) return false;
  if (!incarnation) watch_own_exit();
  return true;
}

bool release(Oid relid, const std::string& run_id) {
  const registry::Watched w = writable_table(relid, "release");
  // The claim's key as the table prints the id; for a run deleted since,
  // the id's own canonical text.
  std::optional<std::string> id = stored_id(w, run_id, false);
  std::string canonical;
  engine::with_table_code(w, [&] { canonical = pg::canonical_text(w.id_type, run_id); });
  const std::vector<pg::Param> params = {
      pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
      pg::param(TEXTARRAYOID, pg::array_of({id.value_or(canonical), canonical}, TEXTOID)),
      pg::param(INT4OID, Int32GetDatum(MyProcPid)),
      pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(MyStartTimestamp)),
      // Another session's claim: only the table's owner (or a superuser) ends it.
      pg::param(BOOLOID, BoolGetDatum(engine::has_owner_privileges(w))),
      pg::param(TEXTOID, pg::text_datum(pg::current_role_name())),
  };
  uint64 rows = 0;
  pg::as_recovery_owner([&] { rows = pg::execute(isql::release_delete(), params, false); });
  return rows > 0;
}

bool backend_alive(int32 pid, TimestampTz started) {
  if (started < PgStartTime) return false;  // the server restarted since
  return pg::guard([&] {
    // The backend status table, as of this transaction's first look.
    const int count = pgstat_fetch_stat_numbackends();
    for (int i = 1; i <= count; ++i) {
      LocalPgBackendStatus* entry = pg::compat::local_backend_status(i);
      if (entry != nullptr && entry->backendStatus.st_procpid == pid) {
        return entry->backendStatus.st_proc_start_timestamp == started;
      }
    }
    return false;
  });
}

bool end_session_claims() {
  if (!g_exit_hook) return false;  // this session never claimed
  const bool have_claims = pg::guard([] {
    const Oid nsp = get_namespace_oid("recovery", true);
    return OidIsValid(nsp) && OidIsValid(get_relname_relid("claims", nsp));
  });
  if (!have_claims) return false;
  uint64 rows = 0;
  const std::vector<pg::Param> params = {
      pg::param(INT4OID, Int32GetDatum(MyProcPid)),
      pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(MyStartTimestamp))};
  pg::SpiConnection spi;
  pg::as_recovery_owner([&] { rows = pg::execute(isql::end_session_claims(), params, false); });
  spi.finish();
  return rows > 0;
}

bool table_has_claims(Oid relid) {
  uint64 rows = 0;
  pg::as_recovery_owner([&] {
    rows = pg::execute("SELECT 1 FROM recovery.claims WHERE run_table" + op("=") + "$1 LIMIT 1",
                       {pg::param(REGCLASSOID, ObjectIdGetDatum(relid))}, false);
  });
  return rows > 0;
}

TableClaims table_claims(Oid relid, bool fence) {
  TableClaims claims;
  const std::vector<pg::Param> table = {pg::param(REGCLASSOID, ObjectIdGetDatum(relid))};
  pg::as_recovery_owner([&] {
    pg::execute(isql::table_claims(fence), table, false);
    if (fence && pg::bool_value(0, 2)) {
      // The fence is a statement of its own, so the read after it sees what
      // it left (the renewals it yielded to included).
      pg::execute(isql::end_lapsed(), table, false);
      pg::execute(isql::table_claims(fence), table, false);
    }
    claims.any = pg::bool_value(0, 1);
    if (auto ended = pg::optional_text_value(0, 3)) claims.ended = *ended;
  });
  return claims;
}

void forget(Oid relid, const std::vector<Datum>& run_ids) {
  if (run_ids.empty()) return;
  const std::vector<pg::Param> params = {
      pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
      pg::param(TEXTARRAYOID, pg::array_of(run_ids, {}, TEXTOID))};
  pg::as_recovery_owner([&] {
    pg::execute("DELETE FROM recovery.claims WHERE run_table" + op("=") + "$1 AND run_id" +
                    op("=") + "ANY ($2)",
                params, false);
  });
}

void forget_dropped_tables() {
  // DROP EXTENSION drops recovery.claims itself: nothing left to do then.
  const bool have_claims = pg::guard([] {
    const Oid nsp = get_namespace_oid("recovery", true);
    return OidIsValid(nsp) && OidIsValid(get_relname_relid("claims", nsp));
  });
  if (!have_claims) return;
  const uint64 rows = pg::execute(
      "SELECT pg_catalog.array_agg(objid) FROM pg_catalog.pg_event_trigger_dropped_objects() "
      "WHERE classid" +
          op("=") + "'pg_catalog.pg_class'::pg_catalog.regclass AND objsubid" + op("=") + "0",
      {}, false);
  bool is_null = true;
  const Datum dropped = rows > 0 ? pg::value(0, 1, &is_null) : static_cast<Datum>(0);
  if (is_null) return;
  pg::as_recovery_owner([&] {
    pg::execute(
        "DELETE FROM recovery.claims WHERE run_table::pg_catalog.oid" + op("=") + "ANY ($1)",
        {pg::param(pg::array_type_of(OIDOID), dropped)}, false);
  });
}

uint64 forget_finished(const registry::Watched& w) {
  if (!table_has_claims(w.relid)) return 0;
  // Which claims are over, judged by one snapshot as the table's code; a
  // claim committed after it (its run unseen then) is not among them.
  const core::Statement statement =
      core::finished_claims_query(w.table, pg::equality_operator(w.id_type),
                                  pg::qualified_type_name(w.id_type), pg::quote_ident);
  uint64 finished = 0;
  Datum run_ids = 0;
  Datum claimed_at = 0;
  engine::with_table_code(w, [&] {
    finished = engine::execute(statement, w, {}, false);
    std::vector<Datum> ids;
    std::vector<Datum> times;
    for (uint64 row = 0; row < finished; ++row) {
      bool is_null = false;
      ids.push_back(pg::value(row, 1, &is_null));
      times.push_back(pg::value(row, 2, &is_null));
    }
    // Built while the rows they point into are there.
    run_ids = pg::array_of(ids, {}, TEXTOID);
    claimed_at = pg::array_of(times, {}, TIMESTAMPTZOID);
  });
  if (finished == 0) return 0;
  uint64 deleted = 0;
  const std::vector<pg::Param> params = {pg::param(REGCLASSOID, ObjectIdGetDatum(w.relid)),
                                         pg::param(TEXTARRAYOID, run_ids),
                                         pg::param(pg::array_type_of(TIMESTAMPTZOID), claimed_at)};
  pg::as_recovery_owner([&] { deleted = pg::execute(isql::forget_seen_claims(), params, false); });
  return deleted;
}

}  // namespace recovery::engine::claims
