// Values: C++ to Datum and back, each behind guard(). Arrays are built one
// way, array_of().
#pragma once

#include "pg/guard.hpp"

namespace recovery::pg {

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
// `value` cut to at most `bytes` bytes on a character boundary.
Datum text_prefix(Datum value, int bytes, bool* cut);

// A one-dimensional array of `element_type` from Datums (copied); `nulls`
// empty for none.
Datum array_of(const std::vector<Datum>& values, const std::vector<bool>& nulls, Oid element_type);
// The same from text forms, each through the element type's input function
// (typed_datum), so enum labels become enum values and a domain's checks run.
Datum array_of(const std::vector<std::string>& values, Oid element_type);

}  // namespace recovery::pg
