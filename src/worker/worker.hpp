// The per-database background worker, started by the launcher in each
// database that has the extension. Each cycle recovers the stuck runs of
// every watched table through the same engine as recovery.recover_stuck_runs(),
// in batches of one transaction each. It exits quietly when the extension is
// absent or dropped, and leaves when asked to (a DDL command on its database,
// the launcher).
#pragma once

#include "pg/postgres.hpp"

extern "C" {
#include "postmaster/bgworker.h"
}

namespace recovery::worker {

// From the launcher: registers a dynamic worker for slot `slot`, launch
// `generation`; false when no background worker slot is free.
bool start_worker(int slot, uint32 generation, const char* database,
                  BackgroundWorkerHandle** handle);

}  // namespace recovery::worker
