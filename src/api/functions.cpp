// SQL-facing entry points: argument reading and result shaping only. The
// work is done by the registry and the engine.
#include "pg/datum.hpp"
#include "pg/guard.hpp"
#include "pg/result_set.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"
#include "engine/claims.hpp"
#include "engine/engine.hpp"
#include "engine/indexing.hpp"
#include "engine/instances.hpp"
#include "engine/undo.hpp"
#include "registry/registry.hpp"
#include "worker/hooks.hpp"

extern "C" {
#include "commands/event_trigger.h"
}

namespace {

using namespace recovery;

std::optional<std::string> name_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  return std::string(NameStr(*PG_GETARG_NAME(n)));
}

std::optional<std::string> text_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return std::nullopt;
  const Datum d = PG_GETARG_DATUM(n);
  const text* t =
      pg::guard([&] { return pg_detoast_datum_packed((struct varlena*)DatumGetPointer(d)); });
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

// Every watched table a call that names none covers (engine/access.hpp); a
// NOTICE says how many others it left out.
std::vector<registry::Watched> covered_tables() {
  int skipped = 0;
  auto tables = registry::load_covered(registry::warn_skipped, &skipped);
  if (skipped > 0) {
    pg::report(NOTICE,
               "recovery: " + std::to_string(skipped) +
                   " watched table(s) left out: their owners' privileges are not yours",
               "A call that names no table covers only tables owned by roles whose privileges "
               "you have, so that another role's table cannot run its code with your rights.",
               "Name the table (run_table => ...), or call as a member of its owner's role.");
  }
  return tables;
}

// The tables a call acts on: the one it names, or those it covers.
std::vector<registry::Watched> tables_arg(FunctionCallInfo fcinfo, int n) {
  if (PG_ARGISNULL(n)) return covered_tables();
  auto table = registry::load_one(PG_GETARG_OID(n));
  if (!table) return {};
  return {std::move(*table)};
}

engine::Clock clock_arg(FunctionCallInfo fcinfo, int n) {
  return engine::clock_for(PG_ARGISNULL(n) ? nullptr : PG_GETARG_INTERVAL_P(n));
}

// max_runs: NULL for no cap, else at least 1.
std::optional<int64> max_runs_arg(FunctionCallInfo fcinfo, int n) {
  std::optional<int64> max_runs;
  if (!PG_ARGISNULL(n)) max_runs = PG_GETARG_INT32(n);
  core::validate_max_runs(!max_runs, max_runs.value_or(0));
  return max_runs;
}

}  // namespace

RECOVERY_SPI_FUNCTION(recovery_watch) {
  if (PG_ARGISNULL(0)) {
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "run_table must not be NULL");
  }
  // watch()'s arguments after run_table, in the field table's order.
  registry::Options args;
  int n = 1;
  for (const registry::Field& f : registry::kFields) {
    const int arg = n++;
    if (PG_ARGISNULL(arg)) continue;
    std::visit(
        [&](auto member) {
          using Value = typename std::remove_reference_t<decltype(args.*member)>::value_type;
          if constexpr (std::is_same_v<Value, std::string>) {
            args.*member =
                f.type == registry::SqlType::kName ? name_arg(fcinfo, arg) : text_arg(fcinfo, arg);
          } else if constexpr (std::is_same_v<Value, Interval>) {
            args.*member = *PG_GETARG_INTERVAL_P(arg);
          } else if constexpr (std::is_same_v<Value, int32>) {
            args.*member = PG_GETARG_INT32(arg);
          } else if constexpr (std::is_same_v<Value, bool>) {
            args.*member = PG_GETARG_BOOL(arg);
          } else {
            args.*member = pg::text_array_elements(PG_GETARG_DATUM(arg));
          }
        },
        f.member);
  }
  const Oid relid = PG_GETARG_OID(0);
  const bool make_index = args.create_index.value_or(false);

  const bool inserted = registry::watch(relid, args);
  const auto watched = registry::load_one(relid);
  if (!watched)
    throw core::Error(core::sqlstate::kInternalError, "recovery: the new registration is unusable");
  const registry::Watched& table = *watched;
  if (make_index) {
    engine::create_index(table);
  } else if (!engine::index_serves(table)) {
    pg::report(NOTICE, "recovery: no index serves the stuck-run search on " + table.name,
               "Each check then reads the whole table.",
               "Create one with: " + engine::index_advice(table) +
                   "; or call recovery.watch(..., create_index => true).");
  }
  PG_RETURN_BOOL(inserted);
}

