#include "pg/result_set.hpp"

#include "core/error.hpp"

namespace recovery::pg {

ResultSet::ResultSet(FunctionCallInfo fcinfo, std::initializer_list<const char*> columns)
    : info_(reinterpret_cast<ReturnSetInfo*>(fcinfo->resultinfo)) {
  guard([&] { InitMaterializedSRF(fcinfo, 0); });
  const TupleDesc desc = info_->setDesc;
  std::string declared;
  for (int i = 0; i < desc->natts; ++i) {
    declared += (i > 0 ? ", " : "") + std::string(NameStr(TupleDescAttr(desc, i)->attname));
  }
  std::string written;
  for (const char* column : columns) written += (written.empty() ? "" : ", ") + std::string(column);
  if (declared != written) {
    const Oid function = fcinfo->flinfo->fn_oid;
    const std::string name = guard([&] { return get_func_name(function); });
    throw core::Error(
        core::sqlstate::kInternalError,
        "recovery: function " + name + " declares the columns (" + declared +
            ") but its C++ writes (" + written + ")",
        {}, "The installed SQL and recovery.so disagree: ALTER EXTENSION recovery UPDATE.");
  }
}

void ResultSet::put(const Datum* values, const bool* nulls, size_t count) {
  ReturnSetInfo* info = info_;
  if (count != static_cast<size_t>(info->setDesc->natts)) {
    throw core::Error(core::sqlstate::kInternalError,
                      "recovery: a result row of " + std::to_string(count) + " values for " +
                          std::to_string(info->setDesc->natts) + " columns");
  }
  guard([&] {
    tuplestore_putvalues(info->setResult, info->setDesc, const_cast<Datum*>(values),
                         const_cast<bool*>(nulls));
  });
}

}  // namespace recovery::pg
