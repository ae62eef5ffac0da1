// Claims: an app session says it owns a run (recovery.claim); recovery then
// knows for certain when that session is gone, instead of guessing with a
// timeout. A claim is live while its backend (pid and start time) runs, or
// while the app instance incarnation that made it lives (instances.hpp).
#pragma once

#include "registry/registry.hpp"

namespace recovery::engine::claims {

// Told, as a backend that claimed runs exits, its database and pid. Runs in
// a shmem-exit callback: must not throw, allocate or call PostgreSQL.
using ExitListener = void (*)(Oid database, int pid) noexcept;
// Set once at load time (the worker layer's shared::report_exit).
void set_exit_listener(ExitListener listener);

// Records that this backend (or, given an instance token, that app instance
// incarnation: engine/instances.hpp) owns run `run_id` of watched table
// `relid`. False when the run does not exist or is not active, when another
// live owner holds it, or when the incarnation has ended. Needs SPI.
bool claim(Oid relid, const std::string& run_id,
           const std::optional<std::string>& instance = std::nullopt);

// DISCARD ALL (a session-mode pooler hands the backend to another client):
// this session's claims end as if it had ended (owner_gone). True when it
// had any. Connects to SPI itself, only when this session ever claimed.
bool end_session_claims();

// Ends a claim; false when there was none. Needs SPI.
bool release(Oid relid, const std::string& run_id);

// Whether server process `pid`, started at `started`, still runs. A claim
// made before the server (re)started is dead whatever its pid.
bool backend_alive(int32 pid, TimestampTz started);

// Whether any claim names the table (the engine then consults claims). Needs SPI.
bool table_has_claims(Oid relid);

// What the statements on table `relid` need of its claims, in one look:
// whether it has any, and the ended or lapsed incarnations that own some, as
// a jsonb object's text {"<incarnation>": "<reason>"} (instance_restarted,
// instance_stopped, instance_gone). With `fence` (a recovery), lapsed
// incarnations are ended first and only ended ones count: a heartbeat in
// flight keeps its incarnation (and its runs) alive, one that comes after
// returns false. Needs SPI.
struct TableClaims {
  bool any = false;
  std::string ended = "{}";
};
TableClaims table_claims(Oid relid, bool fence);

// Drops the claims of runs just recovered (text run ids). Needs SPI.
void forget(Oid relid, const std::vector<Datum>& run_ids);

// Drops the claims of tables dropped by the current command (from the
// sql_drop event trigger). Needs SPI.
void forget_dropped_tables();

// Drops claims whose run is gone or no longer active. Needs SPI.
uint64 forget_finished(const registry::Watched& table);

}  // namespace recovery::engine::claims
