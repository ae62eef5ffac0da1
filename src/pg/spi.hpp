// Guarded SPI: run SQL with $n parameters and read the rows back as C++.
#pragma once

#include "pg/guard.hpp"

namespace recovery::pg {

struct Param {
  Oid type;
  Datum value;
  bool is_null;
};

inline Param param(Oid type, Datum value) { return {type, value, false}; }
inline Param null_param(Oid type) { return {type, static_cast<Datum>(0), true}; }

// One SPI connection. finish() ends it on the success path; on an error the
// (sub)transaction abort ends it, so the destructor deliberately does nothing.
class SpiConnection {
 public:
  SpiConnection();
  SpiConnection(const SpiConnection&) = delete;
  SpiConnection& operator=(const SpiConnection&) = delete;
  void finish();

 private:
  bool open_ = false;
};

// Runs one statement; its rows (if any) are left in SPI_tuptable.
uint64 execute(const std::string& sql, const std::vector<Param>& params, bool read_only);

// A cursor over a statement that returns rows (SELECT, or DML with RETURNING,
// which PostgreSQL runs to completion into a spill-to-disk store on the first
// fetch). Fetching in chunks keeps memory flat however many rows come back.
class Cursor {
 public:
  Cursor(const std::string& sql, const std::vector<Param>& params, bool read_only);
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  // Fetches up to `count` rows into SPI_tuptable, freeing this cursor's
  // previous chunk (statements run in between replace the global pointer).
  uint64 fetch(long count);
  void close();

 private:
  Portal portal_ = nullptr;
  SPITupleTable* chunk_ = nullptr;
};

// Column `column` (1-based) of row `row` of SPI_tuptable.
Datum value(uint64 row, int column, bool* is_null);
std::string text_value(uint64 row, int column);
std::optional<std::string> optional_text_value(uint64 row, int column);

}  // namespace recovery::pg

namespace recovery::pg {
// A text[] column of SPI_tuptable; NULL elements stay nullopt.
std::vector<std::optional<std::string>> text_array_value(uint64 row, int column);
// Converts a text[] Datum (e.g. a function argument).
std::vector<std::optional<std::string>> text_array_elements(Datum array);
Oid oid_value(uint64 row, int column);
bool bool_value(uint64 row, int column);  // NULL reads as false
std::optional<bool> optional_bool_value(uint64 row, int column);
bool is_null(uint64 row, int column);
// The 1-based number of SPI_tuptable's column `name` (an internal error if
// the statement has none).
int column_index(const char* name);
std::optional<int32> optional_int32_value(uint64 row, int column);
std::optional<Interval> interval_value(uint64 row, int column);
}  // namespace recovery::pg
