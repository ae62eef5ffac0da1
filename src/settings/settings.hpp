// recovery.* configuration parameters (GUCs). Defined in _PG_init of every
// process that loads the library; the worker re-reads them on SIGHUP.
#pragma once

namespace recovery::settings {

extern char* databases;                // recovery.databases (empty: every database)
extern int max_workers;                // recovery.max_workers
extern char* worker_role;              // recovery.worker_role
extern bool enabled;                   // recovery.enabled
extern int naptime_seconds;            // recovery.naptime
extern int timeout_minutes;            // recovery.timeout
extern int batch_size;                 // recovery.batch_size
extern int history_retention_minutes;  // recovery.history_retention (0 keeps all)
extern int lock_timeout_ms;            // recovery.lock_timeout
extern int statement_timeout_ms;       // recovery.statement_timeout (0: none)

void define();

}  // namespace recovery::settings
