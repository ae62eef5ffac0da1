#include "bridge/scope.hpp"

#include "bridge/backend.hpp"
#include "bridge/compat.hpp"

namespace recovery::pg {

Restricted::Restricted(Oid role) {
  GetUserIdAndSecContext(&saved_user_, &saved_context_);
  const int context = saved_context_;
  nest_level_ = guard([&] {
    SetUserIdAndSecContext(role,
                           context | SECURITY_LOCAL_USERID_CHANGE | SECURITY_RESTRICTED_OPERATION);
    const int level = NewGUCNestLevel();
    compat::restrict_search_path();
    return level;
  });
}

void Restricted::leave() const {
  const int level = nest_level_;
  std::exception_ptr failure;
  try {
    guard([&] { AtEOXact_GUC(false, level); });
  } catch (...) {
    failure = std::current_exception();
  }
  SetUserIdAndSecContext(saved_user_, saved_context_);
  if (failure) std::rethrow_exception(failure);
}

void Restricted::leave_after_error() const noexcept {
  // The (sub)transaction abort that follows would do this too; doing it now
  // keeps code that catches the error (a subtransaction per table) clean.
  const int level = nest_level_;
  try {
    guard([&] { AtEOXact_GUC(false, level); });
  } catch (...) {
    // The abort pops the level anyway.
  }
  SetUserIdAndSecContext(saved_user_, saved_context_);
}

Oid recovery_owner() { return relation_owner(recovery_table("history")); }

}  // namespace recovery::pg
