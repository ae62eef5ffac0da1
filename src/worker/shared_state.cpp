#include "worker/shared_state.hpp"

extern "C" {
#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/procarray.h"
#include "storage/shmem.h"
}

namespace recovery::worker::shared {

namespace {

detail::Header* g_header = nullptr;
shmem_request_hook_type g_prev_request = nullptr;
shmem_startup_hook_type g_prev_startup = nullptr;

Size state_size(int count) {
  return add_size(MAXALIGN(sizeof(detail::Header)), mul_size(count, sizeof(WorkerSlot)));
}

// No more per-database workers can run than background worker processes
// (and shared::launch looks at 1024 slots at most).
int capacity() {
  constexpr int kMaxSlots = 1024;
  return max_worker_processes < 1           ? 1
         : max_worker_processes > kMaxSlots ? kMaxSlots
                                            : max_worker_processes;
}

// Hooks are called by PostgreSQL's C code: they must not throw, and they
// only make allocation-free PostgreSQL calls whose errors are fatal anyway.
void on_shmem_request() {
  if (g_prev_request != nullptr) g_prev_request();
  RequestAddinShmemSpace(state_size(capacity()));
}

void on_shmem_startup() {
  if (g_prev_startup != nullptr) g_prev_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  const int count = capacity();
  auto* header = static_cast<detail::Header*>(
      ShmemInitStruct("recovery worker state", state_size(count), &found));
  if (!found) {
    memset(header, 0, state_size(count));
    SpinLockInit(&header->mutex);
    header->count = count;
  }
  g_header = header;
  LWLockRelease(AddinShmemInitLock);
}

// The launcher's latch, to set after releasing the lock (or nullptr).
Latch* launcher_latch_locked() { return g_header->launcher_latch; }

bool held_locked(Oid database) {
  for (const detail::Hold& h : g_header->holds) {
    if (h.holder != 0 && h.database == database) return true;
  }
  return false;
}

}  // namespace

namespace detail {
Header* header() { return g_header; }
WorkerSlot* slots() {
  return reinterpret_cast<WorkerSlot*>(reinterpret_cast<char*>(g_header) +
                                       MAXALIGN(sizeof(Header)));
}
}  // namespace detail

void request() {
  g_prev_request = shmem_request_hook;
  shmem_request_hook = on_shmem_request;
  g_prev_startup = shmem_startup_hook;
  shmem_startup_hook = on_shmem_startup;
}

bool available() { return g_header != nullptr; }

int slot_count() { return g_header == nullptr ? 0 : g_header->count; }

std::vector<WorkerSlot> snapshot() {
  std::vector<WorkerSlot> copy;
  if (g_header == nullptr) return copy;
  copy.resize(g_header->count);
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->count; ++i) copy[i] = detail::slots()[i];
  SpinLockRelease(&g_header->mutex);
  return copy;
}

// --- from any backend --------------------------------------------------------

bool wake(const std::string& database) {
  if (g_header == nullptr) return false;
  Latch* latch = nullptr;
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->count; ++i) {
    const WorkerSlot& slot = detail::slots()[i];
    if (slot.pid != 0 && slot.has_extension && database == slot.database) latch = slot.latch;
  }
  SpinLockRelease(&g_header->mutex);
  if (latch == nullptr) return false;
  SetLatch(latch);
  return true;
}

bool wake(Oid database) noexcept {
  if (g_header == nullptr) return false;
  Latch* latch = nullptr;
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->count; ++i) {
    const WorkerSlot& slot = detail::slots()[i];
    if (slot.pid != 0 && slot.database_oid == database) latch = slot.latch;
  }
  SpinLockRelease(&g_header->mutex);
  if (latch == nullptr) return false;
  SetLatch(latch);
  return true;
}

void report_exit(Oid database, int pid) noexcept {
  if (g_header == nullptr) return;
  Latch* latch = nullptr;
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->count; ++i) {
    WorkerSlot& s = detail::slots()[i];
    if (s.pid == 0 || s.database_oid != database) continue;
    if (s.exited_count < static_cast<int>(sizeof(s.exited) / sizeof(s.exited[0]))) {
      s.exited[s.exited_count++] = pid;
    } else {
      s.exited_overflow = true;
    }
    latch = s.latch;
    break;
  }
  SpinLockRelease(&g_header->mutex);
  if (latch != nullptr) SetLatch(latch);
}

