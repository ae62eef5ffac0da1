#include "core/launcher_logic.hpp"

#include <algorithm>
#include <tuple>

namespace recovery::core {

void LauncherPlanner::configure(const std::vector<std::string>& only, int max_workers) {
  if (only != only_) {
    said_missing_.clear();
    said_unconnectable_.clear();
  }
  if (max_workers != max_workers_) {
    for (auto& [oid, m] : memory_) m.said_waiting = false;
  }
  only_ = only;
  max_workers_ = std::max(1, max_workers);
}

bool LauncherPlanner::allowed(const std::string& name) const {
  return only_.empty() || std::find(only_.begin(), only_.end(), name) != only_.end();
}

void LauncherPlanner::extension_created(uint32_t oid) {
  Memory& m = memory_[oid];
  m.requested = true;
  if (m.extension == Extension::kAbsent) m.not_before = 0;
}

void LauncherPlanner::found_extension(uint32_t oid) {
  memory_[oid].extension = Extension::kPresent;
}

void LauncherPlanner::started(uint32_t oid) {
  Memory& m = memory_[oid];
  m.requested = false;
  m.parked = false;
  m.said_waiting = false;
}

void LauncherPlanner::start_failed(uint32_t oid, double now) {
  memory_[oid].not_before = now + restart_seconds_;
}

void LauncherPlanner::exited(uint32_t oid, WorkerExit why, double now) {
  Memory& m = memory_[oid];
  switch (why) {
    case WorkerExit::kFailed:
      // A database that refuses the look itself (no CONNECT for
      // recovery.worker_role, say) is not hammered: it waits like a recheck.
      m.not_before =
          now + (m.extension == Extension::kPresent ? restart_seconds_ : recheck_seconds_);
      break;
    case WorkerExit::kNoExtension:
      m.extension = Extension::kAbsent;
      // A CREATE EXTENSION reported while it looked may have come too late for it.
      m.not_before = m.requested ? now : now + recheck_seconds_;
      break;
    case WorkerExit::kNone:
    case WorkerExit::kLeft:
    case WorkerExit::kStopped:
    case WorkerExit::kRestart:
      m.not_before = now;
      break;
  }
}

bool LauncherPlanner::knows_extension(uint32_t oid) const {
  auto it = memory_.find(oid);
  return it != memory_.end() && it->second.extension == Extension::kPresent;
}

LaunchPlan LauncherPlanner::plan(const std::vector<DatabaseEntry>& databases,
                                 const std::set<uint32_t>& running, const std::set<uint32_t>& held,
                                 double now) {
  LaunchPlan plan;
  std::vector<DatabaseEntry> sorted = databases;
  std::sort(sorted.begin(), sorted.end(),
            [](const DatabaseEntry& a, const DatabaseEntry& b) { return a.oid < b.oid; });

  std::set<uint32_t> present;
  std::set<std::string> names;
  std::vector<const DatabaseEntry*> eligible;
  for (const DatabaseEntry& db : sorted) {
    present.insert(db.oid);
    names.insert(db.name);
    const bool listed = allowed(db.name);
    if (!listed || !db.connectable) {
      if (running.count(db.oid) != 0) {
        plan.stop.emplace_back(db.oid,
                               listed ? "ALTER DATABASE (a template, or connections not allowed)"
                                      : "recovery.databases");
      }
      memory_.erase(db.oid);
      if (listed && !only_.empty() && said_unconnectable_.insert(db.name).second) {
        plan.messages.push_back("database \"" + db.name +
                                "\" in recovery.databases is a template or does not allow "
                                "connections: no worker there");
      }
      continue;
    }
    said_unconnectable_.erase(db.name);
    eligible.push_back(&db);
  }
  for (auto it = memory_.begin(); it != memory_.end();) {
    it = present.count(it->first) != 0 ? std::next(it) : memory_.erase(it);
  }
  for (const std::string& name : only_) {
    if (names.count(name) != 0) {
      said_missing_.erase(name);
    } else if (said_missing_.insert(name).second) {
      plan.messages.push_back("database \"" + name + "\" in recovery.databases does not exist");
    }
  }

  // Places in use: running workers (but those parked for max_workers, which
  // are leaving) and the reserved places of databases with the extension
  // whose worker is about to come back.
  int used = 0;
  int probing = 0;
  for (const DatabaseEntry* db : eligible) {
    Memory& m = memory_[db->oid];
    const bool has = m.extension == Extension::kPresent;
    if (has) plan.keep.insert(db->oid);
    if (m.parked) continue;
    if (running.count(db->oid) != 0) {
      ++used;
      if (!has) ++probing;
    } else if (has) {
      ++used;
    }
  }
  // Over the limit (recovery.max_workers lowered): the newest databases give
  // their places back.
  for (auto it = eligible.rbegin(); it != eligible.rend() && used > max_workers_; ++it) {
    Memory& m = memory_[(*it)->oid];
    if (m.extension != Extension::kPresent || m.parked) continue;
    m.parked = true;
    --used;
    if (running.count((*it)->oid) != 0) plan.stop.emplace_back((*it)->oid, "recovery.max_workers");
  }

  // Databases due for a start, best first: back after a pause, then parked,
  // then reported by CREATE EXTENSION, then never checked, then rechecks.
  std::vector<std::tuple<int, uint32_t, const DatabaseEntry*>> due;
  for (const DatabaseEntry* db : eligible) {
    if (running.count(db->oid) != 0 || held.count(db->oid) != 0) continue;
    const Memory& m = memory_[db->oid];
    if (now < m.not_before) {
      if (plan.next_due < 0 || m.not_before < plan.next_due) plan.next_due = m.not_before;
      continue;
    }
    int rank = 4;
    if (m.extension == Extension::kPresent) {
      rank = m.parked ? 1 : 0;
    } else if (m.requested) {
      rank = 2;
    } else if (m.extension == Extension::kUnknown) {
      rank = 3;
    }
    due.emplace_back(rank, db->oid, db);
  }
  std::sort(due.begin(), due.end());
  for (const auto& [rank, oid, db] : due) {
    Memory& m = memory_[oid];
    const bool reserved = m.extension == Extension::kPresent && !m.parked;
    if (reserved || used < max_workers_) {
      plan.start.push_back(oid);
      if (!reserved) {
        ++used;
        if (m.extension != Extension::kPresent) ++probing;
      }
      continue;
    }
    // Probes end within moments: a wait behind one is not worth a line.
    if (probing > 0 || m.said_waiting) continue;
    m.said_waiting = true;
    const std::string limit = "recovery.max_workers (" + std::to_string(max_workers_) + ")";
    if (m.extension == Extension::kPresent) {
      plan.messages.push_back("database \"" + db->name + "\" waits for a free worker: " + limit +
                              " are all busy");
    } else {
      plan.messages.push_back(
          "database \"" + db->name +
          "\" is not checked for the extension until a worker is free: " + limit + " are all busy");
    }
  }
  return plan;
}

int choose_slot(const uint32_t* bound, const bool* busy, int count, uint32_t oid) noexcept {
  int unused = -1;
  int other = -1;
  for (int i = 0; i < count; ++i) {
    if (busy[i]) continue;
    if (bound[i] == oid) return i;
    if (bound[i] == 0 && unused < 0) unused = i;
    if (other < 0) other = i;
  }
  return unused >= 0 ? unused : other;
}

}  // namespace recovery::core
