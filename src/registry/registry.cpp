#include "registry/registry.hpp"

#include <algorithm>

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"

namespace recovery::registry {

const char* sql_type_name(SqlType type) {
  switch (type) {
    case SqlType::kName:
      return "name";
    case SqlType::kText:
      return "text";
    case SqlType::kTextArray:
      return "text[]";
    case SqlType::kInterval:
      return "interval";
    case SqlType::kInteger:
      return "integer";
    case SqlType::kBoolean:
      return "boolean";
  }
  return "text";
}

namespace {

using core::TimeKind;

// A registration with every column named (after detection).
struct Registration {
  Oid relid = InvalidOid;
  std::string status_column;
  std::string started_column;
  std::optional<std::string> activity_column;
  std::optional<std::string> finished_column;
  std::string id_column;
  std::vector<std::string> active_statuses;
  std::string failed_status;
  std::optional<Interval> max_runtime;
  std::optional<std::string> progress_column;
  std::optional<std::string> total_column;
  std::string completed_status = "COMPLETED";
  bool requeue = false;
  std::optional<std::string> attempts_column;
  int32 max_attempts = 0;
  std::string requeue_status = "PENDING";
  bool notify = true;
  std::string time_zone = "UTC";
};

std::vector<std::string> required(const std::vector<std::optional<std::string>>& values) {
  std::vector<std::string> result;
  result.reserve(values.size());
  for (const auto& v : values) result.push_back(v.value_or(""));
  return result;
}

// A stored registration (every column named, options normalized by watch())
// as typed values, with the defaults of options stored as NULL.
Registration registration_of(Oid relid, const Options& o) {
  Registration reg;
  reg.relid = relid;
  reg.status_column = o.status_column.value_or("");
  reg.started_column = o.started_column.value_or("");
  reg.activity_column = o.activity_column;
  reg.finished_column = o.finished_column;
  reg.id_column = o.id_column.value_or("");
  reg.active_statuses =
      required(o.active_statuses.value_or(std::vector<std::optional<std::string>>{}));
  reg.failed_status = o.failed_status.value_or("");
  reg.max_runtime = o.max_runtime;
  reg.progress_column = o.progress_column;
  reg.total_column = o.total_column;
  reg.completed_status = o.completed_status.value_or("COMPLETED");
  reg.requeue = o.on_stuck.value_or("fail") == "requeue";
  reg.attempts_column = o.attempts_column;
  reg.max_attempts = o.max_attempts.value_or(0);
  reg.requeue_status = o.requeue_status.value_or("PENDING");
  reg.notify = o.notify.value_or(true);
  reg.time_zone = o.time_zone.value_or("UTC");
  return reg;
}

std::string quoted(const std::string& name) { return "\"" + name + "\""; }

void require_table_kind(char kind, const std::string& name) {
  if (kind != RELKIND_RELATION && kind != RELKIND_PARTITIONED_TABLE) {
    throw core::Error(core::sqlstate::kWrongObjectType, name + " is not a table", {},
                      "Only ordinary and partitioned tables can be watched; for a view, watch the "
                      "table behind it.");
  }
}

void require_owner(Oid relid, const std::string& name) {
  if (!pg::owns_relation(relid)) {
    throw core::Error(core::sqlstate::kInsufficientPrivilege, "must be owner of table " + name, {},
                      "Only the owner of a run table (or a superuser) may watch or unwatch it.");
  }
}

AttrNumber require_column(Oid relid, const std::string& table, const std::string& column,
                          const char* role) {
  const AttrNumber attnum = pg::column_number(relid, column);
  if (attnum == InvalidAttrNumber) {
    throw core::Error(core::sqlstate::kUndefinedColumn,
                      "column " + quoted(column) + " of table " + table + " does not exist",
                      std::string("It was given as the ") + role + " column.",
                      "Pass the right column name to recovery.watch().");
  }
  return attnum;
}

bool is_number_type(Oid type) {
  return type == INT2OID || type == INT4OID || type == INT8OID || type == NUMERICOID;
}

AttrNumber number_column(Oid relid, const std::string& table, const std::string& column,
                         const char* role, bool integer_only) {
  const AttrNumber attnum = require_column(relid, table, column, role);
  const Oid type = pg::column_type(relid, attnum);
  if (integer_only ? (type != INT2OID && type != INT4OID && type != INT8OID)
                   : !is_number_type(type)) {
    throw core::Error(
        core::sqlstate::kDatatypeMismatch,
        std::string(role) + " column " + quoted(column) + " of table " + table + " has type " +
            pg::type_name(type),
        {}, integer_only ? "Use an integer column." : "Use an integer or numeric column.");
  }
  return attnum;
}

// A column recovery writes must be writable.
void require_writable(Oid relid, AttrNumber attnum, const std::string& table,
                      const std::string& column, const char* role) {
  if (pg::column_is_generated(relid, attnum)) {
    throw core::Error(
        core::sqlstate::kInvalidParameterValue,
        std::string(role) + " column " + quoted(column) + " of table " + table +
            " is a generated column",
        "recovery writes this column when it recovers a run.",
        "Name a plain column, or leave the finished column out with a table without one.");
  }
}

core::TimeColumn time_column(Oid relid, const std::string& table, const std::string& column,
                             const char* role, Oid* type) {
  const AttrNumber attnum = require_column(relid, table, column, role);
  *type = pg::column_type(relid, attnum);
  if (*type != TIMESTAMPOID && *type != TIMESTAMPTZOID) {
    throw core::Error(core::sqlstate::kDatatypeMismatch,
                      std::string(role) + " column " + quoted(column) + " of table " + table +
                          " has type " + pg::type_name(*type),
                      {}, "Use a timestamp or timestamptz column.");
  }
  return {column, *type == TIMESTAMPOID ? TimeKind::kTimestamp : TimeKind::kTimestampTz};
}

// Resolves a registration against the catalogs as they are now. Throws
// recovery::core::Error naming the table and the problem.
Watched resolve(const Registration& reg) {
  Watched w;
  w.relid = reg.relid;
  const char kind = pg::relation_kind(reg.relid);
  auto name = pg::relation_name(reg.relid);
  if (kind == '\0' || !name) {
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState, "the table no longer exists");
  }
  w.name = *name;
  require_table_kind(kind, w.name);
  w.owner = pg::relation_owner(reg.relid);
  w.notify = reg.notify;
  w.time_zone = reg.time_zone;

