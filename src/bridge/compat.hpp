// PostgreSQL version differences, behind PG_VERSION_NUM, in one place.
#pragma once

#include "bridge/postgres.hpp"

extern "C" {
#include "utils/guc.h"
}

namespace recovery::pg::compat {

// search_path inside a security-restricted operation: 17 has
// RestrictSearchPath(); before it, the same setting made by hand.
inline void restrict_search_path() {
#if PG_VERSION_NUM >= 170000
  RestrictSearchPath();
#else
  (void)set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
                          GUC_ACTION_SAVE, true, 0, false);
#endif
}

}  // namespace recovery::pg::compat
