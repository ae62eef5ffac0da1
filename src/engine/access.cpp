#include "engine/access.hpp"
#include "pg/catalog.hpp"

#include "core/error.hpp"

extern "C" {
#include "utils/acl.h"
#include "utils/rls.h"
}

namespace recovery::engine {

bool has_owner_privileges(const registry::Watched& w) {
  const Oid owner = w.owner;
  return pg::guard([&] { return has_privs_of_role(GetUserId(), owner); });
}

Oid table_code_role(const registry::Watched& w) {
  if (has_owner_privileges(w)) return w.owner;
  const Oid relid = w.relid;
  const bool filtered =
      pg::guard([&] { return check_enable_rls(relid, InvalidOid, true) == RLS_ENABLED; });
  return filtered ? pg::current_user_id() : w.owner;
}

bool may_update(const registry::Watched& w) {
  if (pg::has_table_privilege(w.relid, ACL_UPDATE)) return true;
  for (AttrNumber attnum : w.updated_columns) {
    if (!pg::has_column_privilege(w.relid, attnum, ACL_UPDATE)) return false;
  }
  return true;
}

void require_read(const registry::Watched& w, bool whole_rows) {
  if (has_owner_privileges(w) || pg::has_table_privilege(w.relid, ACL_SELECT)) return;
  bool allowed = true;
  if (whole_rows) {
    const Oid relid = w.relid;
    allowed = pg::guard([&] {
      return pg_attribute_aclcheck_all(relid, GetUserId(), ACL_SELECT, ACLMASK_ALL) == ACLCHECK_OK;
    });
  } else {
    for (AttrNumber attnum : w.read_columns) {
      if (!pg::has_column_privilege(w.relid, attnum, ACL_SELECT)) allowed = false;
    }
  }
  if (allowed) return;
  const std::string role = pg::current_role_name();
  throw core::Error(core::sqlstate::kInsufficientPrivilege,
                    "permission denied to read the runs of table " + w.name,
                    "Role " + pg::quote_ident(role) + " may not SELECT " +
                        (whole_rows ? "every column" : "the columns recovery reads") + " of it.",
                    "GRANT SELECT ON " + w.name + " TO " + pg::quote_ident(role) + ";");
}

void with_table_code(const registry::Watched& w, const pg::Scoped& fn) {
  pg::run_restricted(table_code_role(w), fn);
}

}  // namespace recovery::engine
