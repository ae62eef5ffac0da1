#include "worker/shared_state.hpp"

extern "C" {
#include "storage/ipc.h"
#include "storage/shmem.h"
}

namespace recovery::shared {

namespace {

detail::Header* g_header = nullptr;
std::vector<std::string>* g_databases = nullptr;  // postmaster only, until startup
shmem_request_hook_type g_prev_request = nullptr;
shmem_startup_hook_type g_prev_startup = nullptr;

Size state_size(int count) {
  return add_size(MAXALIGN(sizeof(detail::Header)), mul_size(count, sizeof(WorkerSlot)));
}

int requested_count() { return g_databases == nullptr ? 0 : static_cast<int>(g_databases->size()); }

// Hooks are called by PostgreSQL's C code: they must not throw, and they
// only make allocation-free PostgreSQL calls whose errors are fatal anyway.
void on_shmem_request() {
  if (g_prev_request != nullptr) g_prev_request();
  RequestAddinShmemSpace(state_size(requested_count()));
}

void on_shmem_startup() {
  if (g_prev_startup != nullptr) g_prev_startup();
  LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
  bool found = false;
  const int count = requested_count();
  auto* header = static_cast<detail::Header*>(
      ShmemInitStruct("recovery worker state", state_size(count), &found));
  if (!found) {
    SpinLockInit(&header->mutex);
    header->count = count;
    auto* slots = reinterpret_cast<WorkerSlot*>(reinterpret_cast<char*>(header) +
                                                MAXALIGN(sizeof(detail::Header)));
    for (int i = 0; i < count; ++i) {
      WorkerSlot& slot = slots[i];
      memset(&slot, 0, sizeof(slot));
      strlcpy(slot.database, (*g_databases)[i].c_str(), sizeof(slot.database));
      slot.state = core::WorkerState::kStarting;
    }
  }
  g_header = header;
  LWLockRelease(AddinShmemInitLock);
}

}  // namespace

namespace detail {
Header* header() { return g_header; }
WorkerSlot* slots() {
  return reinterpret_cast<WorkerSlot*>(reinterpret_cast<char*>(g_header) +
                                       MAXALIGN(sizeof(Header)));
}
}  // namespace detail

void request(const std::vector<std::string>& databases) {
  // Lives for the postmaster's lifetime; children inherit the copy.
  g_databases = new std::vector<std::string>(databases);
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

int slot_of(const std::string& database) {
  if (g_header == nullptr) return -1;
  for (int i = 0; i < g_header->count; ++i) {
    if (database == detail::slots()[i].database) return i;  // names never change
  }
  return -1;
}

void report_exit(int slot, pid_t pid) noexcept {
  if (g_header == nullptr || slot < 0 || slot >= g_header->count) return;
  Latch* latch = nullptr;
  SpinLockAcquire(&g_header->mutex);
  WorkerSlot& s = detail::slots()[slot];
  if (s.exited_count < static_cast<int>(sizeof(s.exited) / sizeof(s.exited[0]))) {
    s.exited[s.exited_count++] = pid;
  } else {
    s.exited_overflow = true;
  }
  latch = s.latch;
  SpinLockRelease(&g_header->mutex);
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

bool wake(const std::string& database) {
  if (g_header == nullptr) return false;
  Latch* latch = nullptr;
  SpinLockAcquire(&g_header->mutex);
  for (int i = 0; i < g_header->count; ++i) {
    const WorkerSlot& slot = detail::slots()[i];
    if (slot.pid != 0 && database == slot.database) latch = slot.latch;
  }
  SpinLockRelease(&g_header->mutex);
  if (latch == nullptr) return false;
  SetLatch(latch);
  return true;
}

}  // namespace recovery::shared
