// The values of a core::Statement's slots (core/statement.hpp), made for one
// watched table: the engine fills exactly the slots the statement uses, in
// its $n order, so no statement gets a parameter it does not read.
#pragma once

#include <optional>
#include <string>

#include "pg/spi.hpp"
#include "core/statement.hpp"
#include "engine/engine.hpp"
#include "registry/registry.hpp"

namespace recovery::engine {

// What a call brings besides the registration; a slot whose value the call
// did not bring is an internal error.
struct SlotValues {
  const Clock* clock = nullptr;       // Cutoff, FinishedNow, ActivityNow, MaxRuntimeCutoff
  std::optional<int64> limit;         // MaxRows (nullopt: all)
  std::string ended = "{}";           // EndedIncarnations
  std::optional<std::string> run_id;  // RunId
  std::optional<std::string> restored_status, recovered_status, previous_values;  // undo
};

// The parameters of `statement` for table `w`. Values of the table's types
// (statuses, the run id) go through those types' input functions: call it
// where the table's code may run (engine/access.hpp).
std::vector<pg::Param> params_for(const core::Statement& statement, const registry::Watched& w,
                                  const SlotValues& values);

// Runs `statement` with its parameters (pg::execute); its rows are left in
// SPI_tuptable.
uint64 execute(const core::Statement& statement, const registry::Watched& w,
               const SlotValues& values, bool read_only);

}  // namespace recovery::engine
