// Who runs a watched table's statements, and whether the caller may write it.
// Shared by the engine's statements (recover, claims, undo).
#pragma once

#include "bridge/backend.hpp"
#include "registry/registry.hpp"

namespace recovery::engine {

// Runs the statements that execute a table's own code (its triggers, casts,
// type I/O). A superuser who does not own the table runs them as the owner,
// security-restricted, as VACUUM does: otherwise any role able to create a
// watched table could run code with superuser rights through a superuser's
// call, a pg_cron job or the worker. Anyone else runs them as themselves,
// exactly as their own UPDATE would.
template <typename Fn>
void with_table_code_user(const registry::Watched& w, Fn&& fn) {
  const Oid owner = pg::relation_owner(w.relid);
  if (owner != pg::current_user_id() && pg::current_user_is_superuser()) {
    pg::as_role(owner, fn, true);
  } else {
    fn();
  }
}

// UPDATE on the table, or on every column recovery writes.
inline bool may_update(const registry::Watched& w) {
  if (pg::has_table_privilege(w.relid, ACL_UPDATE)) return true;
  for (AttrNumber attnum : w.updated_columns) {
    if (!pg::has_column_privilege(w.relid, attnum, ACL_UPDATE)) return false;
  }
  return true;
}

}  // namespace recovery::engine
