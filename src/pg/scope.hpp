// Scopes: code run with something set up around it and torn down after it,
// on success and on error. One convention for all: the callable comes last,
// as a std::function<void()>; results leave through its captures.
//
// Running code that is not recovery's own: a table's triggers, the casts and
// input functions of its types, its index expressions. As PostgreSQL's
// maintenance commands do (vacuum.c), such code runs as a chosen role inside
// a security-restricted operation (no SET ROLE, no temporary objects, no
// cursors left behind), in a GUC nest level of its own with search_path
// pinned to pg_catalog, pg_temp. Every setting the code changes, SET and
// set_config(..., false) included, is thrown away on the way out, on success
// and on error, and the caller's identity comes back.
#pragma once

#include <functional>

#include "pg/guard.hpp"

namespace recovery::pg {

using Scoped = std::function<void()>;

// Runs fn() as `role` in a restricted scope (see above).
void run_restricted(Oid role, const Scoped& fn);

// Runs fn() as the owner of recovery's own tables (history, claims,
// registrations), which no other role may write, in a restricted scope: its
// statements never see a setting that a table's code left behind.
void as_recovery_owner(const Scoped& fn);
Oid recovery_owner();

// Runs fn() with configuration parameters set as a function's SET clause
// would: they revert when fn() returns (and with the transaction on error).
void with_settings(const std::vector<std::pair<const char*, std::string>>& settings,
                   const Scoped& fn);
int current_lock_timeout_ms();

// Runs fn() with a statement timeout of `ms` (0: none) armed around it, as
// PostgreSQL arms statement_timeout for a client's statement (SPI arms none):
// past it, the next interrupt check raises 57014.
void with_statement_timeout(int ms, const Scoped& fn);

// Runs fn() in a subtransaction, as a PL/pgSQL block with an EXCEPTION
// clause does: kept if fn() returns; if it throws, rolled back alone and the
// error returned (already described: its memory goes with the rollback).
// Needs the caller's SPI connection, if any, to have been opened outside.
std::optional<ErrorReport> in_subtransaction(const Scoped& fn);

// A memory context for one chunk of work: run() switches to it and resets it
// afterwards, so per-row allocations do not pile up over a long call. A child
// of the current context, so an error's cleanup frees it with its parent.
class ScratchContext {
 public:
  ScratchContext();
  ScratchContext(const ScratchContext&) = delete;
  ScratchContext& operator=(const ScratchContext&) = delete;
  void run(const Scoped& fn);

 private:
  MemoryContext context_;
};

// While alive, adds `line` to the CONTEXT of every PostgreSQL error raised
// (as PL/pgSQL names the function and line): an error deep inside a
// statement, a lock timeout say, then names what recovery was doing.
class ErrorContextLine {
 public:
  explicit ErrorContextLine(std::string line);
  ErrorContextLine(const ErrorContextLine&) = delete;
  ErrorContextLine& operator=(const ErrorContextLine&) = delete;
  ~ErrorContextLine();

 private:
  static void add(void* self);
  std::string line_;
  ErrorContextCallback entry_{};
};

}  // namespace recovery::pg
