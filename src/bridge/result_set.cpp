#include "bridge/result_set.hpp"

namespace recovery::pg {

ResultSet::ResultSet(FunctionCallInfo fcinfo)
    : info_(reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo)) {
  guard([&] { InitMaterializedSRF(fcinfo, 0); });
}

int ResultSet::columns() const { return info_->setDesc->natts; }

void ResultSet::put(const Datum* values, const bool* nulls) {
  ReturnSetInfo* info = info_;
  guard([&] {
    tuplestore_putvalues(info->setResult, info->setDesc, const_cast<Datum*>(values),
                         const_cast<bool*>(nulls));
  });
}

}  // namespace recovery::pg
