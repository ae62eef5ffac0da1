// Unit tests of the pure core: column detection, validation and the SQL the
// engine runs, without a server.
#include "core/run_table.hpp"
#include "core/table_sql.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "core/error.hpp"

namespace {

using recovery::core::Error;
using namespace recovery::core;

std::string quote(const std::string& name) { return "\"" + name + "\""; }

// Expectations name slots ({ActiveStatuses}), not their numbers.
std::string named(const Statement& statement) { return statement.with_slot_names(); }

RunTable prisma_table() {
  RunTable t;
  t.qualified_name = "public.qualification_runs";
  t.id_column = "id";
  t.status_column = "status";
  t.status_kind = StatusKind::kEnum;
  t.started = {"createdAt", TimeKind::kTimestamp};
  t.activity = TimeColumn{"updatedAt", TimeKind::kTimestamp};
  t.finished = TimeColumn{"completedAt", TimeKind::kTimestamp};
  t.active_statuses = {"PENDING", "PROCESSING"};
  t.failed_status = "FAILED";
  return t;
}

std::string sqlstate_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.sqlstate();
  }
  return "none";
}

TEST(DetectColumn, FirstCandidateInContractOrderWins) {
  EXPECT_EQ(detect_column({"created_at", "createdAt"}, kStartedCandidates), "createdAt");
  EXPECT_EQ(detect_column({"started_at", "startedAt"}, kStartedCandidates), "startedAt");
  EXPECT_EQ(detect_column({"id", "heartbeat_at"}, kActivityCandidates), "heartbeat_at");
  EXPECT_EQ(detect_column({"finished_at"}, kFinishedCandidates), "finished_at");
}

TEST(DetectColumn, IsCaseSensitiveAndMayFindNothing) {
  EXPECT_EQ(detect_column({"CreatedAt", "CREATED_AT"}, kStartedCandidates), std::nullopt);
  EXPECT_EQ(detect_column({}, kActivityCandidates), std::nullopt);
}

TEST(ValidateStatuses, AcceptsTheSeedDefaults) {
  EXPECT_NO_THROW(validate_statuses({"PENDING", "PROCESSING"}, std::string("FAILED")));
}

TEST(ValidateStatuses, RejectsEachBadShapeWithItsSqlstate) {
  EXPECT_EQ(sqlstate_of([] { validate_statuses({}, std::string("FAILED")); }), "22023");
  EXPECT_EQ(sqlstate_of([] { validate_statuses({std::nullopt}, std::string("FAILED")); }), "22023");
  EXPECT_EQ(sqlstate_of([] { validate_statuses({"A", "A"}, std::string("FAILED")); }), "22023");
  EXPECT_EQ(sqlstate_of([] {
              validate_statuses({"A", "FAILED"}, std::string("FAILED"));
            }),
            "22023");
  EXPECT_EQ(sqlstate_of([] { validate_statuses({"A"}, std::nullopt); }), "22004");
  EXPECT_EQ(sqlstate_of([] { validate_statuses({""}, std::string("FAILED")); }), "22023");
}

TEST(ValidateTimeout, NeedsAPositiveSpan) {
  EXPECT_EQ(sqlstate_of([] { validate_timeout(true, 0); }), "22004");
  EXPECT_EQ(sqlstate_of([] { validate_timeout(false, 0); }), "22023");
  EXPECT_EQ(sqlstate_of([] { validate_timeout(false, -1); }), "22023");
  EXPECT_NO_THROW(validate_timeout(false, 1));
}

TEST(ValidateMaxRuns, NullOrPositive) {
  EXPECT_NO_THROW(validate_max_runs(true, 0));
  EXPECT_NO_THROW(validate_max_runs(false, 1));
  EXPECT_EQ(sqlstate_of([] { validate_max_runs(false, 0); }), "22023");
  EXPECT_EQ(sqlstate_of([] { validate_max_runs(false, -5); }), "22023");
}

TEST(LastActivity, SameKindsStayInTheirKind) {
  RunTable t = prisma_table();
  EXPECT_EQ(last_activity_kind(t), TimeKind::kTimestamp);
  EXPECT_EQ(last_activity_expr(t, quote), "GREATEST(t.\"createdAt\", t.\"updatedAt\")");
}

