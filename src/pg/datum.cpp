#include "pg/datum.hpp"

#include <algorithm>

extern "C" {
#include "mb/pg_wchar.h"
#include "utils/array.h"
#include "utils/lsyscache.h"
}

namespace recovery::pg {

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

Datum array_of(const std::vector<std::string>& values, Oid element_type) {
  std::vector<Datum> elements;
  elements.reserve(values.size());
  for (const auto& value : values) elements.push_back(typed_datum(element_type, value));
  return array_of(elements, {}, element_type);
}

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

}  // namespace recovery::pg