bool hold(Oid database, pid_t holder, const char* reason) noexcept {
  if (g_header == nullptr) return false;
  bool recorded = false;
  Latch* latches[64];
  int woken = 0;
  SpinLockAcquire(&g_header->mutex);
  for (detail::Hold& h : g_header->holds) {
    if (h.holder == 0) {
      h.database = database;
      h.holder = holder;
      recorded = true;
      break;
    }
  }
  for (int i = 0; i < g_header->count; ++i) {
    WorkerSlot& s = detail::slots()[i];
    if (!s.launched || s.database_oid != database) continue;
    s.leave = true;
    s.leave_as = core::WorkerExit::kLeft;
    strlcpy(s.leave_reason, reason, sizeof(s.leave_reason));
    if (s.latch != nullptr && woken < 64) latches[woken++] = s.latch;
  }
  SpinLockRelease(&g_header->mutex);
  for (int i = 0; i < woken; ++i) SetLatch(latches[i]);
  return recorded;
}

void release_holds(pid_t holder) noexcept {
  if (g_header == nullptr) return;
  bool released = false;
  SpinLockAcquire(&g_header->mutex);
  for (detail::Hold& h : g_header->holds) {
    if (h.holder == holder) {
      h.holder = 0;
      h.database = InvalidOid;
      released = true;
    }
  }
  Latch* latch = launcher_latch_locked();
  SpinLockRelease(&g_header->mutex);
  if (released && latch != nullptr) SetLatch(latch);
}

bool worker_in(Oid database, pid_t* pid) noexcept {
  *pid = 0;
  if (g_header == nullptr) return false;
  bool found = false;
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->count; ++i) {
    const WorkerSlot& s = detail::slots()[i];
    if (s.launched && s.database_oid == database &&
        (s.pid != 0 || s.exit == core::WorkerExit::kNone)) {
      found = true;
      if (s.pid != 0) *pid = s.pid;
    }
  }
  SpinLockRelease(&g_header->mutex);
  return found;
}

void request_check(Oid database) noexcept {
  if (g_header == nullptr) return;
  SpinLockAcquire(&g_header->mutex);
  detail::Header& h = *g_header;
  if (h.check_count < detail::kMaxCheckRequests) {
    h.check_requests[h.check_count++] = database;
  } else {
    h.check_overflow = true;
  }
  Latch* latch = launcher_latch_locked();
  SpinLockRelease(&g_header->mutex);
  if (latch != nullptr) SetLatch(latch);
}

void poke_launcher() noexcept {
  if (g_header == nullptr) return;
  SpinLockAcquire(&g_header->mutex);
  Latch* latch = launcher_latch_locked();
  SpinLockRelease(&g_header->mutex);
  if (latch != nullptr) SetLatch(latch);
}

// --- from the launcher -------------------------------------------------------

void set_launcher(pid_t pid, Latch* latch) noexcept {
  if (g_header == nullptr) return;
  SpinLockAcquire(&g_header->mutex);
  g_header->launcher_pid = pid;
  g_header->launcher_latch = latch;
  SpinLockRelease(&g_header->mutex);
}

void clear_launcher() noexcept { set_launcher(0, nullptr); }

int launch(Oid database, const char* name, uint32* generation) noexcept {
  if (g_header == nullptr) return -1;
  constexpr int kMaxSlots = 1024;
  uint32_t bound[kMaxSlots];
  bool busy[kMaxSlots];
  int index = -1;
  SpinLockAcquire(&g_header->mutex);
  const int count = g_header->count < kMaxSlots ? g_header->count : kMaxSlots;
  if (!held_locked(database)) {
    for (int i = 0; i < count; ++i) {
      bound[i] = detail::slots()[i].database_oid;
      busy[i] = detail::slots()[i].launched || detail::slots()[i].pid != 0;
    }
    index = core::choose_slot(bound, busy, count, database);
  }
  if (index >= 0) {
    WorkerSlot& s = detail::slots()[index];
    if (s.database_oid != database) {
      // Another database's slot (or a fresh one): its counters start over.
      const uint32 keep_generation = s.generation;
      memset(&s, 0, sizeof(s));
      s.generation = keep_generation;
      s.database_oid = database;
    }
    strlcpy(s.database, name, sizeof(s.database));
    s.generation++;
    s.launched = true;
    s.leave = false;
    s.leave_reason[0] = '\0';
    s.exit = core::WorkerExit::kNone;
    s.state = core::WorkerState::kStarting;
    *generation = s.generation;
  }
  SpinLockRelease(&g_header->mutex);
  return index;
}

void unlaunch(int slot) noexcept {
  update(slot, [](WorkerSlot& s) {
    s.launched = false;
    s.generation++;  // should the registration start after all, it exits at once
  });
}

