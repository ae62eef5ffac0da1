// Recovery's own SQL resolves nothing through search_path: the checker, and
// every statement shape core builds.
#include <gtest/gtest.h>

#include "core/instance_sql.hpp"
#include "core/sql_check.hpp"
#include "core/table_sql.hpp"

namespace {

using recovery::core::Claims;
using recovery::core::RunTable;
using recovery::core::TimeColumn;
using recovery::core::TimeKind;
namespace sql = recovery::core::sql;

std::string quote(const std::string& s) { return "\"" + s + "\""; }
std::string literal(const std::string& s) { return "'" + s + "'"; }

// A citext id compares through citext's own equality (not pg_catalog's).
const std::string kCitextEquals = "OPERATOR(public.=)";

bool clean(const std::string& statement) { return sql::unqualified_references(statement).empty(); }

TEST(SqlCheck, QualifiedStatementsPass) {
  EXPECT_TRUE(
      clean("SELECT pg_catalog.now(), x::pg_catalog.text FROM recovery.history AS h "
            "WHERE h.id OPERATOR(pg_catalog.=) $1 AND h.run_id OPERATOR(pg_catalog.=) ANY ($2)"));
  EXPECT_TRUE(
      clean("WITH stuck AS (SELECT 1) UPDATE s.t AS t SET \"status\" = $1, finished = CASE WHEN a "
            "OPERATOR(pg_catalog.=) 'x' THEN $2 ELSE $3 END FROM stuck AS s WHERE t.ctid "
            "OPERATOR(pg_catalog.=) s.c"));
  EXPECT_TRUE(
      clean("INSERT INTO recovery.claims AS c (a, b) VALUES ($1, $2) ON CONFLICT (a, b) DO "
            "UPDATE SET a = EXCLUDED.a WHERE c.a OPERATOR(pg_catalog.=) 1 RETURNING 1"));
  EXPECT_TRUE(
      clean("SELECT t.* , pg_catalog.count(*) FROM ROWS FROM (pg_catalog.unnest($1)) AS u(x)"));
  EXPECT_TRUE(clean("SELECT 1 FROM a.b AS t WHERE t.id OPERATOR(public.=) $1 FOR KEY SHARE OF t"));
  EXPECT_TRUE(clean("SELECT 'a = b IN (c)' AS \"x = y\""));  // literals and quoted names are inert
}

TEST(SqlCheck, UnqualifiedNamesAreFound) {
  EXPECT_FALSE(clean("SELECT 1 FROM recovery.claims WHERE run_table = $1"));
  EXPECT_FALSE(clean("SELECT now()"));
  EXPECT_FALSE(clean("SELECT x::text"));
  EXPECT_FALSE(clean("SELECT 1 FROM claims"));
  EXPECT_FALSE(clean("SELECT 1 WHERE a IN (1, 2)"));
  EXPECT_FALSE(clean("SELECT CASE a WHEN 1 THEN 2 END"));
  EXPECT_FALSE(clean("SELECT NULLIF(a, b)"));
  EXPECT_FALSE(clean("SELECT a IS DISTINCT FROM b"));
  EXPECT_FALSE(clean("SELECT a BETWEEN 1 AND 2"));
  EXPECT_FALSE(clean("SELECT CAST(a AS pg_catalog.int4)"));
  EXPECT_FALSE(clean("SELECT a || b"));
  EXPECT_FALSE(clean("UPDATE s.t SET a = b = c"));
  EXPECT_FALSE(clean("SELECT a FROM s.t WHERE a ? 'k'"));
}

// Every shape of table the registry can produce.
std::vector<RunTable> shapes() {
  std::vector<RunTable> tables;
  for (int mask = 0; mask < 64; ++mask) {
    RunTable t;
    t.qualified_name = "app.\"Runs\"";
    t.id_column = "id";
    t.status_column = "status";
    t.started = TimeColumn{"createdAt", (mask & 1) ? TimeKind::kTimestamp : TimeKind::kTimestampTz};
    if (mask & 2) t.activity = TimeColumn{"updatedAt", TimeKind::kTimestampTz};
    if (mask & 4) t.finished = TimeColumn{"completedAt", TimeKind::kTimestamp};
    t.active_statuses = {"PENDING", "PROCESSING"};
    t.zone_literal = "'America/New_York'";
    t.failed_status = "FAILED";
    t.has_max_runtime = (mask & 8) != 0;
    if (mask & 16) {
      t.progress_column = "completed";
      t.total_column = "total";
    }
    if (mask & 32) {
      t.requeue = true;
      t.attempts_column = "attempts";
    }
    tables.push_back(t);
  }
  return tables;
}

TEST(SqlCheck, EveryCoreStatementIsQualified) {
  int checked = 0;
  for (const RunTable& t : shapes()) {
    for (Claims claims : {Claims::kIgnore, Claims::kConsult}) {
      for (const std::string& statement :
           {recovery::core::find_query(t, claims, quote).sql,
            recovery::core::recover_query(t, claims, quote, true).sql,
            recovery::core::recover_query(t, claims, quote, false).sql,
            recovery::core::exists_query(t, claims, quote).sql,
            recovery::core::stuck_summary_query(t, claims, quote).sql,
            recovery::core::future_activity_query(t, quote).sql,
            recovery::core::index_statement(t, "idx", quote, literal),
            recovery::core::claim_lookup_query(t, kCitextEquals, true, quote).sql,
            recovery::core::claim_lookup_query(t, kCitextEquals, false, quote).sql,
            recovery::core::finished_claims_query(t, kCitextEquals, "public.citext", quote).sql,
            recovery::core::undo_query(t, kCitextEquals, quote).sql}) {
        EXPECT_EQ(sql::unqualified_references(statement), std::vector<std::string>{}) << statement;
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 64 * 2 * 11);
}

TEST(SqlCheck, EveryInstanceAndClaimStatementIsQualified) {
  namespace is = recovery::core::instance_sql;
  const std::vector<std::string> statements = {
      is::find_by_token("FOR NO KEY UPDATE OF i"),
      is::find_by_token("FOR SHARE OF i"),
      is::lock_name(),
      is::name_owner(),
      is::supersede(),
      is::prune_ended(),
      is::insert(),
      is::renew(),
      is::stop(),
      is::count_claims(),
      is::dead_incarnations(false),
      is::any_ended_with_claims(),
      is::table_claims(false),
      is::table_claims(true),
      is::end_lapsed(),
      is::dead_incarnations(true),
      is::next_expiry(),
      is::claim_upsert(),
      is::release_delete(),
      is::end_session_claims(),
      is::forget_seen_claims(),
  };
  for (const std::string& statement : statements) {
    EXPECT_EQ(sql::unqualified_references(statement), std::vector<std::string>{}) << statement;
  }
  // The token is matched by its hash only, never compared as text.
  EXPECT_NE(is::find_by_token("").find("i.token_hash OPERATOR(pg_catalog.=) pg_catalog.sha256($1)"),
            std::string::npos);
  EXPECT_NE(is::insert().find("pg_catalog.sha256($2)"), std::string::npos);
}

TEST(SqlCheck, TheReadableIndexAdviceIsNotRecoverysOwnSql) {
  const RunTable t = shapes().front();
  EXPECT_FALSE(clean(recovery::core::index_statement(t, "idx", quote, literal, true)));
}

}  // namespace