  core::RunTable& t = w.table;
  t.qualified_name = w.name;
  t.zone_literal = pg::quote_literal(reg.time_zone);
  t.status_column = reg.status_column;
  t.id_column = reg.id_column;
  t.active_statuses = reg.active_statuses;
  t.failed_status = reg.failed_status;

  const AttrNumber status_attnum = require_column(reg.relid, w.name, reg.status_column, "status");
  const Oid status_type = pg::column_type(reg.relid, status_attnum);
  if (status_type == TEXTOID || status_type == VARCHAROID) {
    t.status_kind = core::StatusKind::kText;
    w.status_type = TEXTOID;
  } else if (pg::is_enum_type(status_type)) {
    t.status_kind = core::StatusKind::kEnum;
    w.status_type = status_type;
    std::vector<std::string> labels = reg.active_statuses;
    labels.push_back(reg.failed_status);
    if (reg.progress_column) labels.push_back(reg.completed_status);
    for (const auto& label : labels) {
      if (!pg::enum_has_label(status_type, label)) {
        const std::string type = pg::type_name(status_type);
        throw core::Error(core::sqlstate::kInvalidParameterValue,
                          "enum type " + type + " of column " + quoted(reg.status_column) +
                              " has no label " + quoted(label),
                          {},
                          "Add it with ALTER TYPE " + type +
                              " ADD VALUE, or pass the statuses the "
                              "type has.");
      }
    }
  } else {
    throw core::Error(core::sqlstate::kDatatypeMismatch,
                      "status column " + quoted(reg.status_column) + " of table " + w.name +
                          " has type " + pg::type_name(status_type),
                      {}, "Use a text, varchar or enum column.");
  }
  require_writable(reg.relid, status_attnum, w.name, reg.status_column, "status");
  w.updated_columns.push_back(status_attnum);
  w.read_columns.push_back(status_attnum);

