// The shared library's identity and load-time hook.
#include "bridge/postgres.hpp"
#include "worker/settings.hpp"
#include "worker/worker.hpp"

extern "C" {
PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
  recovery::settings::define();
  // The worker and its shared memory exist only when preloaded.
  if (process_shared_preload_libraries_in_progress) recovery::worker::register_workers();
}