TEST(LastActivity, MixedKindsReadPlainTimestampsAsUtc) {
  RunTable t = prisma_table();
  t.activity->kind = TimeKind::kTimestampTz;
  EXPECT_EQ(last_activity_kind(t), TimeKind::kTimestampTz);
  EXPECT_EQ(last_activity_expr(t, quote),
            "GREATEST((t.\"createdAt\" AT TIME ZONE 'UTC'), t.\"updatedAt\")");
}

TEST(LastActivity, WithoutActivityColumnIsTheStartedColumn) {
  RunTable t = prisma_table();
  t.activity.reset();
  EXPECT_EQ(last_activity_expr(t, quote), "t.\"createdAt\"");
}

TEST(FindQuery, ComparesStatusInItsOwnTypeAndOrdersOldestFirst) {
  const std::string sql = named(find_query(prisma_table(), Claims::kIgnore, quote));
  EXPECT_NE(
      sql.find("WHERE t.\"status\" OPERATOR(pg_catalog.=) ANY ({ActiveStatuses}) AND GREATEST"),
      std::string::npos)
      << sql;
  EXPECT_NE(sql.find("OPERATOR(pg_catalog.<) {Cutoff} ORDER BY GREATEST"), std::string::npos)
      << sql;
  EXPECT_NE(sql.find("FROM public.qualification_runs AS t"), std::string::npos);
  EXPECT_EQ(sql.find("UPDATE"), std::string::npos);
}

TEST(RecoverQuery, LocksSkipsAndRechecksInTheUpdate) {
  const std::string sql = named(recover_query(prisma_table(), Claims::kIgnore, quote));
  EXPECT_NE(sql.find("FOR NO KEY UPDATE OF t SKIP LOCKED"), std::string::npos) << sql;
  EXPECT_NE(sql.find("LIMIT {MaxRows}"), std::string::npos);
  EXPECT_NE(sql.find("SET \"status\" = {FailedStatus}, \"completedAt\" = {FinishedNow}"),
            std::string::npos)
      << sql;
  // The re-check: after the join, status and age are tested again.
  const auto join = sql.find(
      "t.ctid OPERATOR(pg_catalog.=) s.run_ctid AND t.tableoid OPERATOR(pg_catalog.=) "
      "s.run_tableoid AND t.\"status\" OPERATOR(pg_catalog.=) ANY ({ActiveStatuses}) AND "
      "GREATEST");
  EXPECT_NE(join, std::string::npos) << sql;
}

TEST(RecoverQuery, ReturnsTheRowOnlyWhenWanted) {
  // The engine builds the run from the row's own columns (engine/run_json.hpp).
  const std::string with_run = named(recover_query(prisma_table(), Claims::kIgnore, quote));
  EXPECT_NE(with_run.find("s.previous_values, t.*"), std::string::npos) << with_run;
  EXPECT_EQ(with_run.find("to_jsonb"), std::string::npos) << with_run;
  const std::string without = named(recover_query(prisma_table(), Claims::kIgnore, quote, false));
  EXPECT_EQ(without.find("t.*"), std::string::npos) << without;
  EXPECT_NE(without.find(", NULL::pg_catalog.jsonb, "), std::string::npos) << without;
}

TEST(RecoverQuery, WithoutFinishedColumnSetsOnlyTheStatus) {
  RunTable t = prisma_table();
  t.finished.reset();
  const std::string sql = named(recover_query(t, Claims::kIgnore, quote));
  EXPECT_NE(sql.find("SET \"status\" = {FailedStatus} FROM"), std::string::npos) << sql;
}

TEST(Queries, UseTheQuoterForEveryIdentifier) {
  RunTable t = prisma_table();
  t.status_column = "st\"atus";
  auto odd_quote = [](const std::string& n) { return std::string("<") + n + ">"; };
  const std::string sql = named(recover_query(t, Claims::kIgnore, odd_quote));
  EXPECT_NE(sql.find("t.<st\"atus>"), std::string::npos) << sql;
  EXPECT_EQ(sql.find("\"status\""), std::string::npos) << sql;
}

