// Pure logic of the launcher: which databases get a worker, when, and what
// the launcher says about it. No PostgreSQL headers: unit tested alone.
//
// The launcher cannot read pg_extension of other databases. It starts a
// worker in every connectable database (or those recovery.databases names);
// a worker that finds no extension exits at once (kNoExtension) and the
// database is checked again after `recheck_seconds`, or at once when a
// CREATE EXTENSION recovery there is reported. A database known to have the
// extension keeps its place among recovery.max_workers.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace recovery::core {

// Why a per-database worker exited, as it tells the launcher.
enum class WorkerExit : int {
  kNone = 0,     // has not exited (or never said)
  kFailed,       // an error, SIGTERM, a connection refused: start again after a pause
                 // (restart_seconds; recheck_seconds if the extension was not seen yet)
  kNoExtension,  // no recovery extension in its database: check again later
  kLeft,         // made way for DROP/RENAME/CREATE DATABASE … TEMPLATE: back once it is over
  kStopped,      // stopped by the launcher (recovery.databases, max_workers, connections)
  kRestart,      // wants a fresh start at once (recovery.worker_role changed)
};

// One row of pg_database, as the launcher sees it.
struct DatabaseEntry {
  uint32_t oid = 0;
  std::string name;
  bool connectable = false;  // datallowconn, not a template, not half-dropped
};

struct LaunchPlan {
  std::vector<uint32_t> start;  // databases to start a worker in, in this order
  // Databases whose running worker should leave, and why (what it says).
  std::vector<std::pair<uint32_t, std::string>> stop;
  std::set<uint32_t> keep;            // databases whose worker slot (and counters) stays reserved
  std::vector<std::string> messages;  // LOG lines, each said once
  double next_due = -1;               // earliest time a waiting start becomes due (-1: none)
};

class LauncherPlanner {
 public:
  LauncherPlanner(double restart_seconds, double recheck_seconds)
      : restart_seconds_(restart_seconds), recheck_seconds_(recheck_seconds) {}

  // recovery.databases (parsed; empty: every database) and recovery.max_workers.
  void configure(const std::vector<std::string>& only, int max_workers);

  // Events, as the launcher learns them.
  void extension_created(uint32_t oid);         // CREATE EXTENSION recovery committed there
  void found_extension(uint32_t oid);           // its worker found the extension
  void started(uint32_t oid);                   // a worker was launched there
  void start_failed(uint32_t oid, double now);  // no background worker could be registered
  void exited(uint32_t oid, WorkerExit why, double now);

  // What to do now. `running`: databases with a launched worker; `held`:
  // databases a DDL command is making way in (nothing starts there).
  LaunchPlan plan(const std::vector<DatabaseEntry>& databases, const std::set<uint32_t>& running,
                  const std::set<uint32_t>& held, double now);

  bool knows_extension(uint32_t oid) const;

 private:
  enum class Extension { kUnknown, kPresent, kAbsent };
  struct Memory {
    Extension extension = Extension::kUnknown;
    double not_before = 0;
    bool requested = false;     // CREATE EXTENSION reported since the last start
    bool parked = false;        // stopped for max_workers: no reserved place
    bool said_waiting = false;  // "waits for a free worker" said for this wait
  };
  bool allowed(const std::string& name) const;

  double restart_seconds_;
  double recheck_seconds_;
  std::vector<std::string> only_;
  int max_workers_ = 1;
  std::map<uint32_t, Memory> memory_;
  std::set<std::string> said_missing_;
  std::set<std::string> said_unconnectable_;
};

// The worker slot for database `oid` among `count` slots: a free slot that
// last served it (its counters go on), else a free slot that served none,
// else any free slot; -1 when none is free. bound[i]: the database slot i
// last served (0: none); busy[i]: a worker is launched there. No allocation,
// never throws: called under a spinlock.
int choose_slot(const uint32_t* bound, const bool* busy, int count, uint32_t oid) noexcept;

}  // namespace recovery::core