  Oid started_type = InvalidOid;
  t.started = time_column(reg.relid, w.name, reg.started_column, "started", &started_type);
  if (reg.activity_column) {
    Oid activity_type = InvalidOid;
    t.activity = time_column(reg.relid, w.name, *reg.activity_column, "activity", &activity_type);
  }
  w.last_activity_type =
      core::last_activity_kind(t) == TimeKind::kTimestamp ? TIMESTAMPOID : TIMESTAMPTZOID;
  if (reg.finished_column) {
    t.finished = time_column(reg.relid, w.name, *reg.finished_column, "finished", &w.finished_type);
    const AttrNumber finished_attnum = pg::column_number(reg.relid, *reg.finished_column);
    require_writable(reg.relid, finished_attnum, w.name, *reg.finished_column, "finished");
    w.updated_columns.push_back(finished_attnum);
  }
  const AttrNumber id_attnum = require_column(reg.relid, w.name, reg.id_column, "id");
  w.id_type = pg::column_type(reg.relid, id_attnum);
  w.read_columns.push_back(id_attnum);
  w.read_columns.push_back(pg::column_number(reg.relid, reg.started_column));
  if (reg.activity_column)
    w.read_columns.push_back(pg::column_number(reg.relid, *reg.activity_column));
  if (reg.finished_column)
    w.read_columns.push_back(pg::column_number(reg.relid, *reg.finished_column));
  w.started_type = started_type;
  if (t.activity)
    w.activity_type = t.activity->kind == TimeKind::kTimestamp ? TIMESTAMPOID : TIMESTAMPTZOID;

  w.max_runtime = reg.max_runtime;
  t.has_max_runtime = reg.max_runtime.has_value();
  if (reg.progress_column || reg.total_column) {
    if (!reg.progress_column || !reg.total_column) {
      throw core::Error(core::sqlstate::kInvalidParameterValue,
                        "progress_column and total_column go together", {},
                        "Pass both, for example progress_column => 'completed', total_column => "
                        "'totalProspects'.");
    }
    w.read_columns.push_back(
        number_column(reg.relid, w.name, *reg.progress_column, "progress", false));
    w.read_columns.push_back(number_column(reg.relid, w.name, *reg.total_column, "total", false));
    t.progress_column = reg.progress_column;
    t.total_column = reg.total_column;
    t.completed_status = reg.completed_status;
  }
  if (reg.requeue) {
    const AttrNumber attempts =
        number_column(reg.relid, w.name, *reg.attempts_column, "attempts", true);
    require_writable(reg.relid, attempts, w.name, *reg.attempts_column, "attempts");
    w.updated_columns.push_back(attempts);
    w.read_columns.push_back(attempts);
    if (t.activity) {
      const AttrNumber activity = pg::column_number(reg.relid, t.activity->name);
      require_writable(reg.relid, activity, w.name, t.activity->name, "activity");
      w.updated_columns.push_back(activity);
    }
    t.requeue = true;
    t.attempts_column = reg.attempts_column;
    t.requeue_status = reg.requeue_status;
    w.max_attempts = reg.max_attempts;
  }

