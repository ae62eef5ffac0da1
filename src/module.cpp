// The shared library's identity and load-time hook.
#include "pg/postgres.hpp"
#include "engine/claims.hpp"
#include "worker/hooks.hpp"
#include "worker/launcher.hpp"
#include "settings/settings.hpp"
#include "worker/shared_state.hpp"

extern "C" {
#include "miscadmin.h"

PG_MODULE_MAGIC;
void _PG_init(void);
}

void _PG_init(void) {
  recovery::settings::define();
  // The launcher, its workers and their shared memory exist only when
  // preloaded; never under pg_upgrade, whose restore a worker connecting to
  // the new cluster's databases would break.
  if (!process_shared_preload_libraries_in_progress || IsBinaryUpgrade) return;
  recovery::worker::shared::request();
  recovery::engine::claims::set_exit_listener(recovery::worker::shared::report_exit);
  recovery::worker::install_hooks();
  recovery::worker::register_launcher();
}
