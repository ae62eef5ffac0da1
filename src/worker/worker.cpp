#include "worker/worker.hpp"

#include "pg/catalog.hpp"
#include "pg/guard.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/worker_logic.hpp"
#include "engine/claims.hpp"
#include "engine/engine.hpp"
#include "engine/history.hpp"
#include "engine/instances.hpp"
#include "registry/registry.hpp"
#include "settings/settings.hpp"
#include "worker/shared_state.hpp"

extern "C" {
#include "access/xlog.h"
#include "catalog/namespace.h"
#include "commands/extension.h"
#include "utils/lsyscache.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "storage/proc.h"
#include "storage/procarray.h"
#include "tcop/tcopprot.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/wait_event.h"

PGDLLEXPORT void recovery_worker_main(Datum slot);
}

namespace recovery::worker {

namespace {

using core::WorkerExit;
using core::WorkerState;

constexpr int64 kPruneBatch = 1000;

int g_slot = -1;
Oid g_database_oid = InvalidOid;
std::string* g_database = nullptr;
std::string* g_role = nullptr;
// Problems already logged: a broken table or a failing recovery is logged
// once (and when it is over), not every naptime.
core::ProblemLog* g_problems = nullptr;

void set_state(WorkerState state) {
  shared::update(g_slot, [&](shared::WorkerSlot& s) { s.state = state; });
}

void detach(int, Datum) { shared::detach(g_slot, MyProcPid); }

// Exits, telling the launcher why (it decides whether and when to come back).
[[noreturn]] void exit_as(WorkerExit why) {
  shared::set_exit(g_slot, why);
  proc_exit(0);
}

bool leave_requested() {
  WorkerExit as = WorkerExit::kLeft;
  std::string reason;
  return shared::asked_to_leave(g_slot, &as, &reason);
}

// Leaves when asked to: a DDL command on this database, or the launcher.
void leave_if_asked() {
  WorkerExit as = WorkerExit::kLeft;
  std::string reason;
  if (!shared::asked_to_leave(g_slot, &as, &reason)) return;
  pg::report(LOG, "recovery worker: leaving database \"" + *g_database + "\" for " + reason);
  exit_as(as);
}

// Runs `body` in a transaction of its own. A failure is logged (with its
// SQLSTATE, naming `what`), recorded in the slot, and rolled back; the cycle
// goes on. Returns whether the transaction committed.
template <typename Fn>
bool in_transaction(const std::string& what, Fn&& body) {
  std::exception_ptr failure;
  try {
    pg::guard([] {
      SetCurrentStatementStartTimestamp();
      StartTransactionCommand();
      PushActiveSnapshot(GetTransactionSnapshot());
    });
    pg::SpiConnection spi;
    body();
    spi.finish();
    pg::guard([] {
      PopActiveSnapshot();
      CommitTransactionCommand();
    });
    if (g_problems->clear(what)) pg::report(LOG, "recovery worker: " + what + ": works again");
    return true;
  } catch (...) {
    failure = std::current_exception();
  }
  // Asked to leave, the worker may have been interrupted (a cancel): that is
  // no problem of `what`, and it says nothing.
  const bool leaving = leave_requested();
  // The same failure again: recorded in the slot, logged at DEBUG1 only.
  const std::string message = pg::describe(failure).message;
  const int level = !leaving && g_problems->report(what, message) ? LOG : DEBUG1;
  pg::report_exception(failure, level, ("recovery worker: " + what).c_str());
  failure = nullptr;
  // As PostgreSQL's own error recovery does: abort with interrupts held.
  pg::guard([] {
    HOLD_INTERRUPTS();
    AbortCurrentTransaction();
    RESUME_INTERRUPTS();
  });
  if (leaving) return false;
  const std::string error = what + ": " + message;
  shared::update(g_slot, [&](shared::WorkerSlot& s) {
    strlcpy(s.last_error, error.c_str(), sizeof(s.last_error));
  });
  return false;
}

// Whether the extension exists here; nullopt when that could not be read.
std::optional<bool> extension_exists() {
  bool exists = false;
  const bool read = in_transaction("checking for the extension", [&] {
    exists = pg::guard([] { return OidIsValid(get_extension_oid("recovery", true)); });
  });
  if (!read) return std::nullopt;
  return exists;
}

// A database without the extension is no place for a worker: it exits (the
// launcher looks again later, or at once after CREATE EXTENSION).
void exit_unless_extension(bool had_it) {
  const std::optional<bool> exists = extension_exists();
  if (!exists.has_value() || *exists) return;
  if (had_it) {
    pg::report(LOG, "recovery worker: the extension is gone from database \"" + *g_database +
                        "\": the worker stops");
  } else {
    pg::report(DEBUG1, "recovery worker: no extension in database \"" + *g_database + "\"");
  }
  exit_as(WorkerExit::kNoExtension);
}

struct TableRef {
  Oid relid;
  std::string name;
};

std::string table_key(Oid relid) { return "watched table " + std::to_string(relid); }

// A broken watched table: a WARNING the first time (and when what is wrong
// changes), DEBUG1 in the cycles after.
void on_skipped(const registry::Skipped& table) {
  registry::report_skipped(
      table, g_problems->report(table_key(table.relid), table.problem) ? WARNING : DEBUG1);
}

std::vector<TableRef> watched_tables() {
  std::vector<TableRef> refs;
  in_transaction("reading recovery.watched_tables", [&] {
    // Tables whose owners' privileges the worker's role lacks are not its to
    // cover (a non-superuser recovery.worker_role): said once.
    int left_out = 0;
    for (const auto& w : registry::load_covered(on_skipped, &left_out)) {
      refs.push_back({w.relid, w.name});
    }
    const std::string what = "leaving out " + std::to_string(left_out) +
                             " watched table(s) whose owners' privileges role " +
                             pg::current_role_name() + " lacks";
    if (left_out == 0) {
      g_problems->clear("coverage");
    } else if (g_problems->report("coverage", what)) {
      pg::report(
          LOG, "recovery worker: " + what,
          "A table's code runs as its owner; the worker covers only the tables of roles "
          "whose privileges recovery.worker_role has.",
          "GRANT the owning role to the worker's role, or leave recovery.worker_role empty.");
    }
  });
  for (const auto& ref : refs) {
    if (g_problems->clear(table_key(ref.relid))) {
      pg::report(LOG, "recovery worker: watched table " + ref.name + " is usable again");
    }
  }
  return refs;
}

// Recovers one table in batches, one transaction each, until a batch comes
// back short. Returns how many runs it recovered.
uint64 recover_table(const TableRef& ref) {
  uint64 total = 0;
  bool first = true;
  for (;;) {
    uint64 done = 0;
    const int64 batch = settings::batch_size;
    Interval timeout{};
    timeout.time = static_cast<int64>(settings::timeout_minutes) * USECS_PER_MINUTE;
    const bool ok = in_transaction("recovering " + ref.name, [&] {
      // Registry rows are re-read: the table may have changed since.
      const auto table = registry::load_one(ref.relid, on_skipped);
      if (!table) return;
      // A table whose code sleeps or loops delays only itself.
      pg::with_statement_timeout(settings::statement_timeout_ms, [&] {
        // Claims on runs that finished are over; drop them once per cycle.
        if (first) engine::claims::forget_finished(*table);
        // A table whose times lie in the future (a wrong time_zone): said once.
        if (first) {
          const std::string key = "future activity " + std::to_string(ref.relid);
          if (!engine::has_future_activity(*table, engine::clock_for(&timeout))) {
            g_problems->clear(key);
          } else if (g_problems->report(key, table->time_zone)) {
            engine::warn_future_activity(*table, WARNING);
          }
        }
        done = engine::recover_table(*table, engine::clock_for(&timeout), batch, engine::RowSink());
      });
    });
    total += done;
    first = false;
    if (!ok || done < static_cast<uint64>(batch) || leave_requested()) break;
    pg::guard([] { CHECK_FOR_INTERRUPTS(); });
  }
  return total;
}

void prune_history() {
  if (settings::history_retention_minutes <= 0) return;
  in_transaction("pruning recovery.history", [] {
    const TimestampTz cutoff =
        GetCurrentTransactionStartTimestamp() -
        static_cast<int64>(settings::history_retention_minutes) * USECS_PER_MINUTE;
    engine::history::prune(cutoff, kPruneBatch, true);
  });
}

void run_cycle() {
  exit_unless_extension(true);
  if (!settings::enabled) {
    set_state(WorkerState::kDisabled);
    return;
  }
  if (pg::guard([] { return RecoveryInProgress(); })) {
    set_state(WorkerState::kStandby);  // read-only: nothing to do until promoted
    return;
  }
  set_state(WorkerState::kRunning);
  shared::update(g_slot, [](shared::WorkerSlot& s) { s.last_error[0] = '\0'; });
  g_problems->begin_cycle();
  pg::guard([] { pgstat_report_activity(STATE_RUNNING, "recovering stuck runs"); });

  std::vector<std::pair<std::string, uint64_t>> per_table;
  uint64 total = 0;
  for (const auto& ref : watched_tables()) {
    if (leave_requested()) break;
    const uint64 done = recover_table(ref);
    per_table.emplace_back(ref.name, done);
    total += done;
  }
  prune_history();
  g_problems->end_cycle();

  const std::string summary = core::cycle_summary(*g_database, per_table);
  if (!summary.empty()) pg::report(LOG, "recovery worker: " + summary);
  const TimestampTz now = pg::guard([] { return GetCurrentTimestamp(); });
  shared::update(g_slot, [&](shared::WorkerSlot& s) {
    s.last_run_at = now;
    s.last_recovered = static_cast<int64>(total);
    s.total_recovered += static_cast<int64>(total);
    s.state = WorkerState::kIdle;
  });
  pg::guard([] { pgstat_report_activity(STATE_IDLE, nullptr); });
}

void reload_settings() {
  ConfigReloadPending = false;
  pg::guard([] { ProcessConfigFile(PGC_SIGHUP); });
  if (*g_role != (settings::worker_role != nullptr ? settings::worker_role : "")) {
    // A connection's role is fixed: exit, and the launcher starts us again as the new one.
    pg::report(LOG, "recovery worker: recovery.worker_role changed, restarting");
    exit_as(WorkerExit::kRestart);
  }
}

// Claiming backends that exited told us so (engine::claims::claim): wait until they
// are really gone from the process array (they report while still exiting,
// possibly holding row locks), so this cycle sees their claims as dead.
void await_exited_claimers() {
  bool overflow = false;
  const std::vector<pid_t> pids = shared::take_exits(g_slot, &overflow);
  if (pids.empty() && !overflow) return;
  constexpr int kPollMicros = 2000;
  constexpr int kMaxPolls = 1000;  // 2 s at most
  for (int poll = 0; poll < kMaxPolls; ++poll) {
    bool any_alive = false;
    for (pid_t pid : pids) {
      if (pg::guard([&] { return BackendPidGetProc(pid) != nullptr; })) any_alive = true;
    }
    if (!any_alive && (!overflow || poll >= 50)) break;  // overflow: 100 ms
    if (leave_requested()) break;
    pg::guard([] {
      pg_usleep(kPollMicros);
      CHECK_FOR_INTERRUPTS();
    });
  }
}

bool have_instances() {
  // (An install still at 0.1.0 has no instances.)
  return pg::guard([] {
    const Oid nsp = get_namespace_oid("recovery", true);
    return OidIsValid(nsp) && OidIsValid(get_relname_relid("instance_incarnations", nsp));
  });
}

// How long to nap: the naptime, or less when an app instance's lease runs
// out sooner (its claimed runs are then stuck at once). Leases that ran out
// before the cycle began were seen by it.
long nap_ms(TimestampTz cycle_began) {
  const long naptime_ms = static_cast<long>(settings::naptime_seconds) * 1000L;
  if (!settings::enabled || pg::guard([] { return RecoveryInProgress(); })) return naptime_ms;
  std::optional<TimestampTz> expiry;
  in_transaction("reading app instance leases", [&] {
    if (have_instances()) expiry = engine::instances::next_expiry(cycle_began);
  });
  if (!expiry) return naptime_ms;
  const TimestampTz now = pg::guard([] { return GetCurrentTimestamp(); });
  constexpr long kAfterExpiryMs = 5;  // the lease is over by then, not just at its edge
  const long until =
      *expiry <= now ? 0 : static_cast<long>((*expiry - now) / 1000) + kAfterExpiryMs;
  return until < naptime_ms ? until : naptime_ms;
}

// After a nap cut short for a lease: whether an incarnation really ended
// with claims (else the lease was renewed, and there is nothing to do yet).
bool lease_ended() {
  bool ended = true;  // when unsure, a cycle
  in_transaction("reading app instance leases",
                 [&] { ended = have_instances() && engine::instances::any_ended_with_claims(); });
  return ended;
}

void main_loop() {
  bool lease_wake = false;
  for (;;) {
    leave_if_asked();
    pg::guard([] { CHECK_FOR_INTERRUPTS(); });
    if (ConfigReloadPending) reload_settings();
    await_exited_claimers();
    leave_if_asked();
    const TimestampTz cycle_began = pg::guard([] { return GetCurrentTimestamp(); });
    if (!lease_wake || lease_ended()) run_cycle();
    leave_if_asked();
    const long wait_ms = nap_ms(cycle_began);
    const long naptime_ms = static_cast<long>(settings::naptime_seconds) * 1000L;
    int events = 0;
    pg::guard([&] {
      events = WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, wait_ms,
                         PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
    });
    // Woken only by a lease's end: a heartbeat may have renewed it since.
    lease_wake = (events & WL_TIMEOUT) != 0 && (events & WL_LATCH_SET) == 0 && wait_ms < naptime_ms;
  }
}

}  // namespace

bool start_worker(int slot, uint32 generation, const char* database,
                  BackgroundWorkerHandle** handle) {
  BackgroundWorker worker{};
  worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  // Started on a hot standby too, so worker_status() shows it waiting there;
  // it writes nothing until promotion.
  worker.bgw_start_time = BgWorkerStart_ConsistentState;
  worker.bgw_restart_time = BGW_NEVER_RESTART;  // the launcher decides
  strlcpy(worker.bgw_library_name, "recovery", sizeof(worker.bgw_library_name));
  strlcpy(worker.bgw_function_name, "recovery_worker_main", sizeof(worker.bgw_function_name));
  snprintf(worker.bgw_name, sizeof(worker.bgw_name), "recovery worker for database %s", database);
  strlcpy(worker.bgw_type, "recovery worker", sizeof(worker.bgw_type));
  static_assert(sizeof(generation) <= BGW_EXTRALEN);
  memcpy(worker.bgw_extra, &generation, sizeof(generation));
  worker.bgw_main_arg = Int32GetDatum(static_cast<int32>(slot));
  worker.bgw_notify_pid = MyProcPid;  // the launcher hears of its start and exit
  // The handle outlives any transaction.
  return pg::guard([&] {
    const MemoryContext previous = MemoryContextSwitchTo(TopMemoryContext);
    const bool registered = RegisterDynamicBackgroundWorker(&worker, handle);
    MemoryContextSwitchTo(previous);
    return registered;
  });
}

}  // namespace recovery::worker

