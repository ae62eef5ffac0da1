#include "bridge/guard.hpp"

#include "core/error.hpp"

namespace recovery::pg {

const char* PgError::what() const noexcept {
  return data_ != nullptr && data_->message != nullptr ? data_->message : "PostgreSQL error";
}

void throw_pending_error(MemoryContext context) {
  // CopyErrorData must not run in ErrorContext, which FlushErrorState resets.
  MemoryContextSwitchTo(context);
  ErrorData* data = CopyErrorData();
  FlushErrorState();
  throw PgError(data);
}

namespace {

// A C++ error flattened into fixed buffers, so reporting it allocates nothing
// inside a catch block and owns nothing when PostgreSQL longjmps away.
struct Failure {
  int sqlstate = 0;
  char message[1024] = {};
  char detail[1024] = {};
  char hint[512] = {};

  void set(const char* code, const char* msg, const char* det = "", const char* hnt = "") {
    sqlstate = MAKE_SQLSTATE(code[0], code[1], code[2], code[3], code[4]);
    strlcpy(message, msg, sizeof(message));
    strlcpy(detail, det, sizeof(detail));
    strlcpy(hint, hnt, sizeof(hint));
  }
};

// Sorts the exception in flight into either a PostgreSQL error or a Failure.
ErrorData* classify(const std::exception_ptr& error, Failure* failure) noexcept {
  try {
    std::rethrow_exception(error);
  } catch (const PgError& e) {
    return e.data();
  } catch (const recovery::Error& e) {
    failure->set(e.sqlstate(), e.what(), e.detail().c_str(), e.hint().c_str());
  } catch (const std::bad_alloc&) {
    failure->set("53200", "out of memory in recovery");
  } catch (const std::exception& e) {
    failure->set(sqlstate::kInternalError, e.what());
  } catch (...) {
    failure->set(sqlstate::kInternalError, "unknown C++ exception in recovery");
  }
  return nullptr;
}

}  // namespace

Datum run_entry(FunctionCallInfo fcinfo, FunctionBody body) {
  std::exception_ptr error;
  try {
    return body(fcinfo);
  } catch (...) {
    error = std::current_exception();
  }
  // Every C++ frame of the body has unwound; only plain data remains.
  raise_error(std::move(error));
}

void raise_error(std::exception_ptr error) {
  Failure failure;
  ErrorData* pg_error = classify(error, &failure);
  error = nullptr;  // frees the exception object before PostgreSQL longjmps
  if (pg_error != nullptr) ReThrowError(pg_error);
  ereport(ERROR, (errcode(failure.sqlstate), errmsg_internal("%s", failure.message),
                  failure.detail[0] != '\0' ? errdetail_internal("%s", failure.detail) : 0,
                  failure.hint[0] != '\0' ? errhint("%s", failure.hint) : 0));
  pg_unreachable();
}

ErrorReport describe(const std::exception_ptr& error) {
  Failure failure;
  const ErrorData* pg_error = classify(error, &failure);
  const auto text = [](const char* s) { return std::string(s != nullptr ? s : ""); };
  if (pg_error == nullptr) {
    return {unpack_sql_state(failure.sqlstate), failure.message, failure.detail, failure.hint};
  }
  return {unpack_sql_state(pg_error->sqlerrcode), text(pg_error->message), text(pg_error->detail),
          text(pg_error->hint)};
}

void report_exception(const std::exception_ptr& error, int level, const char* context) {
  Failure failure;
  ErrorData* pg_error = classify(error, &failure);
  guard([&] {
    if (pg_error != nullptr) {
      if (context != nullptr) {
        pg_error->context = pg_error->context != nullptr
                                ? psprintf("%s\n%s", pg_error->context, context)
                                : pstrdup(context);
      }
      pg_error->elevel = level;
      ThrowErrorData(pg_error);
    } else {
      ereport(level, (errcode(failure.sqlstate), errmsg_internal("%s", failure.message),
                      failure.detail[0] != '\0' ? errdetail_internal("%s", failure.detail) : 0,
                      failure.hint[0] != '\0' ? errhint("%s", failure.hint) : 0,
                      context != nullptr ? errcontext("%s", context) : 0));
    }
  });
}

}  // namespace recovery::pg
