// The SQL of app instances (engine/instances.cpp) and of the claims they
// own (engine/claims.cpp): every statement recovery runs on
// recovery.instance_incarnations and recovery.claims, built here so that
// test/unit checks each one is qualified (core/sql_check.hpp). Pure C++.
// Row alias i is an incarnation, c a claim; parameters are noted per
// statement.
#pragma once

#include <string>

namespace recovery::core::instance_sql {

// The incarnation is live: not ended, lease not lapsed (alias i).
std::string live();

// $1 token (bytea): id, instance, role text, ended, live; then `lock`.
std::string find_by_token(const std::string& lock);
// $1 name: a transaction advisory lock on the name.
std::string lock_name();
// $1 name: the role of the name's first incarnation.
std::string name_owner();
// $1 name: ends the current incarnation (superseded).
std::string supersede();
// $1 name: removes incarnations that ended a day ago and own no claim.
std::string prune_ended();
// $1 name, $2 token (bytea), $3 role (text), $4 lease.
std::string insert();
// $1 id.
std::string renew();
// $1 id.
std::string stop();
// $1 id: int4 count of its claims.
std::string count_claims();
// $1 table (regclass): jsonb text {"<id>": "<reason>"} of ended (or, unless
// `ended_only`, lapsed) incarnations owning claims on the table (NULL when
// none).
std::string dead_incarnations(bool ended_only);
// $1 table (regclass): ends (end_reason 'lapsed') the lapsed incarnations
// owning claims on the table whose rows no heartbeat holds: the fence a
// recovery puts up before it fails their runs.
std::string end_lapsed();
// $1 table (regclass): one row, whether the table has claims (bool), whether
// a lapsed incarnation not yet ended owns some (bool), and
// dead_incarnations() of it: what the statements on the table need, in one look.
std::string table_claims(bool ended_only);
// One row when an ended or lapsed incarnation owns a claim.
std::string any_ended_with_claims();
// $1 timestamptz: the earliest lease expiry after it of a live incarnation.
std::string next_expiry();

// $1 table, $2 run id, $3 pid, $4 backend start, $5 role, $6 incarnation
// (NULL: the session's claim). Returns a row when claimed: a live claim of
// another owner is never taken over.
std::string claim_upsert();
// $1 table, $2 run ids (text[]), $3 pid, $4 backend start, $5 whether the
// caller may end anyone's claim, $6 the caller's role.
std::string release_delete();
// $1 pid, $2 backend start: the session's own claims end (DISCARD ALL).
std::string end_session_claims();
// $1 table, $2 run ids (text[]), $3 their claimed_at (timestamptz[]): the
// finished claims one snapshot saw (table_sql's finished_claims_query) end,
// those still as seen only (a claim made again since has a new claimed_at).
std::string forget_seen_claims();

}  // namespace recovery::core::instance_sql