  // A column recovery writes must not be one it reads to decide.
  for (const auto* other : {&reg.started_column, &reg.id_column}) {
    if (*other == reg.status_column || (reg.finished_column && *other == *reg.finished_column)) {
      throw core::Error(
          core::sqlstate::kInvalidParameterValue,
          "column " + quoted(*other) + " of table " + w.name + " is given for two different roles");
    }
  }
  if (reg.activity_column &&
      (*reg.activity_column == reg.status_column ||
       (reg.finished_column && *reg.activity_column == *reg.finished_column))) {
    throw core::Error(core::sqlstate::kInvalidParameterValue,
                      "column " + quoted(*reg.activity_column) + " of table " + w.name +
                          " is given for two different roles");
  }
  return w;
}

// SELECT of every stored option, each under its own name.
std::string load_sql() {
  std::string sql = "SELECT run_table::pg_catalog.oid AS run_table, table_name";
  for (const Field& f : kFields) {
    if (!f.stored) continue;
    const std::string column = pg::quote_ident(f.name);
    sql += ", " + column + (f.type == SqlType::kName ? "::pg_catalog.text AS " + column : "");
  }
  return sql + " FROM recovery.watched_tables";
}

// Row `row` of SPI_tuptable (a load_sql() row) as Options.
Options options_of(uint64 row) {
  Options o;
  for (const Field& f : kFields) {
    if (!f.stored) continue;
    const int column = pg::column_index(f.name);
    std::visit(
        [&](auto member) {
          using Value = typename std::remove_reference_t<decltype(o.*member)>::value_type;
          if constexpr (std::is_same_v<Value, std::string>) {
            o.*member = pg::optional_text_value(row, column);
          } else if constexpr (std::is_same_v<Value, Interval>) {
            o.*member = pg::interval_value(row, column);
          } else if constexpr (std::is_same_v<Value, int32>) {
            o.*member = pg::optional_int32_value(row, column);
          } else if constexpr (std::is_same_v<Value, bool>) {
            o.*member = pg::optional_bool_value(row, column);
          } else {
            if (!pg::is_null(row, column)) o.*member = pg::text_array_value(row, column);
          }
        },
        f.member);
  }
  return o;
}

// The parameter that stores option `f` of `o`.
pg::Param param_of(const Field& f, const Options& o) {
  pg::Param p = pg::null_param(TEXTOID);
  std::visit(
      [&](auto member) {
        const auto& value = o.*member;
        using Value = typename std::remove_reference_t<decltype(value)>::value_type;
        if constexpr (std::is_same_v<Value, std::string>) {
          if (value) p = pg::param(TEXTOID, pg::text_datum(*value));
        } else if constexpr (std::is_same_v<Value, Interval>) {
          p = value ? pg::param(INTERVALOID, pg::interval_datum(*value))
                    : pg::null_param(INTERVALOID);
        } else if constexpr (std::is_same_v<Value, int32>) {
          p = value ? pg::param(INT4OID, Int32GetDatum(*value)) : pg::null_param(INT4OID);
        } else if constexpr (std::is_same_v<Value, bool>) {
          p = value ? pg::param(BOOLOID, BoolGetDatum(*value)) : pg::null_param(BOOLOID);
        } else {
          p = value ? pg::param(TEXTARRAYOID, pg::array_of(required(*value), TEXTOID))
                    : pg::null_param(TEXTARRAYOID);
        }
      },
      f.member);
  return p;
}

}  // namespace

namespace {

enum class Coverage { kAll, kCallerOwned };

std::vector<Watched> load_tables(std::optional<Oid> only, Coverage coverage,
                                 const SkipHandler& on_skip, int* skipped_count) {
  std::string sql = load_sql();
  std::vector<pg::Param> params;
  if (only) {
    sql += " WHERE run_table OPERATOR(pg_catalog.=) $1";
    params.push_back(pg::param(REGCLASSOID, ObjectIdGetDatum(*only)));
  }
  sql += " ORDER BY table_name, run_table";
  const uint64 rows = pg::execute(sql, params, false);  // sees this transaction's own changes
  if (only && rows == 0) {
    const std::string name = pg::relation_name(*only).value_or("with OID " + std::to_string(*only));
    throw core::Error(core::sqlstate::kObjectNotInPrerequisiteState,
                      "table " + name + " is not watched by recovery", {},
                      "Register it first: SELECT recovery.watch(" + pg::quote_literal(name) + ");");
  }

  // Read every row before resolving: resolving calls back into SPI-free
  // catalog lookups only, but keep the tuptable's lifetime obvious.
  std::vector<std::pair<Registration, std::string>> regs;
  for (uint64 row = 0; row < rows; ++row) {
    regs.emplace_back(
        registration_of(pg::oid_value(row, pg::column_index("run_table")), options_of(row)),
        pg::text_value(row, pg::column_index("table_name")));
  }

  std::vector<Watched> tables;
  for (const auto& [reg, registered_name] : regs) {
    // A table of a role whose privileges the caller lacks is not this call's
    // to cover: left out before anything about it is resolved or reported.
    if (coverage == Coverage::kCallerOwned && pg::relation_kind(reg.relid) != '\0' &&
        !pg::has_privileges_of(pg::relation_owner(reg.relid))) {
      if (skipped_count != nullptr) ++*skipped_count;
      continue;
    }
    std::optional<Skipped> skipped;
    try {
      tables.push_back(resolve(reg));
    } catch (const core::Error& e) {
      skipped = Skipped{reg.relid, registered_name, e.what(), e.detail(),
                        "Fix the table, re-register it with recovery.watch(), or stop watching "
                        "it with SELECT recovery.unwatch(" +
                            std::to_string(reg.relid) + ");"};
    }
    if (skipped) {
      skipped->name = pg::relation_name(reg.relid).value_or(registered_name);
      on_skip(*skipped);
    }
  }
  return tables;
}

}  // namespace

