#include "engine/run_json.hpp"

#include "pg/guard.hpp"

extern "C" {
#include "access/htup_details.h"
#include "nodes/makefuncs.h"
#include "parser/parse_coerce.h"
#include "utils/datetime.h"
#include "utils/fmgroids.h"
#include "utils/json.h"
#include "utils/jsonb.h"
#include "utils/numeric.h"
}

namespace recovery::engine {

namespace {

// Two digits of `n` (0..99) at p.
char* two(char* p, int n) {
  p[0] = static_cast<char>('0' + n / 10);
  p[1] = static_cast<char>('0' + n % 10);
  return p + 2;
}

// A finite UTC wall-clock time as to_char(value, 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
// prints it (a year of more than four digits printed whole, a BC year as its
// absolute value, milliseconds truncated), into `buf` (at least 32 bytes).
// Returns the length, or -1 when the value is infinite (to_char: NULL).
int z_instant(Timestamp value, char* buf) {
  if (TIMESTAMP_NOT_FINITE(value)) return -1;
  struct pg_tm tm;
  fsec_t fsec;
  if (timestamp2tm(value, nullptr, &tm, &fsec, nullptr, nullptr) != 0) {
    ereport(ERROR,
            (errcode(ERRCODE_DATETIME_VALUE_OUT_OF_RANGE), errmsg("timestamp out of range")));
  }
  const int year = tm.tm_year <= 0 ? -(tm.tm_year - 1) : tm.tm_year;
  char* p = buf;
  if (year >= 10000) {
    p += pg_ultoa_n(static_cast<uint32>(year), p);
  } else {
    p = two(p, year / 100);
    p = two(p, year % 100);
  }
  *p++ = '-';
  p = two(p, tm.tm_mon);
  *p++ = '-';
  p = two(p, tm.tm_mday);
  *p++ = 'T';
  p = two(p, tm.tm_hour);
  *p++ = ':';
  p = two(p, tm.tm_min);
  *p++ = ':';
  p = two(p, tm.tm_sec);
  *p++ = '.';
  const int ms = static_cast<int>(fsec / 1000);
  *p++ = static_cast<char>('0' + ms / 100);
  p = two(p, ms % 100);
  *p++ = 'Z';
  return static_cast<int>(p - buf);
}

void push_string(JsonbParseState** state, JsonbIteratorToken token, char* s, int len) {
  JsonbValue v;
  v.type = jbvString;
  v.val.string.val = s;
  v.val.string.len = len;
  pushJsonbValue(state, token, &v);
}

}  // namespace

RunJson::RunJson(int first_column, std::string time_zone)
    : first_column_(first_column),
      time_zone_(std::move(time_zone)),
      utc_(time_zone_ == "UTC"),
      context_(CurrentMemoryContext) {}

void RunJson::prepare(TupleDesc desc) {
  const int natts = desc->natts;
  columns_.reserve(static_cast<size_t>(natts));
  for (int i = first_column_ - 1; i < natts; ++i) {
    Column c;
    c.index = i;
    c.name = NameStr(TupleDescAttr(desc, i)->attname);
    columns_.push_back(std::move(c));
  }
  pg::guard([&] {
    const MemoryContext previous = MemoryContextSwitchTo(context_);
    natts_ = natts;
    values_ = static_cast<Datum*>(palloc(sizeof(Datum) * natts));
    nulls_ = static_cast<bool*>(palloc(sizeof(bool) * natts));
    if (!utc_) zone_ = CStringGetTextDatum(time_zone_.c_str());
    for (Column& c : columns_) {
      const Form_pg_attribute att = TupleDescAttr(desc, c.index);
      // As to_jsonb's jsonb_categorize_type sees the column's type.
      const Oid base = getBaseType(att->atttypid);
      c.base = base;
      Oid output = InvalidOid;
      bool varlena = false;
      switch (base) {
        case TIMESTAMPTZOID:
          c.kind = Kind::kInstant;
          break;
        case TIMESTAMPOID:
          c.kind = utc_ ? Kind::kInstant : Kind::kWallClock;
          break;
        case BOOLOID:
          c.kind = Kind::kBool;
          break;
        case INT2OID:
        case INT4OID:
        case INT8OID:
          c.kind = Kind::kInteger;
          break;
        case FLOAT4OID:
        case FLOAT8OID:
        case NUMERICOID:
          c.kind = Kind::kNumber;
          getTypeOutputInfo(base, &output, &varlena);
          break;
        case DATEOID:
          c.kind = Kind::kDate;
          break;
        case TEXTOID:
        case VARCHAROID:
        case BPCHAROID:
          c.kind = Kind::kText;  // their output functions print the stored string
          break;
        case JSONOID:
        case JSONBOID:
          c.kind = Kind::kToJsonb;
          break;
        default:
          if (OidIsValid(get_element_type(base)) || base == ANYARRAYOID ||
              base == ANYCOMPATIBLEARRAYOID || base == RECORDARRAYOID || type_is_rowtype(base)) {
            c.kind = Kind::kToJsonb;
          } else {
            c.kind = Kind::kOutput;
            if (base >= FirstNormalObjectId) {
              Oid cast = InvalidOid;
              if (find_coercion_pathway(JSONOID, base, COERCION_EXPLICIT, &cast) ==
                      COERCION_PATH_FUNC &&
                  OidIsValid(cast)) {
                c.kind = Kind::kToJsonb;  // a type with its own cast to json
              }
            }
            if (c.kind == Kind::kOutput) getTypeOutputInfo(base, &output, &varlena);
          }
      }
      if (OidIsValid(output)) fmgr_info_cxt(output, &c.function, context_);
      if (c.kind == Kind::kToJsonb) {
        // to_jsonb(anyelement) finds its argument's type in its call expression.
        FuncExpr* call = makeFuncExpr(
            F_TO_JSONB, JSONBOID,
            list_make1(makeNullConst(att->atttypid, att->atttypmod, att->attcollation)), InvalidOid,
            InvalidOid, COERCE_EXPLICIT_CALL);
        fmgr_info_cxt(F_TO_JSONB, &c.function, context_);
        fmgr_info_set_expr(reinterpret_cast<Node*>(call), &c.function);
      }
    }
    MemoryContextSwitchTo(previous);
  });
}

Datum RunJson::build(uint64 row) {
  if (values_ == nullptr) prepare(SPI_tuptable->tupdesc);
  return pg::guard([&] {
    heap_deform_tuple(SPI_tuptable->vals[row], SPI_tuptable->tupdesc, values_, nulls_);
    JsonbParseState* state = nullptr;
    pushJsonbValue(&state, WJB_BEGIN_OBJECT, nullptr);
    char buf[32];
    for (Column& c : columns_) {
      push_string(&state, WJB_KEY, const_cast<char*>(c.name.data()),
                  static_cast<int>(c.name.size()));
      const Datum value = values_[c.index];
      JsonbValue v;
      v.type = jbvNull;
      if (!nulls_[c.index]) {
        switch (c.kind) {
          case Kind::kInstant:
          case Kind::kWallClock: {
            const Timestamp utc =
                c.kind == Kind::kInstant
                    ? DatumGetTimestamp(value)
                    : DatumGetTimestampTz(DirectFunctionCall2(timestamp_zone, zone_, value));
            const int len = z_instant(utc, buf);
            if (len >= 0) {
              v.type = jbvString;
              v.val.string.val = pnstrdup(buf, len);
              v.val.string.len = len;
            }
            break;
          }
          case Kind::kBool:
            v.type = jbvBool;
            v.val.boolean = DatumGetBool(value);
            break;
          case Kind::kInteger: {
            const int64 n = c.base == INT2OID   ? DatumGetInt16(value)
                            : c.base == INT4OID ? DatumGetInt32(value)
                                                : DatumGetInt64(value);
            v.type = jbvNumeric;
            v.val.numeric = int64_to_numeric(n);
            break;
          }
          case Kind::kNumber: {
            // As to_jsonb: a number unless the text is NaN or Infinity.
            char* digits = OutputFunctionCall(&c.function, value);
            if (strchr(digits, 'N') == nullptr && strchr(digits, 'n') == nullptr) {
              v.type = jbvNumeric;
              v.val.numeric = DatumGetNumeric(
                  DirectFunctionCall3(numeric_in, CStringGetDatum(digits),
                                      ObjectIdGetDatum(InvalidOid), Int32GetDatum(-1)));
            } else {
              v.type = jbvString;
              v.val.string.val = digits;
              v.val.string.len = static_cast<int>(strlen(digits));
            }
            break;
          }
          case Kind::kDate:
            v.type = jbvString;
            v.val.string.val = JsonEncodeDateTime(nullptr, value, DATEOID, nullptr);
            v.val.string.len = static_cast<int>(strlen(v.val.string.val));
            break;
          case Kind::kText: {
            const text* t = pg_detoast_datum_packed(reinterpret_cast<varlena*>(value));
            v.type = jbvString;
            v.val.string.val = const_cast<char*>(VARDATA_ANY(t));
            v.val.string.len = static_cast<int>(VARSIZE_ANY_EXHDR(t));
            break;
          }
          case Kind::kOutput:
            v.type = jbvString;
            v.val.string.val = OutputFunctionCall(&c.function, value);
            v.val.string.len = static_cast<int>(strlen(v.val.string.val));
            break;
          case Kind::kToJsonb: {
            Jsonb* j = DatumGetJsonbP(FunctionCall1(&c.function, value));
            if (JB_ROOT_IS_SCALAR(j)) {
              JsonbExtractScalar(&j->root, &v);
              break;
            }
            JsonbIterator* it = JsonbIteratorInit(&j->root);
            JsonbValue element;
            JsonbIteratorToken token;
            while ((token = JsonbIteratorNext(&it, &element, false)) != WJB_DONE) {
              const bool bracket = token == WJB_BEGIN_ARRAY || token == WJB_END_ARRAY ||
                                   token == WJB_BEGIN_OBJECT || token == WJB_END_OBJECT;
              pushJsonbValue(&state, token, bracket ? nullptr : &element);
            }
            continue;  // pushed
          }
        }
      }
      pushJsonbValue(&state, WJB_VALUE, &v);
    }
    JsonbValue* object = pushJsonbValue(&state, WJB_END_OBJECT, nullptr);
    return JsonbPGetDatum(JsonbValueToJsonb(object));
  });
}

}  // namespace recovery::engine
