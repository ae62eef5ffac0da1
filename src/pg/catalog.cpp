#include "pg/catalog.hpp"

#include <algorithm>

extern "C" {
#include "access/htup_details.h"
#include "catalog/catalog.h"
#include "catalog/namespace.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "mb/pg_wchar.h"
#include "postmaster/bgworker.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/syscache.h"
#include "utils/typcache.h"
}

namespace recovery::pg {

std::string quote_ident(const std::string& name) {
  return guard([&] { return quote_identifier(name.c_str()); });
}

std::string quote_literal(const std::string& value) {
  return guard([&] { return quote_literal_cstr(value.c_str()); });
}

std::optional<std::string> relation_name(Oid relid) {
  const char* name = guard([&]() -> const char* {
    char* rel = get_rel_name(relid);
    if (rel == nullptr) return nullptr;
    char* nsp = get_namespace_name(get_rel_namespace(relid));
    if (nsp == nullptr) return nullptr;
    return quote_qualified_identifier(nsp, rel);
  });
  if (name == nullptr) return std::nullopt;
  return std::string(name);
}

Oid relation_owner(Oid relid) {
  return guard([&] {
    HeapTuple tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for relation %u", relid);
    const Oid owner = reinterpret_cast<Form_pg_class>(GETSTRUCT(tuple))->relowner;
    ReleaseSysCache(tuple);
    return owner;
  });
}

char relation_kind(Oid relid) {
  return guard([&] { return get_rel_relkind(relid); });
}

Oid relation_namespace(Oid relid) {
  return guard([&] { return get_rel_namespace(relid); });
}

bool is_system_namespace(Oid nspid) {
  return guard([&] {
    return IsCatalogNamespace(nspid) || IsToastNamespace(nspid) ||
           nspid == get_namespace_oid("information_schema", true);
  });
}

bool is_temp_namespace(Oid nspid) {
  return guard([&] { return isAnyTempNamespace(nspid); });
}

std::string relation_base_name(Oid relid) {
  const char* name = guard([&] { return get_rel_name(relid); });
  return name != nullptr ? name : std::to_string(relid);
}

Oid recovery_namespace() {
  return guard([] { return get_namespace_oid("recovery", false); });
}

Oid recovery_table(const char* name) {
  return guard([&] {
    const Oid nsp = get_namespace_oid("recovery", false);
    const Oid relid = get_relname_relid(name, nsp);
    if (!OidIsValid(relid)) elog(ERROR, "recovery.%s is missing", name);
    return relid;
  });
}

AttrNumber column_number(Oid relid, const std::string& column) {
  return guard([&] { return get_attnum(relid, column.c_str()); });
}

Oid column_type(Oid relid, AttrNumber attnum) {
  return guard([&] { return getBaseType(get_atttype(relid, attnum)); });
}

std::vector<std::string> column_names(Oid relid) {
  std::vector<std::string> names;
  for (AttrNumber attnum = 1;; ++attnum) {
    // get_attname(missing_ok) returns NULL past the last column; dropped
    // columns keep a placeholder name that no candidate list contains.
    const char* name = guard([&] { return get_attname(relid, attnum, true); });
    if (name == nullptr) break;
    names.emplace_back(name);
  }
  return names;
}

bool column_is_generated(Oid relid, AttrNumber attnum) {
  return guard([&] { return get_attgenerated(relid, attnum) != '\0'; });
}

bool is_enum_type(Oid type) {
  return guard([&] { return type_is_enum(type); });
}

bool enum_has_label(Oid enum_type, const std::string& label) {
  return guard([&] {
    return SearchSysCacheExists2(ENUMTYPOIDNAME, ObjectIdGetDatum(enum_type),
                                 CStringGetDatum(label.c_str()));
  });
}

std::string type_name(Oid type) {
  return guard([&] { return format_type_be(type); });
}

std::string qualified_type_name(Oid type) {
  return guard([&] {
    HeapTuple tuple = SearchSysCache1(TYPEOID, ObjectIdGetDatum(type));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for type %u", type);
    const auto* form = reinterpret_cast<Form_pg_type>(GETSTRUCT(tuple));
    char* name =
        quote_qualified_identifier(get_namespace_name(form->typnamespace), NameStr(form->typname));
    ReleaseSysCache(tuple);
    return name;
  });
}

std::string equality_operator(Oid type) {
  return guard([&] {
    const TypeCacheEntry* entry = lookup_type_cache(type, TYPECACHE_EQ_OPR);
    if (!OidIsValid(entry->eq_opr)) {
      ereport(ERROR, (errcode(ERRCODE_UNDEFINED_FUNCTION),
                      errmsg("type %s has no equality operator", format_type_be(type))));
    }
    HeapTuple tuple = SearchSysCache1(OPEROID, ObjectIdGetDatum(entry->eq_opr));
    if (!HeapTupleIsValid(tuple)) elog(ERROR, "cache lookup failed for operator %u", entry->eq_opr);
    const auto* form = reinterpret_cast<Form_pg_operator>(GETSTRUCT(tuple));
    char* text =
        psprintf("OPERATOR(%s.%s)", quote_identifier(get_namespace_name(form->oprnamespace)),
                 NameStr(form->oprname));
    ReleaseSysCache(tuple);
    return text;
  });
}

Oid array_type_of(Oid type) {
  return guard([&] { return get_array_type(type); });
}

bool has_table_privilege(Oid relid, AclMode mode) {
  return guard([&] { return pg_class_aclcheck(relid, GetUserId(), mode) == ACLCHECK_OK; });
}

bool has_column_privilege(Oid relid, AttrNumber attnum, AclMode mode) {
  return guard(
      [&] { return pg_attribute_aclcheck(relid, attnum, GetUserId(), mode) == ACLCHECK_OK; });
}

bool owns_relation(Oid relid) {
  return guard([&] { return compat::relation_ownercheck(relid, GetUserId()); });
}

bool has_privileges_of(Oid role) {
  return guard([&] { return has_privs_of_role(GetUserId(), role); });
}

bool current_user_is_superuser() {
  return guard([] { return superuser(); });
}

Oid current_user_id() { return GetUserId(); }

std::string current_role_name() {
  return guard([] { return GetUserNameFromId(GetUserId(), false); });
}

std::string current_application_name() {
  const char* name = guard([] { return GetConfigOption("application_name", true, false); });
  if (name != nullptr && name[0] != '\0') return name;
  // Background workers (pg_cron's, for one) often set none: name their kind.
  if (MyBgworkerEntry != nullptr) return MyBgworkerEntry->bgw_type;
  return "";
}

std::string clip_name(const std::string& name, int bytes) {
  if (static_cast<int>(name.size()) <= bytes) return name;
  const int keep =
      guard([&] { return pg_mbcliplen(name.c_str(), static_cast<int>(name.size()), bytes); });
  return name.substr(0, static_cast<size_t>(keep));
}

}  // namespace recovery::pg
