// The workers' shared memory: one slot per running per-database worker,
// assigned by the launcher (a slot keeps serving the same database across
// worker restarts, so its counters go on), written by its worker and read by
// worker_status(); plus the launcher's mailbox: databases where a DDL command
// is making way ("holds") and databases where CREATE EXTENSION committed.
#pragma once

#include "pg/postgres.hpp"
#include "core/launcher_logic.hpp"
#include "core/worker_logic.hpp"

extern "C" {
#include "storage/latch.h"
#include "storage/spin.h"
}

namespace recovery::worker::shared {

struct WorkerSlot {
  Oid database_oid;  // the database it serves (InvalidOid: free)
  char database[NAMEDATALEN];
  uint32 generation;   // of the last launch into this slot
  bool launched;       // a worker was launched here and the launcher has not reaped it
  bool has_extension;  // its worker found the extension (worker_status() shows the slot)
  bool leave;          // asked to leave
  core::WorkerExit leave_as;
  char leave_reason[64];
  core::WorkerExit exit;  // why its last worker exited (kNone until it does)
  pid_t pid;              // the running worker, 0 when none
  core::WorkerState state;
  TimestampTz last_run_at;  // 0: never
  int64 last_recovered;
  int64 total_recovered;
  char last_error[256];
  Latch* latch;  // the worker's own latch, for run_worker_now()
  // Backends with claims that exited since the worker last looked.
  pid_t exited[16];
  int exited_count;
  bool exited_overflow;  // more than fit: the worker just waits briefly
};

// Called from _PG_init while shared_preload_libraries loads: reserves room
// for max_worker_processes slots (no more workers can run).
void request();

// Whether the shared state exists (the library was preloaded).
bool available();
int slot_count();

// Copies of every slot, taken under the lock.
std::vector<WorkerSlot> snapshot();

// Runs `change` on slot `index` under the spinlock. It must be a few plain
// assignments: no PostgreSQL calls, nothing that can throw.
template <typename Fn>
void update(int index, Fn&& change);

// --- from any backend ------------------------------------------------------

// Wakes the worker of `database` (by name, or by oid); false when no worker
// runs there.
bool wake(const std::string& database);
bool wake(Oid database) noexcept;

// From an exiting backend that claimed runs in `database`: records its pid
// for that database's worker and wakes it. Called from a shmem-exit
// callback: no allocation, never throws.
void report_exit(Oid database, int pid) noexcept;

// A DDL command (DROP/RENAME/CREATE DATABASE … TEMPLATE) of backend `holder`
// needs `database` to itself: no worker starts there until released, and the
// workers there are asked to leave, saying `reason`. False when no room is
// left for the hold (the command goes on unprotected).
bool hold(Oid database, pid_t holder, const char* reason) noexcept;
// Ends every hold of `holder` and tells the launcher. Never throws.
void release_holds(pid_t holder) noexcept;
// Whether a worker is launched in `database`, with its pid (0: not started yet).
bool worker_in(Oid database, pid_t* pid) noexcept;

// CREATE EXTENSION recovery committed in `database`: the launcher looks at once.
void request_check(Oid database) noexcept;
// Wakes the launcher (a database was created, altered or dropped).
void poke_launcher() noexcept;

// --- from the launcher -----------------------------------------------------

void set_launcher(pid_t pid, Latch* latch) noexcept;
void clear_launcher() noexcept;

// Binds a free slot to `database` for a new worker: returns its index and
// sets *generation, or -1 when no slot is free or the database is held.
int launch(Oid database, const char* name, uint32* generation) noexcept;
// The launch did not happen (no background worker could be registered).
void unlaunch(int slot) noexcept;
// A launched slot whose worker is gone: clears `launched` and says why the
// worker exited. `stopped`: the postmaster says the worker process ended.
bool reap(int slot, bool stopped, core::WorkerExit* why) noexcept;
// Asks the worker in `slot` to leave (exiting as `as`), saying `reason`.
void ask_to_leave(int slot, core::WorkerExit as, const char* reason) noexcept;
// Frees a slot that has no worker (its database is gone or without extension).
void unbind(int slot) noexcept;
// Keeps the slot's database name current (ALTER DATABASE … RENAME).
void rename(int slot, const char* name) noexcept;
// Databases held by DDL commands of backends still alive.
std::vector<Oid> held_databases();
// Databases where CREATE EXTENSION committed since the last call;
// *overflow: more were reported than recorded (look at every database).
std::vector<Oid> take_check_requests(bool* overflow);

// --- from a worker ---------------------------------------------------------

// Takes slot `slot` if generation `generation` is still its launch (a stale
// registration is not): records pid and latch, and copies out its database.
bool attach(int slot, uint32 generation, pid_t pid, Latch* latch, Oid* database,
            char* name) noexcept;
// Whether the worker in `slot` is asked to leave (and as what, and why).
bool asked_to_leave(int slot, core::WorkerExit* as, std::string* reason);
// Records why the worker is about to exit.
void set_exit(int slot, core::WorkerExit why) noexcept;
// From the worker's exit callback: the slot has no worker any more.
void detach(int slot, pid_t pid) noexcept;

// Takes (and clears) the exits reported to `slot`; `overflow` says some
// were not recorded.
std::vector<pid_t> take_exits(int slot, bool* overflow);

namespace detail {
constexpr int kMaxHolds = 32;
constexpr int kMaxCheckRequests = 32;
struct Hold {
  Oid database;
  pid_t holder;
};
struct Header {
  slock_t mutex;
  int count;
  pid_t launcher_pid;
  Latch* launcher_latch;
  Hold holds[kMaxHolds];
  Oid check_requests[kMaxCheckRequests];
  int check_count;
  bool check_overflow;  // more than fit: the launcher checks every database
};
Header* header();
WorkerSlot* slots();
}  // namespace detail

template <typename Fn>
void update(int index, Fn&& change) {
  detail::Header* h = detail::header();
  if (h == nullptr || index < 0 || index >= h->count) return;
  SpinLockAcquire(&h->mutex);
  change(detail::slots()[index]);
  SpinLockRelease(&h->mutex);
}

}  // namespace recovery::worker::shared
