#include "core/instance_sql.hpp"

#include "core/statement.hpp"

namespace recovery::core::instance_sql {

namespace {
const char* const kTable = "recovery.instance_incarnations AS i";
}  // namespace

std::string live() {
  return "(i.ended_at IS NULL AND (i.last_heartbeat_at" + op("+") + "i.lease)" + op(">=") +
         "pg_catalog.clock_timestamp())";
}

std::string find_by_token(const std::string& lock) {
  return "SELECT i.id, i.instance, i.role_name::pg_catalog.text, i.ended_at IS NOT NULL, " +
         live() + " FROM " + kTable + " WHERE i.token_hash" + op("=") + "pg_catalog.sha256($1) " +
         lock;
}

std::string lock_name() {
  // A 64-bit key of recovery's own (an app's advisory keys are unlikely to
  // meet it): starts of one name, the first one included, take turns.
  return "SELECT pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('recovery "
         "instance '" +
         op("||") + "$1, 0))";
}

std::string name_owner() {
  return std::string("SELECT i.role_name::pg_catalog.text FROM ") + kTable + " WHERE i.instance" +
         op("=") + "$1 ORDER BY i.id LIMIT 1";
}

std::string supersede() {
  return std::string("UPDATE ") + kTable +
         " SET ended_at = pg_catalog.clock_timestamp(), end_reason = 'superseded' WHERE "
         "i.instance" +
         op("=") + "$1 AND i.ended_at IS NULL";
}

std::string prune_ended() {
  return std::string("DELETE FROM ") + kTable + " WHERE i.instance" + op("=") +
         "$1 AND i.ended_at" + op("<") + "(pg_catalog.clock_timestamp()" + op("-") +
         "'1 day'::pg_catalog.interval) AND NOT EXISTS (SELECT 1 FROM recovery.claims AS c WHERE "
         "c.incarnation" +
         op("=") + "i.id)";
}

std::string insert() {
  return "INSERT INTO recovery.instance_incarnations (instance, token_hash, role_name, "
         "started_at, last_heartbeat_at, lease) VALUES ($1, pg_catalog.sha256($2), "
         "$3::pg_catalog.name, pg_catalog.clock_timestamp(), pg_catalog.clock_timestamp(), $4)";
}

std::string renew() {
  return std::string("UPDATE ") + kTable +
         " SET last_heartbeat_at = pg_catalog.clock_timestamp() WHERE i.id" + op("=") + "$1";
}

std::string stop() {
  return std::string("UPDATE ") + kTable +
         " SET ended_at = pg_catalog.clock_timestamp(), end_reason = 'stopped' WHERE i.id" +
         op("=") + "$1";
}

std::string count_claims() {
  return "SELECT pg_catalog.count(*)::pg_catalog.int4 FROM recovery.claims AS c WHERE "
         "c.incarnation" +
         op("=") + "$1";
}

std::string dead_incarnations(bool ended_only) {
  return "SELECT pg_catalog.jsonb_object_agg(i.id::pg_catalog.text, CASE WHEN i.end_reason" +
         op("=") + "'superseded' THEN 'instance_restarted' WHEN i.end_reason" + op("=") +
         "'stopped' THEN 'instance_stopped' ELSE 'instance_gone' END)::pg_catalog.text FROM " +
         kTable + " WHERE " + (ended_only ? "i.ended_at IS NOT NULL" : "NOT " + live()) +
         " AND EXISTS (SELECT 1 FROM recovery.claims AS c WHERE c.run_table" + op("=") +
         "$1 AND c.incarnation" + op("=") + "i.id)";
}

std::string end_lapsed() {
  // The lapsed rows are locked first, skipping any a heartbeat holds: a
  // renewal in flight wins, and one that comes later waits and finds the
  // incarnation ended. The lock re-reads each row as last committed.
  return "UPDATE recovery.instance_incarnations AS i SET ended_at = i.last_heartbeat_at" + op("+") +
         "i.lease, end_reason = 'lapsed' FROM (SELECT l.id FROM " +
         "recovery.instance_incarnations AS l WHERE l.ended_at IS NULL AND (l.last_heartbeat_at" +
         op("+") + "l.lease)" + op("<") +
         "pg_catalog.clock_timestamp() AND EXISTS (SELECT 1 FROM recovery.claims AS c WHERE "
         "c.run_table" +
         op("=") + "$1 AND c.incarnation" + op("=") +
         "l.id) FOR NO KEY UPDATE OF l SKIP LOCKED) AS x WHERE i.id" + op("=") + "x.id";
}

std::string table_claims(bool ended_only) {
  return "SELECT EXISTS (SELECT 1 FROM recovery.claims AS c WHERE c.run_table" + op("=") +
         "$1), EXISTS (SELECT 1 FROM recovery.claims AS c JOIN " + kTable + " ON i.id" + op("=") +
         "c.incarnation WHERE c.run_table" + op("=") + "$1 AND i.ended_at IS NULL AND NOT " +
         live() + "), (" + dead_incarnations(ended_only) + ")";
}

std::string any_ended_with_claims() {
  return std::string("SELECT 1 FROM ") + kTable + " WHERE NOT " + live() +
         " AND EXISTS (SELECT 1 FROM recovery.claims AS c WHERE c.incarnation" + op("=") +
         "i.id) LIMIT 1";
}

std::string next_expiry() {
  return "SELECT pg_catalog.min(i.last_heartbeat_at" + op("+") + "i.lease) FROM " +
         std::string(kTable) + " WHERE i.ended_at IS NULL AND (i.last_heartbeat_at" + op("+") +
         "i.lease)" + op(">") + "$1";
}

std::string claim_upsert() {
  // Dead: a session's whose backend is gone, or an incarnation's that is
  // over. Own: this session's (it may pass to an incarnation), or the same
  // incarnation's.
  return "INSERT INTO recovery.claims AS c (run_table, run_id, backend_pid, backend_start, "
         "claimed_by, incarnation) VALUES ($1, $2, $3, $4, $5::pg_catalog.name, $6) ON CONFLICT "
         "(run_table, run_id) DO UPDATE SET backend_pid = EXCLUDED.backend_pid, backend_start = "
         "EXCLUDED.backend_start, claimed_at = pg_catalog.now(), claimed_by = "
         "EXCLUDED.claimed_by, incarnation = EXCLUDED.incarnation WHERE (c.incarnation IS NULL "
         "AND NOT recovery.backend_alive(c.backend_pid, c.backend_start)) OR (c.incarnation IS "
         "NOT NULL AND NOT EXISTS (SELECT 1 FROM " +
         std::string(kTable) + " WHERE i.id" + op("=") + "c.incarnation AND " + live() +
         ")) OR (c.incarnation IS NULL AND c.backend_pid" + op("=") +
         "EXCLUDED.backend_pid AND c.backend_start" + op("=") +
         "EXCLUDED.backend_start) OR c.incarnation" + op("=") + "EXCLUDED.incarnation RETURNING 1";
}

std::string release_delete() {
  return "DELETE FROM recovery.claims AS c WHERE c.run_table" + op("=") + "$1 AND c.run_id" +
         op("=") + "ANY ($2) AND ($5 OR (c.incarnation IS NULL AND c.backend_pid" + op("=") +
         "$3 AND c.backend_start" + op("=") + "$4) OR EXISTS (SELECT 1 FROM " + kTable +
         " WHERE i.id" + op("=") + "c.incarnation AND i.role_name" + op("=") +
         "$6::pg_catalog.name))";
}

std::string end_session_claims() {
  // A start time before the server's: dead for backend_alive(), as the
  // claim of a session that ended.
  return "UPDATE recovery.claims AS c SET backend_start = '-infinity'::pg_catalog.timestamptz "
         "WHERE c.incarnation IS NULL AND c.backend_pid" +
         op("=") + "$1 AND c.backend_start" + op("=") + "$2";
}

std::string forget_seen_claims() {
  return "DELETE FROM recovery.claims AS c USING ROWS FROM "
         "(pg_catalog.unnest($2::pg_catalog.text[]), "
         "pg_catalog.unnest($3::pg_catalog.timestamptz[])) AS f(run_id, claimed_at) WHERE "
         "c.run_table" +
         op("=") + "$1 AND c.run_id" + op("=") + "f.run_id AND c.claimed_at" + op("=") +
         "f.claimed_at";
}

}  // namespace recovery::core::instance_sql