RECOVERY_SPI_FUNCTION(recovery_unwatch) {
  const bool removed = registry::unwatch(PG_GETARG_OID(0));
  PG_RETURN_BOOL(removed);
}

// find_stuck_runs(timeout, run_table)
RECOVERY_SPI_FUNCTION(recovery_find_stuck_runs) {
  const engine::Clock clock = clock_arg(fcinfo, 0);
  pg::ResultSet result(fcinfo, {"run_table", "run_id", "status", "started_at", "last_activity_at",
                                "stuck_minutes", "reason", "run", "action"});
  for (const auto& table : tables_arg(fcinfo, 1)) {
    if (engine::has_future_activity(table, clock)) engine::warn_future_activity(table, WARNING);
    const Datum table_name = pg::text_datum(table.name);
    engine::find_in_table(table, clock, [&](const engine::RunRow& r) {
      Datum values[9] = {table_name,
                         r.run_id,
                         r.status,
                         r.started_at,
                         r.last_activity_at,
                         Int32GetDatum(r.stuck_minutes),
                         r.reason,
                         r.run,
                         r.action};
      bool nulls[9] = {false, false, false, r.started_at_null, false, false, false, false, false};
      result.put(values, nulls);
    });
  }
  return static_cast<Datum>(0);
}

// recover_stuck_runs(timeout, max_runs, run_table)
RECOVERY_SPI_FUNCTION(recovery_recover_stuck_runs) {
  const engine::Clock clock = clock_arg(fcinfo, 0);
  std::optional<int64> remaining = max_runs_arg(fcinfo, 1);
  pg::ResultSet result(fcinfo,
                       {"run_table", "run_id", "previous_status", "new_status", "started_at",
                        "stuck_minutes", "reason", "recovered_at", "run", "action"});
  const Datum recovered_at = TimestampTzGetDatum(clock.now);
  for (const auto& table : tables_arg(fcinfo, 2)) {
    if (remaining && *remaining == 0) break;
    if (engine::has_future_activity(table, clock)) engine::warn_future_activity(table, WARNING);
    const Datum table_name = pg::text_datum(table.name);
    const uint64 done =
        engine::recover_table(table, clock, remaining, [&](const engine::RunRow& r) {
          Datum values[10] = {table_name,   r.run_id,     r.status,
                              r.new_status, r.started_at, Int32GetDatum(r.stuck_minutes),
                              r.reason,     recovered_at, r.run,
                              r.action};
          bool nulls[10] = {false, false, false, false, r.started_at_null,
                            false, false, false, false, false};
          result.put(values, nulls);
        });
    if (remaining) *remaining -= static_cast<int64>(done);
  }
  return static_cast<Datum>(0);
}

// recover_each_table(timeout, max_runs): every watched table in a
// subtransaction of its own, so one that fails (a trigger or CHECK refusing
// the failed status, a lock held past recovery.lock_timeout, no UPDATE
// right) is rolled back alone, reported with a WARNING and a row saying why,
// and the others are still recovered. One row per table: what a pg_cron job
// or a health check wants.
RECOVERY_SPI_FUNCTION(recovery_recover_each_table) {
  const engine::Clock clock = clock_arg(fcinfo, 0);
  std::optional<int64> remaining = max_runs_arg(fcinfo, 1);
  // A read-only transaction (a standby) fails the call, not each table.
  pg::guard([] { PreventCommandIfReadOnly("recovery.recover_each_table()"); });
  pg::ResultSet result(fcinfo, {"run_table", "recovered", "sqlstate", "error"});
  for (const auto& table : covered_tables()) {
    if (remaining && *remaining == 0) break;
    uint64 done = 0;
    const std::optional<pg::ErrorReport> failure = pg::in_subtransaction(
        [&] { done = engine::recover_table(table, clock, remaining, engine::RowSink()); });
    if (failure) {
      pg::report(WARNING,
                 "recovery: could not recover stuck runs of table " + table.name + ": " +
                     failure->message + " (SQLSTATE " + failure->sqlstate + ")",
                 failure->detail, failure->hint);
    } else if (remaining) {
      *remaining -= static_cast<int64>(done);
    }
    Datum values[4] = {pg::text_datum(table.name), Int64GetDatum(static_cast<int64>(done)),
                       failure ? pg::text_datum(failure->sqlstate) : static_cast<Datum>(0),
                       failure ? pg::text_datum(failure->message) : static_cast<Datum>(0)};
    bool nulls[4] = {false, false, !failure, !failure};
    result.put(values, nulls);
  }
  return static_cast<Datum>(0);
}

