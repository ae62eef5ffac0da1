// The `run` jsonb of find_stuck_runs / recover_stuck_runs, built in C++ from
// the run table's columns (t.* at the end of the engine's statements) instead
// of in SQL (to_jsonb(t.*) || jsonb_build_object(name, to_char(...), ...)).
// Same value: every column as to_jsonb(t.*) gives it, except timestamp and
// timestamptz columns (domains over them too), which are UTC instants ending
// in Z as to_char(instant AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
// gives them (null when infinite). What it saves, per row: to_jsonb's type
// lookups for every column (its categories and output functions are looked
// up once per statement here), the to_char format parsing, and building the
// object twice (the || of two objects).
#pragma once

#include <string>
#include <vector>

#include "pg/postgres.hpp"

namespace recovery::engine {

class RunJson {
 public:
  // The run table's columns are the result columns from `first_column`
  // (1-based) on; plain timestamps hold wall-clock time in `time_zone`.
  RunJson(int first_column, std::string time_zone);
  RunJson(const RunJson&) = delete;
  RunJson& operator=(const RunJson&) = delete;

  // The run of row `row` of SPI_tuptable, allocated in the current memory
  // context. The per-statement set-up lives in the context current when
  // this object was made.
  Datum build(uint64 row);

 private:
  enum class Kind {
    kInstant,
    kWallClock,
    kBool,
    kInteger,
    kNumber,
    kDate,
    kText,
    kOutput,
    kToJsonb
  };
  struct Column {
    int index = 0;  // 0-based in the tuple
    std::string name;
    Kind kind = Kind::kOutput;
    Oid base = InvalidOid;  // the column's type, domains resolved
    FmgrInfo function{};    // output function (kNumber, kOutput) or to_jsonb (kToJsonb)
  };
  void prepare(TupleDesc desc);

  int first_column_;
  std::string time_zone_;
  bool utc_ = false;
  MemoryContext context_;
  std::vector<Column> columns_;
  int natts_ = 0;
  Datum* values_ = nullptr;
  bool* nulls_ = nullptr;
  Datum zone_ = 0;  // text, for timestamp_zone
};

}  // namespace recovery::engine
