#include "worker/launcher.hpp"

#include "pg/guard.hpp"
#include "core/launcher_logic.hpp"
#include "core/worker_logic.hpp"
#include "settings/settings.hpp"
#include "worker/shared_state.hpp"
#include "worker/worker.hpp"

extern "C" {
#include "access/heapam.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/pg_database.h"
#include "miscadmin.h"
#include "pgstat.h"
#include "postmaster/bgworker.h"
#include "postmaster/interrupt.h"
#include "storage/ipc.h"
#include "storage/latch.h"
#include "tcop/tcopprot.h"
#include "utils/guc.h"
#include "utils/memutils.h"
#include "utils/snapmgr.h"
#include "utils/wait_event.h"

PGDLLEXPORT void recovery_launcher_main(Datum);
}

namespace recovery::worker {

namespace {

// A worker that failed (an error, SIGTERM, a refused connection) is started
// again after this pause.
constexpr double kRestartSeconds = 10;
// A database without the extension is looked at again after this (at once
// after a CREATE EXTENSION recovery on this server).
constexpr double kRecheckSeconds = 300;
// pg_database is read at least this often (new databases, a standby).
constexpr long kScanMillis = 10000;

core::LauncherPlanner* g_planner = nullptr;
// Per slot, the handle of the worker this launcher started there (nullptr:
// none, or one a previous launcher started).
std::vector<BackgroundWorkerHandle*>* g_handles = nullptr;
bool g_said_no_bgworker = false;

double now_seconds() {
  return static_cast<double>(pg::guard([] { return GetCurrentTimestamp(); })) / USECS_PER_SEC;
}

void on_exit(int, Datum) { shared::clear_launcher(); }

void configure() {
  const int capacity = shared::slot_count();
  const int limit = settings::max_workers < capacity ? settings::max_workers : capacity;
  g_planner->configure(
      core::parse_database_list(settings::databases != nullptr ? settings::databases : ""), limit);
}

// pg_database, read as autovacuum's get_database_list does: the launcher is
// connected to no database and sees only the shared catalogs.
std::vector<core::DatabaseEntry> read_databases() {
  std::vector<core::DatabaseEntry> databases;
  Relation rel = nullptr;
  TableScanDesc scan = nullptr;
  try {
    pg::guard([&] {
      SetCurrentStatementStartTimestamp();
      StartTransactionCommand();
      (void)GetTransactionSnapshot();
      rel = table_open(DatabaseRelationId, AccessShareLock);
      scan = table_beginscan_catalog(rel, 0, nullptr);
    });
    for (;;) {
      const HeapTuple tuple = pg::guard([&] { return heap_getnext(scan, ForwardScanDirection); });
      if (!HeapTupleIsValid(tuple)) break;
      const auto* db = reinterpret_cast<Form_pg_database>(GETSTRUCT(tuple));
      // Templates are for copying, and a database being dropped is invalid.
      const bool connectable = db->datallowconn && !db->datistemplate &&
                               !database_is_invalid_form(const_cast<Form_pg_database>(db));
      databases.push_back({db->oid, NameStr(db->datname), connectable});
    }
    pg::guard([&] {
      table_endscan(scan);
      table_close(rel, AccessShareLock);
      CommitTransactionCommand();
    });
  } catch (...) {
    pg::guard([] {
      HOLD_INTERRUPTS();
      AbortCurrentTransaction();
      RESUME_INTERRUPTS();
    });
    throw;
  }
  return databases;
}

// Workers that exited since the last look: the planner learns why.
void reap_workers(double now) {
  const std::vector<shared::WorkerSlot> slots = shared::snapshot();
  for (size_t i = 0; i < slots.size(); ++i) {
    const shared::WorkerSlot& s = slots[i];
    if (!s.launched) continue;
    if (s.has_extension) g_planner->found_extension(s.database_oid);
    BackgroundWorkerHandle* handle = (*g_handles)[i];
    bool stopped = false;
    if (handle != nullptr) {
      pid_t pid = 0;
      const BgwHandleStatus status =
          pg::guard([&] { return GetBackgroundWorkerPid(handle, &pid); });
      if (status == BGWH_POSTMASTER_DIED) proc_exit(1);
      stopped = status == BGWH_STOPPED;
    }
    core::WorkerExit why = core::WorkerExit::kNone;
    if (!shared::reap(static_cast<int>(i), stopped, &why)) continue;
    if (handle != nullptr) {
      pg::guard([&] { pfree(handle); });
      (*g_handles)[i] = nullptr;
    }
    g_planner->exited(s.database_oid, why, now);
  }
}

void take_check_requests(const std::vector<core::DatabaseEntry>& databases) {
  bool overflow = false;
  for (Oid oid : shared::take_check_requests(&overflow)) g_planner->extension_created(oid);
  if (overflow) {
    for (const auto& db : databases) g_planner->extension_created(db.oid);
  }
}

void start(uint32_t oid, const std::string& name, double now) {
  uint32 generation = 0;
  const int slot = shared::launch(oid, name.c_str(), &generation);
  if (slot < 0) return;  // held since, or no slot free: next time
  BackgroundWorkerHandle* handle = nullptr;
  if (!start_worker(slot, generation, name.c_str(), &handle)) {
    shared::unlaunch(slot);
    g_planner->start_failed(oid, now);
    if (!g_said_no_bgworker) {
      g_said_no_bgworker = true;
      pg::report(LOG,
                 "recovery launcher: could not start a worker for database \"" + name +
                     "\": no free background worker slot",
                 {},
                 "Raise max_worker_processes (a restart), or lower recovery.max_workers; it "
                 "tries again every " +
                     std::to_string(static_cast<int>(kRestartSeconds)) + " s.");
    }
    return;
  }
  g_said_no_bgworker = false;
  (*g_handles)[slot] = handle;
  g_planner->started(oid);
}

// One round: reap, read pg_database, plan, act. Returns how long to sleep.
long run_round() {
  const double now = now_seconds();
  reap_workers(now);
  const std::vector<core::DatabaseEntry> databases = read_databases();
  take_check_requests(databases);

  std::set<uint32_t> running;
  for (const auto& s : shared::snapshot()) {
    if (s.launched) running.insert(s.database_oid);
  }
  std::set<uint32_t> held;
  for (Oid oid : shared::held_databases()) held.insert(oid);

  const core::LaunchPlan plan = g_planner->plan(databases, running, held, now);
  for (const std::string& message : plan.messages) pg::report(LOG, "recovery launcher: " + message);

  std::map<uint32_t, std::string> names;
  for (const auto& db : databases) names[db.oid] = db.name;
  const std::vector<shared::WorkerSlot> slots = shared::snapshot();
  for (const auto& [oid, reason] : plan.stop) {
    for (size_t i = 0; i < slots.size(); ++i) {
      if (slots[i].launched && slots[i].database_oid == oid) {
        shared::ask_to_leave(static_cast<int>(i), core::WorkerExit::kStopped, reason.c_str());
      }
    }
  }
  for (uint32_t oid : plan.start) start(oid, names[oid], now);
  // Slots of databases gone, or without the extension, are freed; the others
  // follow renames.
  for (size_t i = 0; i < slots.size(); ++i) {
    const shared::WorkerSlot& s = slots[i];
    if (s.database_oid == InvalidOid) continue;
    auto name = names.find(s.database_oid);
    if (!s.launched && s.pid == 0 && plan.keep.count(s.database_oid) == 0) {
      shared::unbind(static_cast<int>(i));
    } else if (name != names.end() && name->second != s.database) {
      shared::rename(static_cast<int>(i), name->second.c_str());
    }
  }

  long sleep_ms = kScanMillis;
  if (plan.next_due >= 0) {
    const double wait = (plan.next_due - now) * 1000.0 + 10;
    if (wait < static_cast<double>(sleep_ms)) sleep_ms = wait < 100 ? 100 : static_cast<long>(wait);
  }
  return sleep_ms;
}

void main_loop() {
  for (;;) {
    pg::guard([] { CHECK_FOR_INTERRUPTS(); });
    if (ConfigReloadPending) {
      ConfigReloadPending = false;
      pg::guard([] { ProcessConfigFile(PGC_SIGHUP); });
      configure();
    }
    const long sleep_ms = run_round();
    pg::guard([&] {
      (void)WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, sleep_ms,
                      PG_WAIT_EXTENSION);
      ResetLatch(MyLatch);
    });
  }
}

// Slots a previous launcher left: running workers are adopted (their exit
// is seen in the slot); a launch that never started is voided.
void adopt_slots() {
  const std::vector<shared::WorkerSlot> slots = shared::snapshot();
  for (size_t i = 0; i < slots.size(); ++i) {
    const shared::WorkerSlot& s = slots[i];
    if (s.launched && s.pid == 0 && s.exit == core::WorkerExit::kNone) {
      shared::unlaunch(static_cast<int>(i));
    }
  }
}

}  // namespace

