// Who runs a watched table's code, which tables a call covers, and whether
// the caller may read or write a table. Shared by every statement that
// touches an application's table (find, recover, claims, undo, watch).
//
// The model (docs/security.md):
// - A table's code (triggers, casts and I/O of its types, index expressions,
//   policies) runs as the table's owner, security-restricted, in a GUC nest
//   level of its own that is thrown away afterwards (pg::run_restricted).
// - The one exception: a caller that lacks the owner's privileges and whose
//   view of the table row-level security filters. The owner would bypass
//   those policies, so the statements run as the caller, still restricted.
//   Only a call that names the table does this: querying a table runs its
//   owner's code, so naming it is consent to that.
// - A call without a table argument covers only the tables whose owner's
//   privileges the caller has (superusers and a superuser worker: all), and
//   skips the others without running any of their code.
// - A caller without the owner's privileges still needs its own grants:
//   SELECT to see runs, UPDATE on every column recovery writes to change them.
#pragma once

#include "pg/scope.hpp"
#include "registry/registry.hpp"

namespace recovery::engine {

// The caller has the privileges of the table's owner (is the owner, a member
// of its role, or a superuser).
bool has_owner_privileges(const registry::Watched& w);

// Whether a call that names no table covers `w`.
inline bool covers(const registry::Watched& w) { return has_owner_privileges(w); }

// The role a table's code runs as for this caller (see above).
Oid table_code_role(const registry::Watched& w);

// Runs fn() as the table's code: as table_code_role(), restricted.
void with_table_code(const registry::Watched& w, const pg::Scoped& fn);

// UPDATE on the table, or on every column recovery writes.
bool may_update(const registry::Watched& w);

// Throws 42501 unless the caller may read the runs of `w`: every column when
// `whole_rows` (the run as jsonb shows them all), else the columns recovery
// reads to decide.
void require_read(const registry::Watched& w, bool whole_rows);

}  // namespace recovery::engine
