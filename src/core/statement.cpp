#include "core/statement.hpp"

#include <algorithm>

namespace recovery::core {

std::string op(const char* name) { return std::string(" OPERATOR(pg_catalog.") + name + ") "; }

const char* slot_name(Slot slot) {
  switch (slot) {
    case Slot::kActiveStatuses:
      return "ActiveStatuses";
    case Slot::kCutoff:
      return "Cutoff";
    case Slot::kFailedStatus:
      return "FailedStatus";
    case Slot::kCompletedStatus:
      return "CompletedStatus";
    case Slot::kRequeueStatus:
      return "RequeueStatus";
    case Slot::kFinishedNow:
      return "FinishedNow";
    case Slot::kActivityNow:
      return "ActivityNow";
    case Slot::kMaxRows:
      return "MaxRows";
    case Slot::kMaxRuntimeCutoff:
      return "MaxRuntimeCutoff";
    case Slot::kMaxAttempts:
      return "MaxAttempts";
    case Slot::kRunTable:
      return "RunTable";
    case Slot::kOverwrittenNames:
      return "OverwrittenNames";
    case Slot::kEndedIncarnations:
      return "EndedIncarnations";
    case Slot::kRunId:
      return "RunId";
    case Slot::kRestoredStatus:
      return "RestoredStatus";
    case Slot::kRecoveredStatus:
      return "RecoveredStatus";
    case Slot::kPreviousValues:
      return "PreviousValues";
  }
  return "?";
}

bool Statement::uses(Slot slot) const {
  return std::find(slots.begin(), slots.end(), slot) != slots.end();
}

std::string Statement::placeholder(Slot slot) const {
  const auto it = std::find(slots.begin(), slots.end(), slot);
  if (it == slots.end()) return {};
  return "$" + std::to_string(it - slots.begin() + 1);
}

std::string Statement::with_slot_names() const {
  std::string out;
  for (size_t i = 0; i < sql.size(); ++i) {
    size_t end = i + 1;
    while (sql[i] == '$' && end < sql.size() && sql[end] >= '0' && sql[end] <= '9') ++end;
    if (end == i + 1) {
      out += sql[i];
      continue;
    }
    const size_t n = std::stoul(sql.substr(i + 1, end - i - 1));
    out += n >= 1 && n <= slots.size() ? "{" + std::string(slot_name(slots[n - 1])) + "}"
                                       : sql.substr(i, end - i);
    i = end - 1;
  }
  return out;
}

std::string Builder::bind(Slot slot) {
  auto it = std::find(slots_.begin(), slots_.end(), slot);
  if (it == slots_.end()) it = slots_.insert(slots_.end(), slot);
  return "$" + std::to_string(it - slots_.begin() + 1);
}

}  // namespace recovery::core
