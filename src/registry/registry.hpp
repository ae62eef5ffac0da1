// The table registry: which run tables recovery watches, validated against
// the catalogs when registered and resolved again before every use.
#pragma once

#include <functional>

#include "pg/postgres.hpp"
#include "core/run_table.hpp"
#include "registry/options.hpp"

namespace recovery::registry {

// A watched table, resolved against the catalogs as they are now.
struct Watched {
  Oid relid = InvalidOid;
  Oid owner = InvalidOid;
  std::string name;  // schema-qualified, quoted where needed
  core::RunTable table;
  Oid status_type = InvalidOid;         // text/varchar (as text) or the enum
  Oid last_activity_type = InvalidOid;  // TIMESTAMPOID or TIMESTAMPTZOID
  Oid finished_type = InvalidOid;       // likewise; InvalidOid without a finished column
  Oid started_type = InvalidOid;
  Oid id_type = InvalidOid;
  Oid activity_type = InvalidOid;  // InvalidOid without an activity column
  std::vector<AttrNumber> updated_columns;
  std::vector<AttrNumber> read_columns;  // what the statements read to decide
  bool notify = true;                    // a NOTIFY recovery per recovered run
  std::string time_zone = "UTC";         // the zone plain timestamps hold
  std::optional<Interval> max_runtime;
  int32 max_attempts = 0;
};

// A watched table that was dropped or no longer fits its registration.
struct Skipped {
  Oid relid = InvalidOid;
  std::string name;
  std::string problem;
  std::string detail;
  std::string hint;
};
// Reports a skipped table at `level` ("recovery: skipping watched table …").
void report_skipped(const Skipped& table, int level);
void warn_skipped(const Skipped& table);  // at WARNING
using SkipHandler = std::function<void(const Skipped&)>;

// Every watched table (or only `only`, which must be watched). A table that
// was dropped or no longer fits its registration is left out, so the others
// are still handled, and given to `on_skip` (by default a WARNING naming
// it). Needs SPI.
std::vector<Watched> load(std::optional<Oid> only, const SkipHandler& on_skip = warn_skipped);

// The one watched table `relid` (which must be watched); nullopt when it no
// longer fits its registration (reported to `on_skip`). Needs SPI.
std::optional<Watched> load_one(Oid relid, const SkipHandler& on_skip = warn_skipped);

// What a call that names no table covers: the watched tables whose owner's
// privileges the caller has (all, for a superuser). The others are left out
// before anything about them is resolved or reported; `skipped` counts them.
std::vector<Watched> load_covered(const SkipHandler& on_skip = warn_skipped,
                                  int* skipped = nullptr);

// Validates and stores a registration of `relid` with watch()'s arguments;
// true when the table was not watched before. Throws recovery::core::Error (with
// SQLSTATE) on any problem. Needs SPI.
bool watch(Oid relid, const Options& args);

// Forgets a registration; false when there was none. Needs SPI.
bool unwatch(Oid relid);

}  // namespace recovery::registry