bool reap(int slot, bool stopped, core::WorkerExit* why) noexcept {
  bool reaped = false;
  update(slot, [&](WorkerSlot& s) {
    if (!s.launched || s.pid != 0) return;
    // Without word from the postmaster, a worker that said why it exited.
    if (!stopped && s.exit == core::WorkerExit::kNone) return;
    *why = s.exit == core::WorkerExit::kNone ? core::WorkerExit::kFailed : s.exit;
    s.launched = false;
    s.leave = false;
    s.generation++;
    reaped = true;
  });
  return reaped;
}

void ask_to_leave(int slot, core::WorkerExit as, const char* reason) noexcept {
  Latch* latch = nullptr;
  update(slot, [&](WorkerSlot& s) {
    if (!s.launched || s.leave) return;
    s.leave = true;
    s.leave_as = as;
    strlcpy(s.leave_reason, reason, sizeof(s.leave_reason));
    latch = s.latch;
  });
  if (latch != nullptr) SetLatch(latch);
}

void unbind(int slot) noexcept {
  update(slot, [](WorkerSlot& s) {
    if (s.launched || s.pid != 0) return;
    const uint32 keep_generation = s.generation;
    memset(&s, 0, sizeof(s));
    s.generation = keep_generation;
  });
}

void rename(int slot, const char* name) noexcept {
  update(slot, [&](WorkerSlot& s) { strlcpy(s.database, name, sizeof(s.database)); });
}

std::vector<Oid> held_databases() {
  std::vector<detail::Hold> holds(detail::kMaxHolds);
  if (g_header == nullptr) return {};
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < detail::kMaxHolds; ++i) holds[i] = g_header->holds[i];
  SpinLockRelease(&g_header->mutex);
  std::vector<Oid> held;
  for (const detail::Hold& h : holds) {
    if (h.holder == 0) continue;
    // A holder that died without ending its transaction holds nothing.
    if (BackendPidGetProc(h.holder) == nullptr) {
      release_holds(h.holder);
      continue;
    }
    held.push_back(h.database);
  }
  return held;
}

std::vector<Oid> take_check_requests(bool* overflow) {
  std::vector<Oid> oids;
  oids.reserve(detail::kMaxCheckRequests);
  *overflow = false;
  if (g_header == nullptr) return oids;
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->check_count; ++i) oids.push_back(g_header->check_requests[i]);
  *overflow = g_header->check_overflow;
  g_header->check_count = 0;
  g_header->check_overflow = false;
  SpinLockRelease(&g_header->mutex);
  return oids;
}

// --- from a worker -----------------------------------------------------------

bool attach(int slot, uint32 generation, pid_t pid, Latch* latch, Oid* database,
            char* name) noexcept {
  bool ok = false;
  update(slot, [&](WorkerSlot& s) {
    if (!s.launched || s.generation != generation || s.pid != 0) return;
    s.pid = pid;
    s.latch = latch;
    s.state = core::WorkerState::kStarting;
    s.exit = core::WorkerExit::kFailed;  // unless it says otherwise before exiting
    *database = s.database_oid;
    strlcpy(name, s.database, NAMEDATALEN);
    ok = true;
  });
  return ok;
}

bool asked_to_leave(int slot, core::WorkerExit* as, std::string* reason) {
  bool leave = false;
  char why[sizeof(WorkerSlot::leave_reason)] = "";
  update(slot, [&](WorkerSlot& s) {
    leave = s.leave;
    *as = s.leave_as;
    memcpy(why, s.leave_reason, sizeof(why));
  });
  if (leave) *reason = why;
  return leave;
}

void set_exit(int slot, core::WorkerExit why) noexcept {
  update(slot, [&](WorkerSlot& s) { s.exit = why; });
}

void detach(int slot, pid_t pid) noexcept {
  Latch* latch = nullptr;
  update(slot, [&](WorkerSlot& s) {
    if (s.pid != pid) return;
    s.pid = 0;
    s.latch = nullptr;
    s.state = core::WorkerState::kStarting;
    s.exited_count = 0;
    s.exited_overflow = false;
    if (s.exit == core::WorkerExit::kNoExtension) s.has_extension = false;
    latch = g_header->launcher_latch;
  });
  if (latch != nullptr) SetLatch(latch);
}

std::vector<pid_t> take_exits(int slot, bool* overflow) {
  std::vector<pid_t> pids;
  pids.reserve(16);
  *overflow = false;
  if (g_header == nullptr || slot < 0 || slot >= g_header->count) return pids;
  SpinLockAcquire(&g_header->mutex);
  WorkerSlot& s = detail::slots()[slot];
  for (int i = 0; i < s.exited_count; ++i) pids.push_back(s.exited[i]);
  *overflow = s.exited_overflow;
  s.exited_count = 0;
  s.exited_overflow = false;
  SpinLockRelease(&g_header->mutex);
  return pids;
}

}  // namespace recovery::worker::shared
