// Worker status in shared memory: one slot per database in
// recovery.databases, written by its worker and read by worker_status().
#pragma once

#include "bridge/postgres.hpp"
#include "core/worker_logic.hpp"

extern "C" {
#include "storage/latch.h"
#include "storage/spin.h"
}

namespace recovery::shared {

struct WorkerSlot {
  char database[NAMEDATALEN];
  pid_t pid;
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
// for one slot per database.
void request(const std::vector<std::string>& databases);

// Whether the shared state exists (the library was preloaded).
bool available();
int slot_count();

// Copies of every slot, taken under the lock.
std::vector<WorkerSlot> snapshot();

// Runs `change` on slot `index` under the spinlock. It must be a few plain
// assignments: no PostgreSQL calls, nothing that can throw.
template <typename Fn>
void update(int index, Fn&& change);

// Wakes the worker of `database`; false when no worker runs there.
bool wake(const std::string& database);

// The slot of `database`'s worker, or -1.
int slot_of(const std::string& database);

// From an exiting backend that claimed runs: records its pid and wakes the
// worker. Called from a shmem-exit callback: no allocation, never throws.
void report_exit(int slot, pid_t pid) noexcept;

// Takes (and clears) the exits reported to `slot`; `overflow` says some
// were not recorded.
std::vector<pid_t> take_exits(int slot, bool* overflow);

namespace detail {
struct Header {
  slock_t mutex;
  int count;
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

}  // namespace recovery::shared
