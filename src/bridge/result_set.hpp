// Materialize-mode results for set-returning functions: rows go straight into
// the tuplestore PostgreSQL gave us, so memory stays flat (it spills to disk).
#pragma once

#include "bridge/guard.hpp"

namespace recovery::pg {

class ResultSet {
 public:
  explicit ResultSet(FunctionCallInfo fcinfo);
  int columns() const;
  // Copies one row; `values` and `nulls` hold columns() entries.
  void put(const Datum* values, const bool* nulls);

 private:
  ReturnSetInfo* info_;
};

}  // namespace recovery::pg
