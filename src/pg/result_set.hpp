// Materialize-mode results for set-returning functions: rows go straight into
// the tuplestore PostgreSQL gave us, so memory stays flat (it spills to disk).
#pragma once

#include <initializer_list>

#include "pg/guard.hpp"

namespace recovery::pg {

// The C++ names the columns it writes; they must be the function's declared
// columns, in order (an internal error names both lists otherwise), so a
// changed RETURNS TABLE cannot silently shift values into other columns.
class ResultSet {
 public:
  ResultSet(FunctionCallInfo fcinfo, std::initializer_list<const char*> columns);

  // Copies one row of exactly the declared number of columns.
  template <size_t N>
  void put(const Datum (&values)[N], const bool (&nulls)[N]) {
    put(values, nulls, N);
  }

 private:
  void put(const Datum* values, const bool* nulls, size_t count);
  ReturnSetInfo* info_;
};

}  // namespace recovery::pg
