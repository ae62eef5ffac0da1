#include "pg/scope.hpp"

#include "pg/catalog.hpp"
#include "pg/compat.hpp"

extern "C" {
#include "storage/proc.h"
#include "utils/guc.h"
#include "utils/resowner.h"
#include "utils/timeout.h"
}

namespace recovery::pg {

namespace {

// The restricted scope of run_restricted(): entered by the constructor, left
// by leave() or, on an error, leave_after_error().
class Restricted {
 public:
  explicit Restricted(Oid role);
  Restricted(const Restricted&) = delete;
  Restricted& operator=(const Restricted&) = delete;
  void leave() const;
  void leave_after_error() const noexcept;

 private:
  Oid saved_user_ = InvalidOid;
  int saved_context_ = 0;
  int nest_level_ = 0;
};

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

}  // namespace

void run_restricted(Oid role, const Scoped& fn) {
  const Restricted scope(role);
  try {
    fn();
  } catch (...) {
    scope.leave_after_error();
    throw;
  }
  scope.leave();
}

void as_recovery_owner(const Scoped& fn) { run_restricted(recovery_owner(), fn); }

ScratchContext::ScratchContext()
    : context_(guard([] {
        return AllocSetContextCreate(CurrentMemoryContext, "recovery chunk",
                                     ALLOCSET_DEFAULT_SIZES);
      })) {}

void ScratchContext::run(const Scoped& fn) {
  const MemoryContext previous = MemoryContextSwitchTo(context_);
  try {
    fn();
  } catch (...) {
    MemoryContextSwitchTo(previous);
    throw;
  }
  MemoryContextSwitchTo(previous);
  MemoryContextReset(context_);  // cannot fail
}

void with_settings(const std::vector<std::pair<const char*, std::string>>& settings,
                   const Scoped& fn) {
  const int level = guard([] { return NewGUCNestLevel(); });
  for (const auto& setting : settings) {
    const char* name = setting.first;
    const char* value = setting.second.c_str();
    guard([&] {
      (void)set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                              false);
    });
  }
  fn();  // on an exception the (sub)transaction abort pops the nest level
  guard([&] { AtEOXact_GUC(true, level); });
}

int current_lock_timeout_ms() { return LockTimeout; }

void with_statement_timeout(int ms, const Scoped& fn) {
  if (ms <= 0) {
    fn();
    return;
  }
  guard([&] { enable_timeout_after(STATEMENT_TIMEOUT, ms); });
  try {
    fn();
  } catch (...) {
    disable_timeout(STATEMENT_TIMEOUT, false);  // cannot fail
    throw;
  }
  disable_timeout(STATEMENT_TIMEOUT, false);
}

std::optional<ErrorReport> in_subtransaction(const Scoped& fn) {
  const MemoryContext context = CurrentMemoryContext;
  const ResourceOwner owner = CurrentResourceOwner;
  guard([] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(context);  // fn() allocates where its caller does
  std::exception_ptr failure;
  try {
    fn();
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) {
    guard([] { ReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
    return std::nullopt;
  }
  ErrorReport report = describe(failure);
  failure = nullptr;
  guard([] { RollbackAndReleaseCurrentSubTransaction(); });
  MemoryContextSwitchTo(context);
  CurrentResourceOwner = owner;
  return report;
}

ErrorContextLine::ErrorContextLine(std::string line) : line_(std::move(line)) {
  entry_.callback = &ErrorContextLine::add;
  entry_.arg = this;
  entry_.previous = error_context_stack;
  error_context_stack = &entry_;
}

// guard() puts the stack back as it was at its call, so on the way out this
// entry is on top again: popping it is a pointer restore that cannot fail.
ErrorContextLine::~ErrorContextLine() { error_context_stack = entry_.previous; }

void ErrorContextLine::add(void* self) {
  errcontext("%s", static_cast<ErrorContextLine*>(self)->line_.c_str());
}

Oid recovery_owner() { return relation_owner(recovery_table("history")); }

}  // namespace recovery::pg
