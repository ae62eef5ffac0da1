// Every difference between the PostgreSQL majors recovery builds against
// (15 and 18, see README, Install) lives here, behind PG_VERSION_NUM: the rest
// of the code calls these and stays free of version tests. Included by
// pg/postgres.hpp, after PostgreSQL's headers.
//
// To support another major: build against it (make PG_CONFIG=...), and give
// each call that no longer compiles a function here, named after what it does.
#pragma once

extern "C" {
#include "catalog/pg_class_d.h"     // RelationRelationId
#include "catalog/pg_database_d.h"  // DatabaseRelationId
#include "utils/acl.h"
#include "utils/backend_status.h"
#include "utils/guc.h"
}

#if PG_VERSION_NUM < 150000
#error "recovery needs PostgreSQL 15 or newer (shmem_request_hook)"
#endif

namespace recovery::pg::compat {

// Whether role `roleid` owns (or is a member of the owner of) relation
// `relid`. 16 replaced the per-catalog pg_class_ownercheck() with
// object_ownercheck(classid, ...). Raises if the relation does not exist.
inline bool relation_ownercheck(Oid relid, Oid roleid) {
#if PG_VERSION_NUM >= 160000
  return object_ownercheck(RelationRelationId, relid, roleid);
#else
  return pg_class_ownercheck(relid, roleid);
#endif
}

// Whether role `roleid` owns (or is a member of the owner of) database
// `dboid`; 16 replaced pg_database_ownercheck() the same way.
inline bool database_ownercheck(Oid dboid, Oid roleid) {
#if PG_VERSION_NUM >= 160000
  return object_ownercheck(DatabaseRelationId, dboid, roleid);
#else
  return pg_database_ownercheck(dboid, roleid);
#endif
}

// Entry `index` (1 .. pgstat_fetch_stat_numbackends()) of this backend's
// snapshot of the backend status table, or nullptr. 17 renamed
// pgstat_fetch_stat_local_beentry() to pgstat_get_local_beentry_by_index().
inline LocalPgBackendStatus* local_backend_status(int index) {
#if PG_VERSION_NUM >= 170000
  return pgstat_get_local_beentry_by_index(index);
#else
  return pgstat_fetch_stat_local_beentry(index);
#endif
}

// search_path inside a security-restricted operation (pg/scope.hpp): 17
// has RestrictSearchPath(); before it, the same setting made by hand.
inline void restrict_search_path() {
#if PG_VERSION_NUM >= 170000
  RestrictSearchPath();
#else
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_SAVE, true, 0, false);
#endif
}

}  // namespace recovery::pg::compat
