// The background worker: one per database in recovery.databases. Each cycle
// recovers the stuck runs of every watched table through the same engine as
// recovery.recover_stuck_runs(), in batches of one transaction each.
#pragma once

namespace recovery::worker {

// Registers the workers; call from _PG_init while preloading.
void register_workers();

}  // namespace recovery::worker
