// Running code that is not recovery's own: a table's triggers, the casts and
// input functions of its types, its index expressions. As PostgreSQL's
// maintenance commands do (vacuum.c), such code runs as a chosen role inside
// a security-restricted operation (no SET ROLE, no temporary objects, no
// cursors left behind), in a GUC nest level of its own with search_path
// pinned to pg_catalog, pg_temp. Every setting the code changes, SET and
// set_config(..., false) included, is thrown away on the way out, on success
// and on error, and the caller's identity comes back.
#pragma once

#include "bridge/guard.hpp"

namespace recovery::pg {

class Restricted {
 public:
  Restricted(const Restricted&) = delete;
  Restricted& operator=(const Restricted&) = delete;

  template <typename Fn>
  static void run(Oid role, Fn&& fn) {
    const Restricted scope(role);
    try {
      fn();
    } catch (...) {
      scope.leave_after_error();
      throw;
    }
    scope.leave();
  }

 private:
  explicit Restricted(Oid role);
  void leave() const;
  void leave_after_error() const noexcept;

  Oid saved_user_ = InvalidOid;
  int saved_context_ = 0;
  int nest_level_ = 0;
};

// Runs fn() as `role` in a restricted scope (see above).
template <typename Fn>
void run_restricted(Oid role, Fn&& fn) {
  Restricted::run(role, std::forward<Fn>(fn));
}

// Runs fn() as the owner of recovery's own tables (history, claims,
// registrations), which no other role may write, in a restricted scope: its
// statements never see a setting that a table's code left behind.
template <typename Fn>
void as_recovery_owner(Fn&& fn);

Oid recovery_owner();

template <typename Fn>
void as_recovery_owner(Fn&& fn) {
  run_restricted(recovery_owner(), std::forward<Fn>(fn));
}

}  // namespace recovery::pg
