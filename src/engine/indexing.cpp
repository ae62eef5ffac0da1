#include "engine/indexing.hpp"

#include "pg/catalog.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/table_sql.hpp"
#include "engine/access.hpp"
#include "engine/engine.hpp"
#include "engine/params.hpp"

namespace recovery::engine {

namespace {

std::string literal(const std::string& value) { return pg::quote_literal(value); }

std::string index_name(const registry::Watched& w) {
  // Short enough to stay under NAMEDATALEN with the suffix, cut on a
  // character boundary.
  return pg::clip_name(pg::relation_base_name(w.relid), 40) + "_recovery_stuck_idx";
}

}  // namespace

std::string index_advice(const registry::Watched& w) {
  return core::index_statement(w.table, index_name(w), pg::quote_ident, literal, true);
}

bool index_serves(const registry::Watched& w) {
  Interval timeout{};
  timeout.time = 30 * USECS_PER_MINUTE;
  const Clock clock = clock_for(&timeout);
  // The plain timeout search is the one an index must serve.
  core::RunTable plain = w.table;
  plain.has_max_runtime = false;
  std::string plan;
  // Planning evaluates the table's index expressions and predicates: table code.
  with_table_code(w, [&] {
    core::Statement statement = core::exists_query(plain, core::Claims::kIgnore, pg::quote_ident);
    statement.sql = "EXPLAIN (FORMAT JSON) " + statement.sql;
    // (jit off: the disabled-seqscan cost would otherwise load LLVM just to plan.)
    pg::with_settings({{"enable_seqscan", "off"}, {"jit", "off"}}, [&] {
      execute(statement, w, {&clock}, false);
      plan = pg::text_value(0, 1);
    });
  });
  return plan.find("Seq Scan") == std::string::npos;
}

void create_index(const registry::Watched& w) {
  const std::string statement =
      core::index_statement(w.table, index_name(w), pg::quote_ident, literal);
  // Building it runs the table's code (index expressions): as the owner.
  with_table_code(w, [&] { pg::execute(statement, {}, false); });
}

}  // namespace recovery::engine