std::vector<Watched> load(std::optional<Oid> only, const SkipHandler& on_skip) {
  return load_tables(only, Coverage::kAll, on_skip, nullptr);
}

std::optional<Watched> load_one(Oid relid, const SkipHandler& on_skip) {
  auto tables = load_tables(relid, Coverage::kAll, on_skip, nullptr);
  if (tables.empty()) return std::nullopt;
  return std::move(tables.front());
}

std::vector<Watched> load_covered(const SkipHandler& on_skip, int* skipped) {
  return load_tables(std::nullopt, Coverage::kCallerOwned, on_skip, skipped);
}

void report_skipped(const Skipped& table, int level) {
  pg::report(level, "recovery: skipping watched table " + table.name + ": " + table.problem,
             table.detail, table.hint);
}

void warn_skipped(const Skipped& table) { report_skipped(table, WARNING); }

namespace {

// The single-column primary key of a table, if it has one.
std::optional<std::string> primary_key_column(Oid relid) {
  const uint64 rows = pg::execute(
      "SELECT a.attname::pg_catalog.text FROM pg_catalog.pg_index i "
      "JOIN pg_catalog.pg_attribute a ON a.attrelid OPERATOR(pg_catalog.=) i.indrelid "
      "AND a.attnum OPERATOR(pg_catalog.=) i.indkey[0] "
      "WHERE i.indrelid OPERATOR(pg_catalog.=) $1 AND i.indisprimary "
      "AND i.indnkeyatts OPERATOR(pg_catalog.=) 1",
      {pg::param(OIDOID, ObjectIdGetDatum(relid))}, true);
  if (rows == 0) return std::nullopt;
  return pg::text_value(0, 1);
}

bool is_unique_column(Oid relid, AttrNumber attnum) {
  return pg::execute(
             "SELECT 1 FROM pg_catalog.pg_index i WHERE i.indrelid OPERATOR(pg_catalog.=) $1 "
             "AND i.indisunique AND i.indnkeyatts OPERATOR(pg_catalog.=) 1 "
             "AND i.indkey[0] OPERATOR(pg_catalog.=) $2 AND i.indpred IS NULL LIMIT 1",
             {pg::param(OIDOID, ObjectIdGetDatum(relid)),
              pg::param(INT2OID, Int16GetDatum(attnum))},
             true) > 0;
}

std::string detect_or_throw(const std::vector<std::string>& columns,
                            const core::Candidates& candidates, const std::string& table,
                            const char* argument) {
  auto found = core::detect_column(columns, candidates);
  if (found) return *found;
  std::string list;
  for (const char* c : candidates) list += (list.empty() ? "" : ", ") + quoted(c);
  throw core::Error(core::sqlstate::kUndefinedColumn,
                    std::string("could not detect the ") + argument + " of table " + table,
                    "None of these columns exists: " + list + ".",
                    "Pass it explicitly: recovery.watch(" + pg::quote_literal(table) + ", " +
                        argument + " => '...').");
}

bool contains(const std::vector<std::string>& list, const std::string& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// The options beyond timeouts: validated here, their columns in resolve().
// Validates the options beyond timeouts and writes them as stored: values of
// options that are off are NULL (their columns, in resolve()).
void normalize(Options* o) {
  const std::vector<std::string> active = required(*o->active_statuses);
  if (o->max_runtime) {
    const Interval& m = *o->max_runtime;
    if (m.time < 0 || m.day < 0 || m.month < 0 || (m.time == 0 && m.day == 0 && m.month == 0)) {
      throw core::Error(core::sqlstate::kInvalidParameterValue,
                        "max_runtime must be a positive interval", {},
                        "Pass the longest a run may take, for example '6 hours', or NULL.");
    }
  }
  if (o->progress_column || o->total_column) {
    if (!o->completed_status) {
      throw core::Error(core::sqlstate::kNullValueNotAllowed, "completed_status must not be NULL",
                        {}, "Pass the status of a finished run, for example 'COMPLETED'.");
    }
    if (contains(active, *o->completed_status) || *o->completed_status == *o->failed_status) {
      throw core::Error(core::sqlstate::kInvalidParameterValue,
                        "completed_status \"" + *o->completed_status +
                            "\" must differ from the active and failed statuses");
    }
  } else {
    o->completed_status.reset();
  }
  const std::string on_stuck = o->on_stuck.value_or("");
  if (on_stuck != "fail" && on_stuck != "requeue") {
    throw core::Error(
        core::sqlstate::kInvalidParameterValue, "on_stuck must be 'fail' or 'requeue'", {},
        "'fail' marks stuck runs failed; 'requeue' puts them back while attempts last.");
  }
  if (on_stuck == "requeue") {
    if (!o->attempts_column) {
      throw core::Error(core::sqlstate::kInvalidParameterValue,
                        "on_stuck => 'requeue' needs attempts_column", {},
                        "Name the integer column that counts a run's attempts.");
    }
    if (!o->max_attempts || *o->max_attempts < 1) {
      throw core::Error(core::sqlstate::kInvalidParameterValue,
                        "on_stuck => 'requeue' needs max_attempts of at least 1", {},
                        "A run is failed once its attempts reach max_attempts.");
    }
    if (!o->requeue_status) {
      throw core::Error(core::sqlstate::kNullValueNotAllowed, "requeue_status must not be NULL");
    }
    if (!contains(active, *o->requeue_status)) {
      throw core::Error(core::sqlstate::kInvalidParameterValue,
                        "requeue_status \"" + *o->requeue_status + "\" is not an active status", {},
                        "A requeued run must be active again: use one of active_statuses.");
    }
  } else {
    o->requeue_status.reset();
    if (o->max_attempts && *o->max_attempts <= 0) o->max_attempts.reset();
  }
  if (!o->notify)
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "notify must not be NULL");
}

bool zone_is_known(const std::string& zone) {
  return pg::execute(
             "SELECT 1 FROM pg_catalog.pg_timezone_names WHERE name OPERATOR(pg_catalog.=) $1",
             {pg::param(TEXTOID, pg::text_datum(zone))}, true) > 0;
}

// Whether `zone` is UTC all year (Etc/UTC, GMT, Zulu...), not just in winter.
bool zone_is_utc(const std::string& zone) {
  pg::execute(
      "SELECT ('2000-01-15 12:00'::pg_catalog.timestamp AT TIME ZONE $1) OPERATOR(pg_catalog.=) "
      "'2000-01-15 12:00+00'::pg_catalog.timestamptz AND ('2000-07-15 12:00'::pg_catalog.timestamp "
      "AT TIME ZONE $1) OPERATOR(pg_catalog.=) '2000-07-15 12:00+00'::pg_catalog.timestamptz",
      {pg::param(TEXTOID, pg::text_datum(zone))}, true);
  return pg::bool_value(0, 1);
}

// The TimeZone a new session of this role in this database gets, whatever
// the calling session's client asked for: the role's and database's
// settings, else the configuration file, else PostgreSQL's default.
std::string server_time_zone() {
  std::string zone = "GMT";
  const std::vector<pg::Param> params = {
      pg::param(OIDOID, ObjectIdGetDatum(MyDatabaseId)),
      pg::param(OIDOID, ObjectIdGetDatum(pg::current_user_id()))};
  pg::as_recovery_owner([&] {
    pg::execute(
        "SELECT COALESCE((SELECT pg_catalog.substr(c, 10) FROM pg_catalog.pg_db_role_setting AS s, "
        "pg_catalog.unnest(s.setconfig) AS c WHERE s.setdatabase OPERATOR(pg_catalog.=) ANY "
        "(ARRAY[$1, 0::pg_catalog.oid]) AND s.setrole OPERATOR(pg_catalog.=) ANY (ARRAY[$2, "
        "0::pg_catalog.oid]) AND pg_catalog.starts_with(pg_catalog.lower(c), 'timezone=') "
        "ORDER BY (s.setrole OPERATOR(pg_catalog.<>) 0) DESC, (s.setdatabase "
        "OPERATOR(pg_catalog.<>) 0) DESC LIMIT 1), (SELECT f.setting FROM "
        "pg_catalog.pg_file_settings AS f WHERE pg_catalog.lower(f.name) OPERATOR(pg_catalog.=) "
        "'timezone' AND f.applied ORDER BY f.seqno DESC LIMIT 1), 'GMT')",
        params, true);
    zone = pg::text_value(0, 1);
  });
  return zone;
}

// The ambiguous case: a plain timestamp column defaulting to local "now"
// while new sessions' TimeZone is not UTC all year.
[[noreturn]] void refuse_local_default(const std::string& column, const std::string& table,
                                       const std::string& server) {
  throw core::Error(
      core::sqlstate::kInvalidParameterValue,
      "column " + quoted(column) + " of table " + table +
          " defaults to the current time as wall-clock time in TimeZone \"" + server + "\"",
      "A timestamp without time zone filled by that default holds local time, not UTC: "
      "read as UTC, live runs would look hours old.",
      "Pass time_zone => " + pg::quote_literal(server) +
          ", or time_zone => 'UTC' if the app writes UTC times itself.");
}

// The zone a table's plain timestamps hold: the one given (it must exist),
// else the one registered before, else UTC, unless that is ambiguous: a
// plain started or activity column that defaults to the current time, on a
// server whose sessions are not in UTC, holds local time (22023).
std::string zone_of(Oid relid, const std::string& name, const Options& o) {
  if (o.time_zone) {
    if (!zone_is_known(*o.time_zone)) {
      throw core::Error(
          core::sqlstate::kInvalidParameterValue, "unknown time zone \"" + *o.time_zone + "\"", {},
          "Use a name from pg_timezone_names, for example 'America/New_York' or 'UTC'.");
    }
    return *o.time_zone;
  }
  if (pg::execute("SELECT time_zone FROM recovery.watched_tables WHERE run_table "
                  "OPERATOR(pg_catalog.=) $1",
                  {pg::param(REGCLASSOID, ObjectIdGetDatum(relid))}, true) > 0) {
    return pg::text_value(0, 1);
  }
  for (const auto* column : {&o.started_column, &o.activity_column}) {
    if (!*column) continue;
    const AttrNumber attnum = pg::column_number(relid, **column);
    if (attnum == InvalidAttrNumber || pg::column_type(relid, attnum) != TIMESTAMPOID) continue;
    if (pg::execute(
            "SELECT pg_catalog.pg_get_expr(d.adbin, d.adrelid) FROM pg_catalog.pg_attrdef AS "
            "d WHERE d.adrelid OPERATOR(pg_catalog.=) $1 AND d.adnum OPERATOR(pg_catalog.=) $2",
            {pg::param(OIDOID, ObjectIdGetDatum(relid)), pg::param(INT2OID, Int16GetDatum(attnum))},
            true) == 0 ||
        !core::defaults_to_local_now(pg::text_value(0, 1))) {
      continue;
    }
    const std::string server = server_time_zone();
    if (zone_is_utc(server)) break;
    refuse_local_default(**column, name, server);
  }
  return "UTC";
}

// Inserts or updates the registration of `relid` from the stored options;
// true when it was new.
bool upsert(Oid relid, const std::string& name, const Options& stored) {
  std::vector<pg::Param> params = {pg::param(REGCLASSOID, ObjectIdGetDatum(relid)),
                                   pg::param(TEXTOID, pg::text_datum(name)),
                                   pg::param(TEXTOID, pg::text_datum(pg::current_role_name()))};
  std::string columns = "run_table, table_name, watched_by";
  std::string values = "$1, $2, $3::pg_catalog.name";
  std::string updates =
      "table_name = EXCLUDED.table_name, watched_by = EXCLUDED.watched_by, "
      "watched_at = pg_catalog.now()";
  for (const Field& f : kFields) {
    if (!f.stored) continue;
    params.push_back(param_of(f, stored));
    const std::string column = pg::quote_ident(f.name);
    columns += ", " + column;
    values += ", $" + std::to_string(params.size());
    updates += ", " + column + " = EXCLUDED.";
    updates += column;
  }
  bool inserted = false;
  pg::as_recovery_owner([&] {
    pg::execute("INSERT INTO recovery.watched_tables AS w (" + columns + ") VALUES (" + values +
                    ") ON CONFLICT (run_table) DO UPDATE SET " + updates +
                    " RETURNING (w.xmax OPERATOR(pg_catalog.=) 0)",
                params, false);
    inserted = pg::bool_value(0, 1);
  });
  return inserted;
}

}  // namespace

