#include "pg/spi.hpp"

#include "core/error.hpp"
#include "core/sql_check.hpp"

namespace recovery::pg {

namespace {

// Splits params into the three arrays SPI wants; the vectors outlive the call.
struct SpiArgs {
  std::vector<Oid> types;
  std::vector<Datum> values;
  std::vector<char> nulls;

  explicit SpiArgs(const std::vector<Param>& params) {
    for (const auto& p : params) {
      types.push_back(p.type);
      values.push_back(p.value);
      nulls.push_back(p.is_null ? 'n' : ' ');
    }
  }
  int count() const { return static_cast<int>(types.size()); }
  Oid* type_data() { return types.empty() ? nullptr : types.data(); }
  Datum* value_data() { return values.empty() ? nullptr : values.data(); }
  const char* null_data() const { return nulls.empty() ? nullptr : nulls.data(); }
};

// SPI calls return in SPI's procedure context, whatever context they were
// called in; going back to the caller's keeps a ScratchContext's per-chunk
// allocations in the scratch context (else they pile up until SPI_finish).
template <typename Fn>
auto in_caller_context(Fn&& fn) -> decltype(fn()) {
  const MemoryContext caller = CurrentMemoryContext;
  if constexpr (std::is_void_v<decltype(fn())>) {
    fn();
    MemoryContextSwitchTo(caller);
  } else {
    auto result = fn();
    MemoryContextSwitchTo(caller);
    return result;
  }
}

[[noreturn]] void spi_failure(const char* what, int code) {
  throw core::Error(core::sqlstate::kInternalError,
                    std::string("recovery: ") + what + " failed: " + SPI_result_code_string(code));
}

// Every statement recovery runs names everything it uses with its schema
// (core/sql_check.hpp): one that does not is a bug, refused before it runs.
void require_qualified(const std::string& sql) {
  const std::vector<std::string> findings = core::sql::unqualified_references(sql);
  if (findings.empty()) return;
  std::string list;
  for (const auto& f : findings) list += (list.empty() ? "" : "; ") + f;
  throw core::Error(core::sqlstate::kInternalError,
                    "recovery: internal statement resolves names through search_path: " + list,
                    "Statement: " + sql);
}

}  // namespace

SpiConnection::SpiConnection() {
  const int code = guard([] { return SPI_connect(); });
  if (code != SPI_OK_CONNECT) spi_failure("SPI_connect", code);
  open_ = true;
}

void SpiConnection::finish() {
  if (!open_) return;
  open_ = false;
  const int code = guard([] { return SPI_finish(); });
  if (code != SPI_OK_FINISH) spi_failure("SPI_finish", code);
}

uint64 execute(const std::string& sql, const std::vector<Param>& params, bool read_only) {
  require_qualified(sql);
  SpiArgs args(params);
  const int code = guard([&] {
    return in_caller_context([&] {
      return SPI_execute_with_args(sql.c_str(), args.count(), args.type_data(), args.value_data(),
                                   args.null_data(), read_only, 0);
    });
  });
  if (code < 0) spi_failure("SPI_execute_with_args", code);
  return SPI_processed;
}

Cursor::Cursor(const std::string& sql, const std::vector<Param>& params, bool read_only) {
  require_qualified(sql);
  SpiArgs args(params);
  portal_ = guard([&] {
    return in_caller_context([&] {
      return SPI_cursor_open_with_args(nullptr, sql.c_str(), args.count(), args.type_data(),
                                       args.value_data(), args.null_data(), read_only, 0);
    });
  });
}

uint64 Cursor::fetch(long count) {
  Portal portal = portal_;
  SPITupleTable* previous = chunk_;
  chunk_ = nullptr;
  guard([&] {
    in_caller_context([&] {
      if (previous != nullptr) SPI_freetuptable(previous);
      SPI_cursor_fetch(portal, true, count);
    });
  });
  chunk_ = SPI_tuptable;
  return SPI_processed;
}

void Cursor::close() {
  if (portal_ == nullptr) return;
  Portal portal = portal_;
  SPITupleTable* last = chunk_;
  portal_ = nullptr;
  chunk_ = nullptr;
  guard([&] {
    in_caller_context([&] {
      if (last != nullptr) SPI_freetuptable(last);
      SPI_cursor_close(portal);
    });
  });
}

Datum value(uint64 row, int column, bool* is_null) {
  return guard([&] {
    return SPI_getbinval(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, column, is_null);
  });
}

std::optional<std::string> optional_text_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  if (is_null) return std::nullopt;
  // Detoasting may allocate and so may fail: guarded; the copy into
  // std::string happens after, outside the guard.
  const text* t = guard([&] { return pg_detoast_datum_packed(reinterpret_cast<varlena*>(datum)); });
  return std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t));
}

std::string text_value(uint64 row, int column) {
  auto result = optional_text_value(row, column);
  if (!result)
    throw core::Error(core::sqlstate::kInternalError, "recovery: unexpected NULL in SPI result");
  return *result;
}

}  // namespace recovery::pg

extern "C" {
#include "utils/array.h"
}

namespace recovery::pg {

std::vector<std::optional<std::string>> text_array_elements(Datum array) {
  Datum* elems = nullptr;
  bool* nulls = nullptr;
  int count = 0;
  guard([&] {
    deconstruct_array(DatumGetArrayTypeP(array), TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls,
                      &count);
  });
  std::vector<std::optional<std::string>> result;
  for (int i = 0; i < count; ++i) {
    if (nulls[i]) {
      result.emplace_back(std::nullopt);
      continue;
    }
    const text* t =
        guard([&] { return pg_detoast_datum_packed((struct varlena*)DatumGetPointer(elems[i])); });
    result.emplace_back(std::string(VARDATA_ANY(t), VARSIZE_ANY_EXHDR(t)));
  }
  return result;
}

std::vector<std::optional<std::string>> text_array_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  if (is_null) return {};
  return text_array_elements(datum);
}

std::optional<int32> optional_int32_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  if (is_null) return std::nullopt;
  return DatumGetInt32(datum);
}

std::optional<Interval> interval_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  if (is_null) return std::nullopt;
  return *DatumGetIntervalP(datum);  // by reference: copied out of the tuple
}

bool bool_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  return !is_null && DatumGetBool(datum);
}

std::optional<bool> optional_bool_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  if (is_null) return std::nullopt;
  return DatumGetBool(datum);
}

bool is_null(uint64 row, int column) {
  bool null = false;
  (void)value(row, column, &null);
  return null;
}

int column_index(const char* name) {
  const int column = guard([&] { return SPI_fnumber(SPI_tuptable->tupdesc, name); });
  if (column <= 0) {
    throw core::Error(core::sqlstate::kInternalError, std::string("recovery: no column \"") + name +
                                                          "\" in the statement's result");
  }
  return column;
}

Oid oid_value(uint64 row, int column) {
  bool is_null = false;
  const Datum datum = value(row, column, &is_null);
  return is_null ? InvalidOid : DatumGetObjectId(datum);
}

}  // namespace recovery::pg
