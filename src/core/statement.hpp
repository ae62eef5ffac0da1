// A statement recovery runs on an application's table, and the builder that
// writes it. Values never appear in the text: each is a named slot that
// bind() numbers on first use ($1, $2, ...), so a statement's parameters are
// exactly the slots it uses, in its own order, and the engine fills only
// those (engine/params.hpp). Names go through ident(), the quoter the
// backend supplies (quote_identifier). Pure C++.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace recovery::core {

// Quotes one identifier; the backend passes quote_identifier().
using Quoter = std::string (*)(const std::string&);

// " OPERATOR(pg_catalog.<op>) ": recovery's SQL names no operator through
// search_path (core/sql_check.hpp).
std::string op(const char* name);

// Every value a statement on a run table may need; the engine knows how to
// make each from a registration, the clock and the call (engine/params.cpp).
enum class Slot : uint8_t {
  kActiveStatuses,     // status type[]: the registration's active statuses
  kCutoff,             // of the last-activity kind: no activity since is stuck
  kFailedStatus,       // status type
  kCompletedStatus,    // status type
  kRequeueStatus,      // status type
  kFinishedNow,        // now, of the finished column's kind
  kActivityNow,        // now, of the activity column's kind
  kMaxRows,            // int8, NULL for all
  kMaxRuntimeCutoff,   // of the started column's kind: started before is over max_runtime
  kMaxAttempts,        // int4
  kRunTable,           // regclass: the table, to find its claims
  kOverwrittenNames,   // text[]: overwritten_columns(), in order
  kEndedIncarnations,  // text holding jsonb {"<incarnation id>": "<reason>"}
  kRunId,              // the id column's type: one run
  kRestoredStatus,     // status type: the status undo puts back
  kRecoveredStatus,    // status type: the status undo expects the run to have
  kPreviousValues,     // jsonb: the values undo puts back, by column name
};
inline constexpr int kSlotCount = static_cast<int>(Slot::kPreviousValues) + 1;

// The slot's name as written above without the k ("ActiveStatuses"), for
// messages and tests.
const char* slot_name(Slot slot);

struct Statement {
  std::string sql;
  std::vector<Slot> slots;  // $n is slots[n - 1]

  bool uses(Slot slot) const;
  // "$n" of a slot the statement uses; empty if it does not.
  std::string placeholder(Slot slot) const;
  // The text with each $n written as {SlotName} ({ActiveStatuses}), for
  // tests and messages that must not depend on the numbering.
  std::string with_slot_names() const;
};

class Builder {
 public:
  explicit Builder(Quoter quote) : quote_(quote) {}

  // A quoted identifier.
  std::string ident(const std::string& name) const { return quote_(name); }
  // Column `name` of row alias `alias` ("t."): t."createdAt".
  std::string column(const std::string& name, const char* alias = "t.") const {
    return alias + quote_(name);
  }
  // "$n" of the slot, numbered the first time the statement uses it.
  std::string bind(Slot slot);
  // The statement with the slots bound so far.
  Statement finish(std::string sql) const { return {std::move(sql), slots_}; }

 private:
  Quoter quote_;
  std::vector<Slot> slots_;
};

}  // namespace recovery::core
