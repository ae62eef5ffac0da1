#include "pg/guard.hpp"

#include "core/error.hpp"
#include "pg/spi.hpp"

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
  } catch (const recovery::core::Error& e) {
    failure->set(e.sqlstate(), e.what(), e.detail().c_str(), e.hint().c_str());
  } catch (const std::bad_alloc&) {
    failure->set("53200", "out of memory in recovery");
  } catch (const std::exception& e) {
    failure->set(core::sqlstate::kInternalError, e.what());
  } catch (...) {
    failure->set(core::sqlstate::kInternalError, "unknown C++ exception in recovery");
  }
  return nullptr;
}

}  // namespace

namespace {

// A by-reference result built inside the body's SPI connection lives in
// memory that SPI_finish frees: copy it to the caller's context first.
Datum transfer_result(FunctionCallInfo fcinfo, Datum result) {
  if (fcinfo->isnull || fcinfo->resultinfo != nullptr) return result;  // NULL, or a set
  const Oid function = fcinfo->flinfo->fn_oid;
  return guard([&] {
    int16 length = 0;
    bool by_value = false;
    get_typlenbyval(get_func_rettype(function), &length, &by_value);
    return by_value ? result : SPI_datumTransfer(result, false, length);
  });
}

}  // namespace

Datum run_entry(FunctionCallInfo fcinfo, FunctionBody body, Spi spi) {
  std::exception_ptr error;
  try {
    if (spi == Spi::kNone) return body(fcinfo);
    SpiConnection connection;
    const Datum result = transfer_result(fcinfo, body(fcinfo));
    connection.finish();
    return result;
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

void report(int level, const std::string& message, const std::string& detail,
            const std::string& hint) {
  guard([&] {
    ereport(level, (errmsg_internal("%s", message.c_str()),
                    detail.empty() ? 0 : errdetail_internal("%s", detail.c_str()),
                    hint.empty() ? 0 : errhint("%s", hint.c_str())));
  });
}

}  // namespace recovery::pg