TEST(Reasons, PlainTimeoutKeepsTheIndexablePredicate) {
  const std::string sql = named(find_query(prisma_table(), Claims::kIgnore, quote));
  EXPECT_NE(sql.find("OPERATOR(pg_catalog.=) ANY ({ActiveStatuses}) AND GREATEST(t.\"createdAt\", "
                     "t.\"updatedAt\") OPERATOR(pg_catalog.<) {Cutoff}"),
            std::string::npos)
      << sql;
  EXPECT_EQ(sql.find("recovery.claims"), std::string::npos) << sql;
  EXPECT_EQ(sql.find("{MaxRuntimeCutoff}"), std::string::npos) << sql;
}

TEST(Reasons, ClaimsMakeDeadOwnersStuckAndLiveOnesImmuneToTheTimeout) {
  const std::string sql = named(find_query(prisma_table(), Claims::kConsult, quote));
  EXPECT_NE(
      sql.find("LEFT JOIN recovery.claims AS c ON c.run_table OPERATOR(pg_catalog.=) {RunTable}"),
      std::string::npos)
      << sql;
  EXPECT_NE(sql.find("NOT recovery.backend_alive(c.backend_pid, c.backend_start) THEN "
                     "'owner_gone'"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("WHEN c.run_id IS NULL AND GREATEST"), std::string::npos) << sql;
  EXPECT_NE(sql.find("r.reason IS NOT NULL"), std::string::npos) << sql;
}

TEST(Reasons, AnEndedInstanceIncarnationMakesItsClaimedRunsStuckWithItsReason) {
  const std::string sql = named(find_query(prisma_table(), Claims::kConsult, quote));
  const std::string ended =
      "pg_catalog.jsonb_extract_path_text({EndedIncarnations}::pg_catalog.jsonb, "
      "c.incarnation::pg_catalog.text)";
  // The incarnation's reason comes first, from $14 ...
  const size_t instance =
      sql.find("WHEN c.incarnation IS NOT NULL AND " + ended + " IS NOT NULL THEN " + ended);
  EXPECT_NE(instance, std::string::npos) << sql;
  // ... and a live incarnation's claim is no session's: backend_alive is not asked.
  const size_t session = sql.find(
      "WHEN c.run_id IS NOT NULL AND c.incarnation IS NULL AND NOT "
      "recovery.backend_alive(");
  EXPECT_NE(session, std::string::npos) << sql;
  EXPECT_LT(instance, session) << sql;
  // Without claims, $14 is not read.
  EXPECT_EQ(named(find_query(prisma_table(), Claims::kIgnore, quote)).find("{EndedIncarnations}"),
            std::string::npos);
}

TEST(Reasons, MaxRuntimeIsAHardLimitOnTheStartedColumn) {
  RunTable t = prisma_table();
  t.has_max_runtime = true;
  const std::string sql = named(find_query(t, Claims::kIgnore, quote));
  EXPECT_NE(
      sql.find("WHEN t.\"createdAt\" OPERATOR(pg_catalog.<) {MaxRuntimeCutoff} THEN 'max_runtime'"),
      std::string::npos)
      << sql;
}

TEST(Actions, FailByDefault) {
  const std::string sql = named(recover_query(prisma_table(), Claims::kIgnore, quote));
  EXPECT_NE(sql.find("'fail'::pg_catalog.text AS action"), std::string::npos) << sql;
  EXPECT_NE(sql.find("SET \"status\" = {FailedStatus},"), std::string::npos) << sql;
}

TEST(Actions, CompleteWhenProgressReachedAPositiveTotal) {
  RunTable t = prisma_table();
  t.progress_column = "completed";
  t.total_column = "totalProspects";
  const std::string sql = named(recover_query(t, Claims::kIgnore, quote));
  EXPECT_NE(sql.find("WHEN t.\"totalProspects\" OPERATOR(pg_catalog.>) 0 AND t.\"completed\" "
                     "OPERATOR(pg_catalog.>=) "
                     "t.\"totalProspects\" THEN 'complete'"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("CASE WHEN s.action OPERATOR(pg_catalog.=) 'complete' THEN {CompletedStatus} "
                     "ELSE {FailedStatus} END"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("OPERATOR(pg_catalog.=) 'complete' THEN 'progress_complete'"),
            std::string::npos)
      << sql;
}

TEST(Actions, RequeueCountsEveryAttemptAndTouchesActivity) {
  RunTable t = prisma_table();
  t.requeue = true;
  t.attempts_column = "attempts";
  const std::string sql = named(recover_query(t, Claims::kIgnore, quote));
  EXPECT_NE(sql.find("WHEN (COALESCE(t.\"attempts\", 0) OPERATOR(pg_catalog.+) 1) "
                     "OPERATOR(pg_catalog.<) {MaxAttempts} THEN 'requeue'"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("\"attempts\" = COALESCE(t.\"attempts\", 0) OPERATOR(pg_catalog.+) 1"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("\"updatedAt\" = CASE WHEN s.action OPERATOR(pg_catalog.=) 'requeue' THEN "
                     "{ActivityNow} ELSE"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("\"completedAt\" = CASE WHEN s.action OPERATOR(pg_catalog.=) 'requeue' THEN "
                     "t.\"completedAt\" "
                     "ELSE {FinishedNow} END"),
            std::string::npos)
      << sql;
  EXPECT_EQ(overwritten_columns(t),
            (std::vector<std::string>{"completedAt", "attempts", "updatedAt"}));
  EXPECT_NE(sql.find("jsonb_build_object({OverwrittenNames}[1], t.\"completedAt\", "
                     "{OverwrittenNames}[2], t.\"attempts\", "
                     "{OverwrittenNames}[3], t.\"updatedAt\")"),
            std::string::npos)
      << sql;
}

TEST(IndexStatement, PartialOnActiveStatusesKeyedByLastActivity) {
  auto literal = [](const std::string& v) { return "'" + v + "'"; };
  EXPECT_EQ(index_statement(prisma_table(), "runs_recovery_idx", quote, literal, true),
            "CREATE INDEX IF NOT EXISTS \"runs_recovery_idx\" ON public.qualification_runs "
            "((GREATEST(\"createdAt\", \"updatedAt\"))) WHERE \"status\" IN ('PENDING', "
            "'PROCESSING')");
}

TEST(WholeMinutes, FloorsAndClamps) {
  constexpr int64_t kMinute = 60'000'000;
  EXPECT_EQ(whole_minutes(45 * kMinute + 59'000'000, 0), 45);
  EXPECT_EQ(whole_minutes(0, 10), 0);
  EXPECT_EQ(whole_minutes(5 * kMinute, 5 * kMinute), 0);
  EXPECT_EQ(whole_minutes(0, std::numeric_limits<int64_t>::min()),
            std::numeric_limits<int32_t>::max());
  EXPECT_EQ(whole_minutes(-kMinute, -3 * kMinute - 1), 2);
}

}  // namespace

TEST(TimeZones, DefaultsThatStoreLocalTime) {
  using recovery::core::defaults_to_local_now;
  EXPECT_TRUE(defaults_to_local_now("now()"));
  EXPECT_TRUE(defaults_to_local_now("CURRENT_TIMESTAMP"));
  EXPECT_TRUE(defaults_to_local_now("CURRENT_TIMESTAMP(3)"));
  EXPECT_TRUE(defaults_to_local_now("LOCALTIMESTAMP"));
  EXPECT_TRUE(defaults_to_local_now("clock_timestamp()"));
  EXPECT_FALSE(defaults_to_local_now("(now() AT TIME ZONE 'utc'::text)"));
  EXPECT_FALSE(defaults_to_local_now("timezone('UTC'::text, now())"));
  EXPECT_FALSE(defaults_to_local_now("'2000-01-01 00:00:00'::timestamp without time zone"));
}

TEST(TimeZones, PlainTimestampsAreReadInTheTablesZone) {
  RunTable t = prisma_table();
  t.zone_literal = "'America/New_York'";
  const std::string sql = named(find_query(t, Claims::kIgnore, quote));
  // Output columns are instants (the row itself follows as t.*, made a
  // jsonb with UTC instants by the engine).
  EXPECT_NE(sql.find("(t.\"createdAt\" AT TIME ZONE 'America/New_York')"), std::string::npos)
      << sql;
  EXPECT_NE(sql.find(", t.* FROM "), std::string::npos) << sql;
  // The search itself stays on the raw column (its index serves it).
  EXPECT_NE(sql.find("GREATEST(t.\"createdAt\", t.\"updatedAt\") OPERATOR(pg_catalog.<) {Cutoff}"),
            std::string::npos)
      << sql;
}
