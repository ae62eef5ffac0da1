#include "engine/indexing.hpp"

#include "bridge/backend.hpp"
#include "bridge/spi.hpp"
#include "engine/engine.hpp"

namespace recovery::engine {

namespace {

std::string literal(const std::string& value) {
  return pg::guard([&] { return quote_literal_cstr(value.c_str()); });
}

}  // namespace

std::string index_advice(const registry::Watched& w) {
  // Short enough to stay under NAMEDATALEN with the suffix.
  const std::string name = pg::relation_base_name(w.relid).substr(0, 40) + "_recovery_stuck_idx";
  return core::index_statement(w.table, name, pg::quote_ident, literal);
}

bool index_serves(const registry::Watched& w) {
  Interval timeout{};
  timeout.time = 30 * USECS_PER_MINUTE;
  const std::vector<pg::Param> params = statement_params(w, clock_for(&timeout), std::nullopt);
  // The plain timeout search is the one an index must serve.
  core::RunTable plain = w.table;
  plain.has_max_runtime = false;
  std::string plan;
  // (jit off: the disabled-seqscan cost would otherwise load LLVM just to plan.)
  pg::with_settings({{"enable_seqscan", "off"}, {"jit", "off"}}, [&] {
    pg::execute("EXPLAIN (FORMAT JSON) " +
                    core::exists_query(plain, core::Claims::kIgnore, pg::quote_ident),
                params, false);
    plan = pg::text_value(0, 1);
  });
  return plan.find("Seq Scan") == std::string::npos;
}

void create_index(const registry::Watched& w) { pg::execute(index_advice(w), {}, false); }

}  // namespace recovery::engine