// claim(run_table, run_id [, instance]) / release(run_table, run_id).
static void require_run(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
    throw core::Error(core::sqlstate::kNullValueNotAllowed,
                      "run_table and run_id must not be NULL");
  }
}

RECOVERY_SPI_FUNCTION(recovery_claim) {
  require_run(fcinfo);
  const std::string run_id = *text_arg(fcinfo, 1);
  // 0.1.0's claim(run_table, run_id) has no instance argument.
  const std::optional<std::string> instance =
      PG_NARGS() > 2 ? text_arg(fcinfo, 2) : std::optional<std::string>();
  const bool done = engine::claims::claim(PG_GETARG_OID(0), run_id, instance);
  PG_RETURN_BOOL(done);
}

RECOVERY_SPI_FUNCTION(recovery_release) {
  require_run(fcinfo);
  const std::string run_id = *text_arg(fcinfo, 1);
  const bool done = engine::claims::release(PG_GETARG_OID(0), run_id);
  PG_RETURN_BOOL(done);
}

// instance_start(name, lease): the worker looks when it commits.
RECOVERY_SPI_FUNCTION(recovery_instance_start) {
  if (PG_ARGISNULL(0) || PG_ARGISNULL(1)) {
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "name and lease must not be NULL");
  }
  const std::string name = *text_arg(fcinfo, 0);
  const Interval lease = *PG_GETARG_INTERVAL_P(1);
  const std::string token = engine::instances::start(name, lease);
  worker::wake_worker_at_commit();
  PG_RETURN_DATUM(pg::text_datum(token));
}

static std::string token_arg(FunctionCallInfo fcinfo) {
  if (PG_ARGISNULL(0))
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "token must not be NULL");
  return *text_arg(fcinfo, 0);
}

RECOVERY_SPI_FUNCTION(recovery_instance_heartbeat) {
  const std::string token = token_arg(fcinfo);
  const bool alive = engine::instances::heartbeat(token);
  PG_RETURN_BOOL(alive);
}

// instance_stop(token): the worker looks when it commits.
RECOVERY_SPI_FUNCTION(recovery_instance_stop) {
  const std::string token = token_arg(fcinfo);
  const int32 claimed = engine::instances::stop(token);
  worker::wake_worker_at_commit();
  PG_RETURN_INT32(claimed);
}

// backend_alive(pid, backend_start): STRICT.
RECOVERY_FUNCTION(recovery_backend_alive) {
  PG_RETURN_BOOL(engine::claims::backend_alive(PG_GETARG_INT32(0), PG_GETARG_TIMESTAMPTZ(1)));
}

// undo(history_id)
RECOVERY_SPI_FUNCTION(recovery_undo) {
  if (PG_ARGISNULL(0))
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "history_id must not be NULL");
  const bool undone = engine::undo(PG_GETARG_INT64(0));
  PG_RETURN_BOOL(undone);
}

// index_advice(run_table): STRICT.
RECOVERY_SPI_FUNCTION(recovery_index_advice) {
  const auto table = registry::load_one(PG_GETARG_OID(0));
  const std::string statement = table ? engine::index_advice(*table) : std::string();
  if (statement.empty()) PG_RETURN_NULL();
  PG_RETURN_DATUM(pg::text_datum(statement));
}

// forget_dropped_claims(): the sql_drop event trigger.
RECOVERY_SPI_FUNCTION(recovery_forget_dropped_claims) {
  if (!CALLED_AS_EVENT_TRIGGER(fcinfo)) {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "recovery.forget_dropped_claims() is an event trigger function");
  }
  engine::claims::forget_dropped_tables();
  PG_RETURN_NULL();
}

// registration_options(): the field table (registry/options.hpp).
RECOVERY_FUNCTION(recovery_registration_options) {
  pg::ResultSet result(fcinfo, {"name", "type", "stored"});
  for (const registry::Field& f : registry::kFields) {
    Datum values[3] = {pg::text_datum(f.name), pg::text_datum(registry::sql_type_name(f.type)),
                       BoolGetDatum(f.stored)};
    bool nulls[3] = {false, false, false};
    result.put(values, nulls);
  }
  return static_cast<Datum>(0);
}
