// Hooks in every backend (the library is preloaded) that keep the workers
// out of the way and the launcher informed:
//  - before DROP DATABASE, ALTER DATABASE … RENAME TO / SET TABLESPACE and
//    CREATE DATABASE … TEMPLATE, the workers of that database are asked to
//    leave and waited for (briefly), and none starts there until the
//    command's transaction ends: the command succeeds without FORCE, as it
//    does with autovacuum;
//  - after CREATE EXTENSION recovery commits, the launcher looks at that
//    database at once; after DROP EXTENSION recovery commits, its worker
//    wakes, finds the extension gone and exits; CREATE/ALTER DATABASE wake
//    the launcher;
//  - DISCARD ALL (a session-mode pooler handing the backend to its next
//    client) ends the session's claims as if it had ended, and wakes the
//    worker when it commits;
//  - instance_start() and instance_stop() wake the worker when they commit.
#pragma once

namespace recovery::worker {

// Installs the hooks; call from _PG_init while preloading.
void install_hooks();

// The worker of this database wakes when the current transaction commits.
void wake_worker_at_commit() noexcept;

}  // namespace recovery::worker
