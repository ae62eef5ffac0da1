// The catalogs, names and identities, each behind guard(): relations,
// columns, types, operators, privileges, roles.
#pragma once

#include "pg/guard.hpp"

namespace recovery::pg {

std::string quote_ident(const std::string& name);
// A SQL string literal ('it''s'), for messages that show SQL to copy.
std::string quote_literal(const std::string& value);
// `name` cut to at most `bytes` bytes on a character boundary, as
// PostgreSQL truncates identifiers.
std::string clip_name(const std::string& name, int bytes);

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
bool current_user_is_superuser();
Oid current_user_id();

}  // namespace recovery::pg
