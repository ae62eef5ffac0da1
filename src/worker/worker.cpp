#include "worker/worker.hpp"

#include "bridge/backend.hpp"
#include "bridge/guard.hpp"
#include "bridge/spi.hpp"
#include "core/worker_logic.hpp"
#include "engine/claims.hpp"
#include "engine/engine.hpp"
#include "engine/history.hpp"
#include "registry/registry.hpp"
#include "worker/settings.hpp"
#include "worker/shared_state.hpp"

extern "C" {
#include "access/xlog.h"
#include "commands/extension.h"
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
#include "utils/wait_event.h"

PGDLLEXPORT void recovery_worker_main(Datum index);
}

namespace recovery::worker {

namespace {

using core::WorkerState;

// Seconds before the postmaster restarts a worker that exited (role change,
// a database that does not exist yet, a crash).
constexpr int kRestartSeconds = 10;
constexpr int64 kPruneBatch = 1000;

int g_slot = -1;
std::string* g_database = nullptr;
std::string* g_role = nullptr;
// Problems already logged: a broken table or a failing recovery is logged
// once (and when it is over), not every naptime.
core::ProblemLog* g_problems = nullptr;

void set_state(WorkerState state) {
  shared::update(g_slot, [&](shared::WorkerSlot& s) { s.state = state; });
}

void clear_slot(int, Datum) {
  shared::update(g_slot, [](shared::WorkerSlot& s) {
    s.pid = 0;
    s.latch = nullptr;
    s.state = WorkerState::kStarting;
  });
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
  // The same failure again: recorded in the slot, logged at DEBUG1 only.
  const std::string message = pg::describe(failure).message;
  const int level = g_problems->report(what, message) ? LOG : DEBUG1;
  pg::report_exception(failure, level, ("recovery worker: " + what).c_str());
  failure = nullptr;
  // As PostgreSQL's own error recovery does: abort with interrupts held.
  pg::guard([] {
    HOLD_INTERRUPTS();
    AbortCurrentTransaction();
    RESUME_INTERRUPTS();
  });
  const std::string error = what + ": " + message;
  shared::update(g_slot, [&](shared::WorkerSlot& s) {
    strlcpy(s.last_error, error.c_str(), sizeof(s.last_error));
  });
  return false;
}

bool extension_ready() {
  bool ready = false;
  in_transaction("checking for the extension", [&] {
    ready = pg::guard([] { return OidIsValid(get_extension_oid("recovery", true)); });
  });
  return ready;
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
      pg::report(LOG, "recovery worker: " + what,
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
        if (first) claims::forget_finished(*table);
        done = engine::recover_table(*table, engine::clock_for(&timeout), batch, engine::RowSink());
      });
    });
    total += done;
    first = false;
    if (!ok || done < static_cast<uint64>(batch)) break;
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
    history::prune(cutoff, kPruneBatch, true);
  });
}

void run_cycle() {
  if (!settings::enabled) {
    set_state(WorkerState::kDisabled);
    return;
  }
  if (pg::guard([] { return RecoveryInProgress(); })) {
    set_state(WorkerState::kStandby);  // read-only: nothing to do until promoted
    return;
  }
  if (!extension_ready()) {
    set_state(WorkerState::kWaitingForExtension);
    return;
  }
  set_state(WorkerState::kRunning);
  shared::update(g_slot, [](shared::WorkerSlot& s) { s.last_error[0] = '\0'; });
  g_problems->begin_cycle();
  pg::guard([] { pgstat_report_activity(STATE_RUNNING, "recovering stuck runs"); });

  std::vector<std::pair<std::string, uint64_t>> per_table;
  uint64 total = 0;
  for (const auto& ref : watched_tables()) {
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
    // A connection's role is fixed: exit, and the postmaster restarts us as the new one.
    pg::report(LOG, "recovery worker: recovery.worker_role changed, restarting");
    proc_exit(1);
  }
}

// Claiming backends that exited told us so (claims::claim): wait until they
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
    pg::guard([] {
      pg_usleep(kPollMicros);
      CHECK_FOR_INTERRUPTS();
    });
  }
}

void main_loop() {
  for (;;) {
    pg::guard([] { CHECK_FOR_INTERRUPTS(); });
    if (ConfigReloadPending) reload_settings();
    await_exited_claimers();
    run_cycle();
    const long naptime_ms = static_cast<long>(settings::naptime_seconds) * 1000L;
    pg::guard([&] {
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, naptime_ms,
                      PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
    });
  }
}

}  // namespace

void register_workers() {
  const std::vector<std::string> databases =
      core::parse_database_list(settings::databases != nullptr ? settings::databases : "");
  shared::request(databases);
  for (size_t i = 0; i < databases.size(); ++i) {
    BackgroundWorker worker{};
    worker.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
    // Started on a hot standby too, so worker_status() shows it waiting there;
    // it writes nothing until promotion.
    worker.bgw_start_time = BgWorkerStart_ConsistentState;
    worker.bgw_restart_time = kRestartSeconds;
    strlcpy(worker.bgw_library_name, "recovery", sizeof(worker.bgw_library_name));
    strlcpy(worker.bgw_function_name, "recovery_worker_main", sizeof(worker.bgw_function_name));
    snprintf(worker.bgw_name, sizeof(worker.bgw_name), "recovery worker for database %s",
             databases[i].c_str());
    strlcpy(worker.bgw_type, "recovery worker", sizeof(worker.bgw_type));
    strlcpy(worker.bgw_extra, databases[i].c_str(), sizeof(worker.bgw_extra));
    worker.bgw_main_arg = Int32GetDatum(static_cast<int32>(i));
    RegisterBackgroundWorker(&worker);
  }
}

}  // namespace recovery::worker

using namespace recovery;

void recovery_worker_main(Datum index) {
  // Nothing here may throw into PostgreSQL: the whole body is guarded, and
  // an unexpected exception ends the worker (the postmaster restarts it).
  std::exception_ptr failure;
  try {
    worker::g_slot = DatumGetInt32(index);
    worker::g_database = new std::string(MyBgworkerEntry->bgw_extra);
    worker::g_role = new std::string(settings::worker_role != nullptr ? settings::worker_role : "");
    worker::g_problems = new core::ProblemLog();
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();

    Latch* latch = MyLatch;
    const pid_t pid = MyProcPid;
    shared::update(worker::g_slot, [&](shared::WorkerSlot& s) {
      s.pid = pid;
      s.latch = latch;
      s.state = core::WorkerState::kStarting;
    });
    pg::guard([] { before_shmem_exit(worker::clear_slot, 0); });

    const std::string& role = *worker::g_role;
    pg::guard([&] {
      BackgroundWorkerInitializeConnection(worker::g_database->c_str(),
                                           role.empty() ? nullptr : role.c_str(), 0);
      // Its SQL names everything it uses; this keeps it that way.
      SetConfigOption("search_path", "pg_catalog, pg_temp", PGC_SUSET, PGC_S_OVERRIDE);
      SetConfigOption("application_name", "recovery worker", PGC_USERSET, PGC_S_SESSION);
    });
    worker::main_loop();
  } catch (...) {
    failure = std::current_exception();
  }
  pg::report_exception(failure, LOG);
  failure = nullptr;
  proc_exit(1);
}
