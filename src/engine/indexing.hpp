// Index support for the stuck-run predicate: advice, creation, and a check
// (by the planner) that some index serves it.
#pragma once

#include "registry/registry.hpp"

namespace recovery::engine {

// The CREATE INDEX statement that serves `table`'s stuck-run predicate.
std::string index_advice(const registry::Watched& table);

// Whether the planner can find stuck runs of `table` through an index
// (asked with sequential scans disabled). Needs SPI.
bool index_serves(const registry::Watched& table);

// Creates the advised index (as the caller). Needs SPI.
void create_index(const registry::Watched& table);

}  // namespace recovery::engine
