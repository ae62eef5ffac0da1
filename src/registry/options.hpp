// The registration options of recovery.watch(), described once: the field
// table below drives reading watch()'s arguments (api/), the registry's
// upsert into recovery.watched_tables and its load query (read back by
// column name). Adding an option is one row here, its member, its argument
// in watch() and its column (same name) in recovery.watched_tables.
// recovery.registration_options() shows the table, and a test ties it to
// pg_proc.proargnames of recovery.watch and to watched_tables' columns.
#pragma once

#include <variant>

#include "pg/postgres.hpp"

namespace recovery::registry {

// Every option; nullopt is an argument not given (NULL) or a NULL column.
struct Options {
  std::optional<std::string> status_column;
  std::optional<std::string> started_column;
  std::optional<std::string> activity_column;
  std::optional<std::string> finished_column;
  std::optional<std::string> id_column;
  std::optional<std::vector<std::optional<std::string>>> active_statuses;
  std::optional<std::string> failed_status;
  std::optional<Interval> max_runtime;
  std::optional<std::string> progress_column;
  std::optional<std::string> total_column;
  std::optional<std::string> completed_status;
  std::optional<std::string> on_stuck;
  std::optional<std::string> attempts_column;
  std::optional<int32> max_attempts;
  std::optional<std::string> requeue_status;
  std::optional<bool> create_index;
  std::optional<bool> notify;
  std::optional<std::string> time_zone;
};

// The SQL type of an option: watch()'s argument and the column's.
enum class SqlType { kName, kText, kTextArray, kInterval, kInteger, kBoolean };
const char* sql_type_name(SqlType type);

using Member = std::variant<std::optional<std::string> Options::*,
                            std::optional<std::vector<std::optional<std::string>>> Options::*,
                            std::optional<Interval> Options::*, std::optional<int32> Options::*,
                            std::optional<bool> Options::*>;

struct Field {
  const char* name;  // watch()'s argument; the column of recovery.watched_tables
  SqlType type;
  Member member;
  bool stored;  // false: an action of watch() (create_index), not a column
};

// In the order of watch()'s arguments after run_table.
inline const Field kFields[] = {
    {"status_column", SqlType::kName, &Options::status_column, true},
    {"started_column", SqlType::kName, &Options::started_column, true},
    {"activity_column", SqlType::kName, &Options::activity_column, true},
    {"finished_column", SqlType::kName, &Options::finished_column, true},
    {"id_column", SqlType::kName, &Options::id_column, true},
    {"active_statuses", SqlType::kTextArray, &Options::active_statuses, true},
    {"failed_status", SqlType::kText, &Options::failed_status, true},
    {"max_runtime", SqlType::kInterval, &Options::max_runtime, true},
    {"progress_column", SqlType::kName, &Options::progress_column, true},
    {"total_column", SqlType::kName, &Options::total_column, true},
    {"completed_status", SqlType::kText, &Options::completed_status, true},
    {"on_stuck", SqlType::kText, &Options::on_stuck, true},
    {"attempts_column", SqlType::kName, &Options::attempts_column, true},
    {"max_attempts", SqlType::kInteger, &Options::max_attempts, true},
    {"requeue_status", SqlType::kText, &Options::requeue_status, true},
    {"create_index", SqlType::kBoolean, &Options::create_index, false},
    {"notify", SqlType::kBoolean, &Options::notify, true},
    {"time_zone", SqlType::kText, &Options::time_zone, true},
};

}  // namespace recovery::registry
