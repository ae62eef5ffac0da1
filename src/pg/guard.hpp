// The PostgreSQL/C++ boundary. Two rules, both enforced here:
//
// 1. No PostgreSQL error (a longjmp) may jump over a C++ frame that owns a
//    destructor. Every call into PostgreSQL that may raise goes through
//    pg::guard(), which catches the error at a sigsetjmp, restores the error
//    stacks and memory context, and throws it on as pg::PgError. The lambda
//    given to guard() must itself own nothing with a destructor.
//
// 2. No C++ exception may reach PostgreSQL. Every SQL-callable function is
//    defined with RECOVERY_FUNCTION (or RECOVERY_SPI_FUNCTION, whose body
//    runs inside an SPI connection), whose body runs inside pg::run_entry():
//    a PgError is re-raised unchanged (SQLSTATE, detail, hint, context), a
//    recovery::core::Error becomes an ereport with its own SQLSTATE, anything else
//    an internal error, and the ereport happens only after the catch block
//    has ended and every C++ frame of the body is gone.
//
// After a PgError is thrown the (sub)transaction is doomed: code unwinding it
// must not call PostgreSQL (destructors here only free C++ memory), and the
// abort that follows releases SPI, locks, snapshots and memory.
#pragma once

#include <type_traits>

#include "pg/postgres.hpp"

namespace recovery::pg {

// A PostgreSQL error caught by guard(), carrying the whole ErrorData.
class PgError final : public std::exception {
 public:
  explicit PgError(ErrorData* data) noexcept : data_(data) {}
  const char* what() const noexcept override;
  ErrorData* data() const noexcept { return data_; }

 private:
  ErrorData* data_;  // allocated in the memory context current at guard()
};

// Copies the pending error, clears PostgreSQL's error state and throws it.
[[noreturn]] void throw_pending_error(MemoryContext context);

template <typename Fn>
auto guard(Fn&& fn) -> decltype(fn()) {
  using Result = decltype(fn());
  static_assert(std::is_void_v<Result> || std::is_trivially_destructible_v<Result>,
                "guard() returns only plain values");
  sigjmp_buf* const saved_exception_stack = PG_exception_stack;
  ErrorContextCallback* const saved_context_stack = error_context_stack;
  const MemoryContext saved_memory_context = CurrentMemoryContext;
  sigjmp_buf jump;
  if (sigsetjmp(jump, 0) != 0) {
    PG_exception_stack = saved_exception_stack;
    error_context_stack = saved_context_stack;
    throw_pending_error(saved_memory_context);
  }
  PG_exception_stack = &jump;
  try {
    if constexpr (std::is_void_v<Result>) {
      fn();
      PG_exception_stack = saved_exception_stack;
      error_context_stack = saved_context_stack;
    } else {
      Result result = fn();
      PG_exception_stack = saved_exception_stack;
      error_context_stack = saved_context_stack;
      return result;
    }
  } catch (...) {
    PG_exception_stack = saved_exception_stack;
    error_context_stack = saved_context_stack;
    throw;
  }
}

// Runs a SQL function body, translating every exception as described above.
// With Spi::kConnect the body runs inside one SPI connection, finished when
// it returns (an error's abort ends it otherwise), and a by-reference result
// is copied out of SPI's memory first.
using FunctionBody = Datum (*)(FunctionCallInfo);
enum class Spi { kNone, kConnect };
Datum run_entry(FunctionCallInfo fcinfo, FunctionBody body, Spi spi = Spi::kNone);

// Raises a caught exception as a PostgreSQL ERROR, as run_entry() does: for
// hooks that PostgreSQL's C code calls. Call it once the catch block has
// ended; the caller's frame must own nothing else with a destructor.
[[noreturn]] void raise_error(std::exception_ptr error);

// A caught exception (a PostgreSQL error or a C++ one) as plain strings:
// outlives the memory (a rolled-back subtransaction's) a PostgreSQL error was
// copied into.
struct ErrorReport {
  std::string sqlstate;  // five characters
  std::string message;
  std::string detail;
  std::string hint;
};
ErrorReport describe(const std::exception_ptr& error);

// Reports a caught exception at `level` (below ERROR: it returns), keeping a
// PostgreSQL error's SQLSTATE and fields. For the worker, which logs and
// carries on. Adds `context` (if not null) to the report's CONTEXT lines.
void report_exception(const std::exception_ptr& error, int level, const char* context = nullptr);

// Messages below ERROR (they return).
void report(int level, const std::string& message, const std::string& detail = {},
            const std::string& hint = {});

}  // namespace recovery::pg

// Defines an SQL-callable C function `name` whose body is plain C++.
#define RECOVERY_ENTRY(name, spi)                                           \
  static Datum name##_body(FunctionCallInfo fcinfo);                        \
  extern "C" {                                                              \
  PG_FUNCTION_INFO_V1(name);                                                \
  Datum name(PG_FUNCTION_ARGS) {                                            \
    return recovery::pg::run_entry(fcinfo, name##_body, recovery::pg::spi); \
  }                                                                         \
  }                                                                         \
  static Datum name##_body(FunctionCallInfo fcinfo)
#define RECOVERY_FUNCTION(name) RECOVERY_ENTRY(name, Spi::kNone)
// The same, its body inside one SPI connection (pg::Spi::kConnect).
#define RECOVERY_SPI_FUNCTION(name) RECOVERY_ENTRY(name, Spi::kConnect)
