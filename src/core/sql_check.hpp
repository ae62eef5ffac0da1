// A guard for recovery's own SQL: nothing in it may be resolved through
// search_path, which code belonging to a watched table could have changed.
// Every operator is written OPERATOR(pg_catalog.x), every function, type
// and relation schema-qualified, and the constructs that look an operator up
// by name behind the text (IN, BETWEEN, NULLIF, IS DISTINCT FROM, LIKE,
// simple CASE) are not used.
//
// Pure C++: unit tested over every statement shape core builds, and run by
// the bridge on every statement before SPI sees it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace recovery::core::sql {

// What in `statement` would be resolved through search_path, one
// description per finding ("operator = at 42"); empty when it is clean.
std::vector<std::string> unqualified_references(std::string_view statement);

}  // namespace recovery::core::sql
