// Small guarded wrappers over backend services the rooms share: names,
// catalogs, identities, messages. Each hides one PostgreSQL call behind guard().
#pragma once

#include <functional>

#include "bridge/guard.hpp"

namespace recovery::pg {

std::string quote_ident(const std::string& name);
// A SQL string literal ('it''s'), for messages that show SQL to copy.
std::string quote_literal(const std::string& value);

// "schema.table", each part quoted only where needed; nullopt if gone.
std::optional<std::string> relation_name(Oid relid);
Oid relation_owner(Oid relid);
char relation_kind(Oid relid);  // '\0' when the relation does not exist
Oid relation_namespace(Oid relid);
bool is_system_namespace(Oid nspid);
bool is_temp_namespace(Oid nspid);
std::string relation_base_name(Oid relid);  // unqualified, unquoted

// A table of recovery's own schema (e.g. "history").
Oid recovery_table(const char* name);
Oid recovery_namespace();

// Column lookups; InvalidAttrNumber / InvalidOid when missing.
AttrNumber column_number(Oid relid, const std::string& column);
Oid column_type(Oid relid, AttrNumber attnum);  // domains resolved to their base type
std::vector<std::string> column_names(Oid relid);
// The columns (name, base type) whose base type is one of `types`, in order.
std::vector<std::pair<std::string, Oid>> columns_of_types(Oid relid, std::vector<Oid> types);
bool column_is_generated(Oid relid, AttrNumber attnum);
bool is_enum_type(Oid type);
bool enum_has_label(Oid enum_type, const std::string& label);
std::string type_name(Oid type);
// schema.name of a type, for casts in recovery's SQL (pg_catalog.int4).
std::string qualified_type_name(Oid type);
// OPERATOR(schema.=): the equality of `type`'s default operator class, named
// by its schema so no search_path picks another (citext's, a domain's base).
std::string equality_operator(Oid type);
Oid array_type_of(Oid type);

bool has_table_privilege(Oid relid, AclMode mode);
bool has_column_privilege(Oid relid, AttrNumber attnum, AclMode mode);
bool owns_relation(Oid relid);
// The current user has the privileges of `role` (is it, a member, or a superuser).
bool has_privileges_of(Oid role);

std::string current_role_name();
// application_name, or for a background worker without one its type.
std::string current_application_name();

Datum text_datum(const std::string& value);
Datum interval_datum(const Interval& value);  // a palloc'd copy
// The wall-clock time (a plain timestamp) of `instant` in time zone `zone`,
// as `instant AT TIME ZONE zone` gives it.
Datum wall_clock(TimestampTz instant, const std::string& zone);
// `instant` minus `span` on the plain (UTC) calendar, so "1 day" is the same
// span whatever TimeZone the session has.
TimestampTz minus_interval(TimestampTz instant, const Interval& span);
// A value of `type` from its text form, through the type's input function
// (so a malformed value gets the type's own error, e.g. 22P02).
Datum typed_datum(Oid type, const std::string& text);
// `text` read as `type` and written back: the value's canonical text form.
std::string canonical_text(Oid type, const std::string& text);
Datum text_array_datum(const std::vector<std::string>& values);
Datum array_datum(const std::vector<std::string>& values, Oid element_type);

bool current_user_is_superuser();
Oid current_user_id();

// Runs fn() in a subtransaction, as a PL/pgSQL block with an EXCEPTION
// clause does: kept if fn() returns; if it throws, rolled back alone and the
// error returned (already described: its memory goes with the rollback).
// Needs the caller's SPI connection, if any, to have been opened outside.
std::optional<ErrorReport> in_subtransaction(const std::function<void()>& fn);

// While alive, adds `line` to the CONTEXT of every PostgreSQL error raised
// (as PL/pgSQL names the function and line): an error deep inside a
// statement, a lock timeout say, then names what recovery was doing.
class ErrorContextLine {
 public:
  explicit ErrorContextLine(std::string line);
  ErrorContextLine(const ErrorContextLine&) = delete;
  ErrorContextLine& operator=(const ErrorContextLine&) = delete;
  ~ErrorContextLine();

 private:
  static void add(void* self);
  std::string line_;
  ErrorContextCallback entry_{};
};

// Runs fn() with configuration parameters set as a function's SET clause
// would: they revert when fn() returns (and with the transaction on error).
void with_settings(const std::vector<std::pair<const char*, std::string>>& settings,
                   const std::function<void()>& fn);
int current_lock_timeout_ms();

// Runs fn() with a statement timeout of `ms` (0: none) armed around it, as
// PostgreSQL arms statement_timeout for a client's statement (SPI arms none):
// past it, the next interrupt check raises 57014.
void with_statement_timeout(int ms, const std::function<void()>& fn);

void notify(const char* channel, const char* payload);

// A jsonb object of text fields, as text: what jsonb_build_object(k1, v1,
// ...)::text gives, built with the jsonb API (no SQL, no type lookups per
// value). The values are text Datums; the result is palloc'd.
// `flags` are keys whose value is true.
using TextField = std::pair<const char*, Datum>;
char* jsonb_text(std::initializer_list<TextField> fields,
                 std::initializer_list<const char*> flags = {});

// The longest NOTIFY payload PostgreSQL accepts, in bytes.
size_t notify_payload_limit();
// `value` cut to at most `bytes` bytes on a character boundary.
Datum text_prefix(Datum value, int bytes, bool* cut);
// `name` cut to at most `bytes` bytes on a character boundary, as
// PostgreSQL truncates identifiers.
std::string clip_name(const std::string& name, int bytes);

// Messages below ERROR (they return).
void report(int level, const std::string& message, const std::string& detail = {},
            const std::string& hint = {});

}  // namespace recovery::pg

namespace recovery::pg {
// A one-dimensional array of `element_type` from Datums (copied).
Datum array_of(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type);
}  // namespace recovery::pg