void register_launcher() {
  BackgroundWorker launcher{};
  launcher.bgw_flags = BGWORKER_SHMEM_ACCESS | BGWORKER_BACKEND_DATABASE_CONNECTION;
  // On a hot standby too: its workers report "standby" until promotion.
  launcher.bgw_start_time = BgWorkerStart_ConsistentState;
  launcher.bgw_restart_time = static_cast<int>(kRestartSeconds);
  strlcpy(launcher.bgw_library_name, "recovery", sizeof(launcher.bgw_library_name));
  strlcpy(launcher.bgw_function_name, "recovery_launcher_main", sizeof(launcher.bgw_function_name));
  strlcpy(launcher.bgw_name, "recovery launcher", sizeof(launcher.bgw_name));
  strlcpy(launcher.bgw_type, "recovery launcher", sizeof(launcher.bgw_type));
  RegisterBackgroundWorker(&launcher);
}

}  // namespace recovery::worker

using namespace recovery;

void recovery_launcher_main(Datum) {
  // Nothing here may throw into PostgreSQL: an unexpected exception ends the
  // launcher (the postmaster starts it again; its workers run on meanwhile).
  std::exception_ptr failure;
  try {
    pqsignal(SIGHUP, SignalHandlerForConfigReload);
    pqsignal(SIGTERM, die);
    BackgroundWorkerUnblockSignals();
    pg::guard([] { BackgroundWorkerInitializeConnection(nullptr, nullptr, 0); });
    worker::g_planner = new core::LauncherPlanner(worker::kRestartSeconds, worker::kRecheckSeconds);
    worker::g_handles =
        new std::vector<BackgroundWorkerHandle*>(worker::shared::slot_count(), nullptr);
    worker::shared::set_launcher(MyProcPid, MyLatch);
    pg::guard([] { before_shmem_exit(worker::on_exit, 0); });
    worker::adopt_slots();
    worker::configure();
    const std::string only = settings::databases != nullptr ? settings::databases : "";
    pg::report(LOG, "recovery launcher: started (recovery.databases: " +
                        (only.empty() ? std::string("every database") : "'" + only + "'") +
                        "; recovery.max_workers: " + std::to_string(settings::max_workers) + ")");
    worker::main_loop();
  } catch (...) {
    failure = std::current_exception();
  }
  pg::report_exception(failure, LOG, "recovery launcher");
  failure = nullptr;
  proc_exit(1);
}