bool watch(Oid relid, const Options& args) {
  const char kind = pg::relation_kind(relid);
  const std::string name = pg::relation_name(relid).value_or(std::to_string(relid));
  if (kind == '\0') {
    throw core::Error(core::sqlstate::kUndefinedTable,
                      "relation with OID " + name + " does not exist");
  }
  require_table_kind(kind, name);
  const Oid nsp = pg::relation_namespace(relid);
  if (pg::is_temp_namespace(nsp)) {
    throw core::Error(core::sqlstate::kWrongObjectType,
                      "cannot watch temporary table " + quoted(pg::relation_base_name(relid)), {},
                      "The background worker cannot see temporary tables; use an ordinary table.");
  }
  if (pg::is_system_namespace(nsp)) {
    throw core::Error(core::sqlstate::kWrongObjectType, "cannot watch system table " + name);
  }
  require_owner(relid, name);
  if (nsp == pg::recovery_namespace()) {
    throw core::Error(core::sqlstate::kWrongObjectType, "cannot watch recovery's own table " + name,
                      {}, "Recovering it would rewrite the audit trail or the registrations.");
  }
  if (!args.status_column) {
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "status_column must not be NULL", {},
                      "Pass the name of the column holding the run's status.");
  }
  if (!args.active_statuses) {
    throw core::Error(core::sqlstate::kNullValueNotAllowed, "active_statuses must not be NULL");
  }
  core::validate_statuses(*args.active_statuses, args.failed_status);

  Options stored = args;
  normalize(&stored);
  const std::vector<std::string> columns = pg::column_names(relid);
  if (!stored.started_column) {
    stored.started_column =
        detect_or_throw(columns, core::kStartedCandidates, name, "started_column");
  }
  if (!stored.activity_column) {
    stored.activity_column = core::detect_column(columns, core::kActivityCandidates);
  }
  if (!stored.finished_column) {
    stored.finished_column = core::detect_column(columns, core::kFinishedCandidates);
  }
  if (!stored.id_column) {
    stored.id_column = primary_key_column(relid);
    if (!stored.id_column) {
      throw core::Error(core::sqlstate::kInvalidColumnReference,
                        "table " + name + " has no single-column primary key", {},
                        "Pass id_column => the name of a unique column.");
    }
  }

  stored.time_zone = zone_of(relid, name, stored);

  const Watched w = resolve(registration_of(relid, stored));  // every column and type check
  if (args.id_column && !is_unique_column(relid, pg::column_number(relid, *stored.id_column))) {
    throw core::Error(
        core::sqlstate::kInvalidColumnReference,
        "id column " + quoted(*stored.id_column) + " of table " + name + " is not unique", {},
        "Use the primary key or a column with a unique index.");
  }
  return upsert(relid, w.name, stored);
}

bool unwatch(Oid relid) {
  // A dropped table can only be named by its OID; anyone may clean that up.
  if (pg::relation_kind(relid) != '\0') {
    require_owner(relid, pg::relation_name(relid).value_or(std::to_string(relid)));
  }
  uint64 rows = 0;
  const std::vector<pg::Param> params = {pg::param(REGCLASSOID, ObjectIdGetDatum(relid))};
  pg::as_recovery_owner([&] {
    rows =
        pg::execute("DELETE FROM recovery.watched_tables WHERE run_table OPERATOR(pg_catalog.=) $1",
                    params, false);
    // Its claims go with it: no orphan keeps a run "owned".
    pg::execute("DELETE FROM recovery.claims WHERE run_table OPERATOR(pg_catalog.=) $1", params,
                false);
  });
  return rows > 0;
}

}  // namespace recovery::registry
