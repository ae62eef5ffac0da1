// Pure logic of the background worker: configuration parsing and what it
// says. No PostgreSQL headers, so it is unit tested without a server.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace recovery::core {

// What a worker is doing, as worker_status() reports it.
enum class WorkerState : int {
  kStarting = 0,
  kIdle,
  kRunning,
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

// Says a lasting problem once instead of every cycle. Keys name what failed
// (an operation, a table); problems are messages.
class ProblemLog {
 public:
  // Starts a cycle: keys not touched again before end_cycle() are forgotten.
  void begin_cycle() { touched_.clear(); }
  // True when `key` had no problem or another one (say it); records it.
  bool report(const std::string& key, const std::string& problem);
  // True when `key` had a problem (say it is over); forgets it.
  bool clear(const std::string& key);
  // Forgets, silently, the problems of keys this cycle did not touch: a
  // table no longer watched, an operation no longer done.
  void end_cycle();
  bool has(const std::string& key) const { return open_.count(key) != 0; }

 private:
  std::map<std::string, std::string> open_;
  std::set<std::string> touched_;
};

}  // namespace recovery::core
