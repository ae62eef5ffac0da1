// Errors raised by recovery's own C++ code.
//
// Pure C++: no PostgreSQL header may be included here, so the unit tests can
// link this without a backend. The bridge (src/pg) turns an Error into an
// ereport(ERROR) with the same SQLSTATE, detail and hint.
#pragma once

#include <stdexcept>
#include <string>

namespace recovery::core {

// The SQLSTATEs recovery raises itself, as their five-character codes.
namespace sqlstate {
inline constexpr const char* kInvalidParameterValue = "22023";
inline constexpr const char* kNullValueNotAllowed = "22004";
inline constexpr const char* kWrongObjectType = "42809";
inline constexpr const char* kUndefinedTable = "42P01";
inline constexpr const char* kUndefinedColumn = "42703";
inline constexpr const char* kDatatypeMismatch = "42804";
inline constexpr const char* kInsufficientPrivilege = "42501";
inline constexpr const char* kInvalidColumnReference = "42P10";
inline constexpr const char* kObjectNotInPrerequisiteState = "55000";
inline constexpr const char* kFeatureNotSupported = "0A000";
inline constexpr const char* kInternalError = "XX000";
}  // namespace sqlstate

class Error : public std::runtime_error {
 public:
  Error(const char* code, const std::string& message, std::string detail = {},
        std::string hint = {})
      : std::runtime_error(message),
        code_(code),
        detail_(std::move(detail)),
        hint_(std::move(hint)) {}

  const char* sqlstate() const noexcept { return code_; }
  const std::string& detail() const noexcept { return detail_; }
  const std::string& hint() const noexcept { return hint_; }

 private:
  const char* code_;
  std::string detail_;
  std::string hint_;
};

}  // namespace recovery::core
