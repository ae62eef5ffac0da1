#include "core/worker_logic.hpp"

#include <algorithm>

namespace recovery::core {

const char* worker_state_name(WorkerState state) {
  switch (state) {
    case WorkerState::kStarting:
      return "starting";
    case WorkerState::kIdle:
      return "idle";
    case WorkerState::kRunning:
      return "running";
    case WorkerState::kStandby:
      return "standby";
    case WorkerState::kDisabled:
      return "disabled";
  }
  return "unknown";
}

namespace {
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
}  // namespace

std::vector<std::string> parse_database_list(const std::string& setting) {
  std::vector<std::string> names;
  size_t i = 0;
  while (i < setting.size()) {
    while (i < setting.size() && (is_space(setting[i]) || setting[i] == ',')) ++i;
    if (i >= setting.size()) break;
    std::string name;
    if (setting[i] == '"') {
      // Quoted: "" stands for one double quote; runs to the closing quote.
      for (++i; i < setting.size(); ++i) {
        if (setting[i] == '"') {
          if (i + 1 < setting.size() && setting[i + 1] == '"') {
            name += '"';
            ++i;
          } else {
            ++i;
            break;
          }
        } else {
          name += setting[i];
        }
      }
      while (i < setting.size() && setting[i] != ',') ++i;
    } else {
      while (i < setting.size() && setting[i] != ',') name += setting[i++];
      while (!name.empty() && is_space(name.back())) name.pop_back();
    }
    if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
      names.push_back(name);
    }
  }
  return names;
}

std::string cycle_summary(const std::string& database,
                          const std::vector<std::pair<std::string, uint64_t>>& per_table) {
  uint64_t total = 0;
  std::string tables;
  for (const auto& [table, count] : per_table) {
    if (count == 0) continue;
    total += count;
    tables += (tables.empty() ? "" : ", ") + table + ": " + std::to_string(count);
  }
  if (total == 0) return {};
  return "recovered " + std::to_string(total) + " stuck run" + (total == 1 ? "" : "s") +
         " in database \"" + database + "\" (" + tables + ")";
}

bool ProblemLog::report(const std::string& key, const std::string& problem) {
  touched_.insert(key);
  auto [it, inserted] = open_.emplace(key, problem);
  if (inserted) return true;
  if (it->second == problem) return false;
  it->second = problem;
  return true;
}

bool ProblemLog::clear(const std::string& key) {
  touched_.insert(key);
  return open_.erase(key) != 0;
}

void ProblemLog::end_cycle() {
  for (auto it = open_.begin(); it != open_.end();) {
    it = touched_.count(it->first) != 0 ? std::next(it) : open_.erase(it);
  }
}

}  // namespace recovery::core
