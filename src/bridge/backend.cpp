#include "bridge/backend.hpp"

#include <algorithm>

extern "C" {
#include "access/htup_details.h"
#include "catalog/namespace.h"
#include "catalog/catalog.h"
#include "catalog/pg_class.h"
#include "catalog/pg_operator.h"
#include "catalog/pg_type.h"
#include "commands/async.h"
#include "mb/pg_wchar.h"
#include "postmaster/bgworker.h"
#include "storage/proc.h"
#include "utils/acl.h"
#include "utils/array.h"
#include "utils/guc.h"
#include "utils/jsonb.h"
#include "utils/resowner.h"
#include "utils/syscache.h"
#include "utils/timeout.h"
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

std::vector<std::pair<std::string, Oid>> columns_of_types(Oid relid, std::vector<Oid> types) {
  std::vector<std::pair<std::string, Oid>> found;
  for (AttrNumber attnum = 1;; ++attnum) {
    const char* name = guard([&] { return get_attname(relid, attnum, true); });
    if (name == nullptr) break;
    const Oid type = guard([&] {
      const Oid declared = get_atttype(relid, attnum);  // InvalidOid when dropped
      return OidIsValid(declared) ? getBaseType(declared) : InvalidOid;
    });
    if (std::find(types.begin(), types.end(), type) != types.end()) found.emplace_back(name, type);
  }
  return found;
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

Datum text_datum(const std::string& value) {
  return guard([&] {
    return PointerGetDatum(cstring_to_text_with_len(value.data(), static_cast<int>(value.size())));
  });
}

Datum interval_datum(const Interval& value) {
  Interval* copy = guard([] { return static_cast<Interval*>(palloc(sizeof(Interval))); });
  *copy = value;
  return PointerGetDatum(copy);
}

Datum wall_clock(TimestampTz instant, const std::string& zone) {
  return guard([&] {
    return DirectFunctionCall2(timestamptz_zone, CStringGetTextDatum(zone.c_str()),
                               TimestampTzGetDatum(instant));
  });
}

TimestampTz minus_interval(TimestampTz instant, const Interval& span) {
  return guard([&] {
    return DatumGetTimestamp(DirectFunctionCall2(timestamp_mi_interval, TimestampGetDatum(instant),
                                                 PointerGetDatum(&span)));
  });
}

Datum typed_datum(Oid type, const std::string& text) {
  return guard([&] {
    Oid input = InvalidOid;
    Oid ioparam = InvalidOid;
    getTypeInputInfo(type, &input, &ioparam);
    return OidInputFunctionCall(input, const_cast<char*>(text.c_str()), ioparam, -1);
  });
}

std::string canonical_text(Oid type, const std::string& text) {
  const Datum value = typed_datum(type, text);
  return guard([&] {
    Oid output = InvalidOid;
    bool varlena = false;
    getTypeOutputInfo(type, &output, &varlena);
    return OidOutputFunctionCall(output, value);
  });
}

Datum array_datum(const std::vector<std::string>& values, Oid element_type) {
  // Built through the element type's input function, so enum labels become
  // enum values and the planner can fold the array into a constant.
  std::string literal = "{";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) literal += ',';
    literal += '"';
    for (char c : values[i]) {
      if (c == '"' || c == '\\') literal += '\\';
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return guard([&] {
    const Oid array_type = get_array_type(element_type);
    Oid input = InvalidOid;
    Oid ioparam = InvalidOid;
    getTypeInputInfo(array_type, &input, &ioparam);
    return OidInputFunctionCall(input, const_cast<char*>(literal.c_str()), ioparam, -1);
  });
}

Datum text_array_datum(const std::vector<std::string>& values) {
  return array_datum(values, TEXTOID);
}

void notify(const char* channel, const char* payload) {
  guard([&] { Async_Notify(channel, payload); });
}

void with_settings(const std::vector<std::pair<const char*, std::string>>& settings,
                   const std::function<void()>& fn) {
  const int level = guard([] { return NewGUCNestLevel(); });
  for (const auto& setting : settings) {
    const char* name = setting.first;
    const char* value = setting.second.c_str();
    guard([&] {
      (void)set_config_option(name, value, PGC_USERSET, PGC_S_SESSION, GUC_ACTION_SAVE, true, 0,
                              false);
    });
  }
  fn();  // on an exception the (sub)transaction abort pops the nest level
  guard([&] { AtEOXact_GUC(true, level); });
}

int current_lock_timeout_ms() { return LockTimeout; }

void with_statement_timeout(int ms, const std::function<void()>& fn) {
  if (ms <= 0) {
    fn();
    return;
  }
  guard([&] { enable_timeout_after(STATEMENT_TIMEOUT, ms); });
  try {
    fn();
  } catch (...) {
    disable_timeout(STATEMENT_TIMEOUT, false);  // cannot fail
    throw;
  }
  disable_timeout(STATEMENT_TIMEOUT, false);
}

std::optional<ErrorReport> in_subtransaction(const std::function<void()>& fn) {
  const MemoryContext context = CurrentMemoryContext;
  const ResourceOwner owner = CurrentResourceOwner;
  guard([] { BeginInternalSubTransaction(nullptr); });
  MemoryContextSwitchTo(context);  // fn() allocates where its caller does
  std::exception_ptr failure;
  try {
    fn();
  } catch (...) {
    failure = std::current_exception();
  }
  if (!failure) {
    guard([] { ReleaseCurrentSubTransaction(); });
    MemoryContextSwitchTo(context);
    CurrentResourceOwner = owner;
    return std::nullopt;
  }
  ErrorReport report = describe(failure);
  failure = nullptr;
  guard([] { RollbackAndReleaseCurrentSubTransaction(); });
  MemoryContextSwitchTo(context);
  CurrentResourceOwner = owner;
  return report;
}

ErrorContextLine::ErrorContextLine(std::string line) : line_(std::move(line)) {
  entry_.callback = &ErrorContextLine::add;
  entry_.arg = this;
  entry_.previous = error_context_stack;
  error_context_stack = &entry_;
}

// guard() puts the stack back as it was at its call, so on the way out this
// entry is on top again: popping it is a pointer restore that cannot fail.
ErrorContextLine::~ErrorContextLine() { error_context_stack = entry_.previous; }

void ErrorContextLine::add(void* self) {
  errcontext("%s", static_cast<ErrorContextLine*>(self)->line_.c_str());
}

char* jsonb_text(std::initializer_list<TextField> fields,
                 std::initializer_list<const char*> flags) {
  return guard([&] {
    JsonbParseState* state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
    for (const TextField& field : fields) {
      JsonbValue key;
      key.type = jbvString;
      key.val.string.val = const_cast<char*>(field.first);
      key.val.string.len = static_cast<int>(strlen(field.first));
      pushJsonbValue(&state, WJB_KEY, &key);
      const text* value = DatumGetTextPP(field.second);
      JsonbValue string;
      string.type = jbvString;
      string.val.string.val = const_cast<char*>(VARDATA_ANY(value));
      string.val.string.len = static_cast<int>(VARSIZE_ANY_EXHDR(value));
      pushJsonbValue(&state, WJB_VALUE, &string);
    }
    for (const char* flag : flags) {
      JsonbValue key;
      key.type = jbvString;
      key.val.string.val = const_cast<char*>(flag);
      key.val.string.len = static_cast<int>(strlen(flag));
      pushJsonbValue(&state, WJB_KEY, &key);
      JsonbValue yes;
      yes.type = jbvBool;
      yes.val.boolean = true;
      pushJsonbValue(&state, WJB_VALUE, &yes);
    }
    const Jsonb* object = JsonbValueToJsonb(pushJsonbValue(&state, WJB_END_OBJECT, nullptr));
    return JsonbToCString(nullptr, const_cast<JsonbContainer*>(&object->root), VARSIZE(object));
  });
}

// async.c refuses payloads of BLCKSZ - NAMEDATALEN - 128 bytes or more.
size_t notify_payload_limit() { return BLCKSZ - NAMEDATALEN - 128 - 1; }

Datum text_prefix(Datum value, int bytes, bool* cut) {
  return guard([&] {
    const text* t = DatumGetTextPP(value);
    const int length = VARSIZE_ANY_EXHDR(t);
    *cut = length > bytes;
    if (!*cut) return value;
    const int keep = pg_mbcliplen(VARDATA_ANY(t), length, bytes);
    return PointerGetDatum(cstring_to_text_with_len(VARDATA_ANY(t), keep));
  });
}

std::string clip_name(const std::string& name, int bytes) {
  if (static_cast<int>(name.size()) <= bytes) return name;
  const int keep =
      guard([&] { return pg_mbcliplen(name.c_str(), static_cast<int>(name.size()), bytes); });
  return name.substr(0, static_cast<size_t>(keep));
}

void report(int level, const std::string& message, const std::string& detail,
            const std::string& hint) {
  guard([&] {
    ereport(level, (errmsg_internal("%s", message.c_str()),
                    detail.empty() ? 0 : errdetail_internal("%s", detail.c_str()),
                    hint.empty() ? 0 : errhint("%s", hint.c_str())));
  });
}

}  // namespace recovery::pg

namespace recovery::pg {

Datum array_of(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type) {
  // construct_md_array wants bool*, which std::vector<bool> cannot give.
  std::unique_ptr<bool[]> null_flags(new bool[values.size() + 1]);
  for (size_t i = 0; i < values.size(); ++i) null_flags[i] = !nulls.empty() && nulls[i];
  int dims = static_cast<int>(values.size());
  int lbs = 1;
  const Datum* data = values.data();
  bool* flags = null_flags.get();
  return guard([&] {
    int16 typlen = 0;
    bool typbyval = false;
    char typalign = 0;
    get_typlenbyvalalign(element_type, &typlen, &typbyval, &typalign);
    return PointerGetDatum(construct_md_array(const_cast<Datum*>(data), flags, 1, &dims, &lbs,
                                              element_type, typlen, typbyval, typalign));
  });
}

}  // namespace recovery::pg
