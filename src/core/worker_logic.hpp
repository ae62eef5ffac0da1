// Pure logic of the background worker: configuration parsing and what it
// says. No PostgreSQL headers, so it is unit tested without a server.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace recovery::core {

// What a worker is doing, as worker_status() reports it.
enum class WorkerState : int {
  kStarting = 0,
  kIdle,
  kRunning,
  kWaitingForExtension,
  kStandby,
  kDisabled,
};
const char* worker_state_name(WorkerState state);

// Splits `recovery.databases` ("postgres, app_db") into names: trimmed,
// empty entries and duplicates dropped, order kept. A name may be written in
// double quotes to keep spaces, commas or capitals ("My DB").
std::vector<std::string> parse_database_list(const std::string& setting);

// The LOG line for a cycle that recovered something (empty when nothing):
// recovered 3 stuck runs in database "app" (public.runs: 2, public.jobs: 1)
std::string cycle_summary(const std::string& database,
                          const std::vector<std::pair<std::string, uint64_t>>& per_table);

}  // namespace recovery::core