using namespace recovery;

void recovery_worker_main(Datum slot) {
  // Nothing here may throw into PostgreSQL: the whole body is guarded, and
  // an unexpected exception ends the worker (the launcher starts it again).
  std::exception_ptr failure;
  try {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();

    uint32 generation = 0;
    memcpy(&generation, MyBgworkerEntry->bgw_extra, sizeof(generation));
    char name[NAMEDATALEN] = "";
    Oid database = InvalidOid;
    const int index = DatumGetInt32(slot);
    // A registration that outlived its launch (the launcher restarted) ends here.
    if (!worker::shared::attach(index, generation, MyProcPid, MyLatch, &database, name))
      proc_exit(0);
    worker::g_slot = index;
    worker::g_database_oid = database;
    worker::g_database = new std::string(name);
    worker::g_role = new std::string(settings::worker_role != nullptr ? settings::worker_role : "");
    worker::g_problems = new core::ProblemLog();
    pg::guard([] { before_shmem_exit(worker::detach, 0); });

    worker::leave_if_asked();
    const std::string& role = *worker::g_role;
    pg::guard([&] {
      BackgroundWorkerInitializeConnection(worker::g_database->c_str(),
                                           role.empty() ? nullptr : role.c_str(), 0);
      // Its SQL names everything it uses; this keeps it that way.
      SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
      SetConfigOption("application_name", "recovery worker", PGC_USERSET, PGC_S_SESSION);
    });
    // Renamed, and another database took the name: the launcher looks again.
    if (MyDatabaseId != worker::g_database_oid) worker::exit_as(core::WorkerExit::kStopped);
    // Connected, this worker now counts for DROP DATABASE: a command that
    // asked before it got here finds it gone.
    worker::leave_if_asked();
    worker::exit_unless_extension(false);
    worker::shared::update(worker::g_slot,
                           [](worker::shared::WorkerSlot& s) { s.has_extension = true; });
    pg::report(LOG, "recovery worker: started in database \"" + *worker::g_database + "\"");
    worker::main_loop();
  } catch (...) {
    failure = std::current_exception();
  }
  // Asked to leave, an interrupted wait or statement is no failure.
  if (worker::g_slot >= 0 && worker::leave_requested()) {
    failure = nullptr;
    worker::leave_if_asked();
  }
  pg::report_exception(failure, LOG);
  failure = nullptr;
  proc_exit(1);
}
