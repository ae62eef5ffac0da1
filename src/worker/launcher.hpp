// The launcher: one static background worker, connected to no database,
// that reads pg_database and starts a per-database worker (a dynamic
// background worker) in every database that has the extension, within
// recovery.databases and recovery.max_workers; see core/launcher_logic.hpp
// for what it decides and README, "Running it automatically", for what it says.
#pragma once

namespace recovery::worker {

// Registers the launcher; call from _PG_init while preloading.
void register_launcher();

}  // namespace recovery::worker
