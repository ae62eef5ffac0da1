// Unit tests of the pure core: column detection, validation and the SQL the
// engine runs, without a server.
#include "core/run_table.hpp"

#include <gtest/gtest.h>

#include <functional>
#include <limits>

#include "core/error.hpp"

namespace {

using recovery::Error;
using namespace recovery::core;

std::string quote(const std::string& name) { return "\"" + name + "\""; }

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
  EXPECT_EQ(sqlstate_of([] { validate_statuses({std::nullopt}, std::string("FAILED")); }),
            "22023");
  EXPECT_EQ(sqlstate_of([] { validate_statuses({"A", "A"}, std::string("FAILED")); }), "22023");
  EXPECT_EQ(sqlstate_of([] { validate_statuses({"A", "FAILED"}, std::string("FAILED")); }),
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
  const std::string sql = find_query(prisma_table(), quote);
  EXPECT_NE(sql.find("WHERE t.\"status\" = ANY ($1) AND GREATEST"), std::string::npos) << sql;
  EXPECT_NE(sql.find("< $2 ORDER BY GREATEST"), std::string::npos) << sql;
  EXPECT_NE(sql.find("FROM public.qualification_runs AS t"), std::string::npos);
  EXPECT_EQ(sql.find("UPDATE"), std::string::npos);
}

TEST(RecoverQuery, LocksSkipsAndRechecksInTheUpdate) {
  const std::string sql = recover_query(prisma_table(), quote);
  EXPECT_NE(sql.find("FOR NO KEY UPDATE OF t SKIP LOCKED"), std::string::npos) << sql;
  EXPECT_NE(sql.find("LIMIT $5"), std::string::npos);
  EXPECT_NE(sql.find("SET \"status\" = $3, \"completedAt\" = $4"), std::string::npos) << sql;
  // The re-check: after the join, status and age are tested again.
  const auto join = sql.find(
      "t.tableoid = s.run_tableoid AND t.\"id\" = s.run_key AND t.\"status\" = ANY ($1) AND GREATEST");
  EXPECT_NE(join, std::string::npos) << sql;
}

TEST(RecoverQuery, WithoutFinishedColumnSetsOnlyTheStatus) {
  RunTable t = prisma_table();
  t.finished.reset();
  const std::string sql = recover_query(t, quote);
  EXPECT_NE(sql.find("SET \"status\" = $3 FROM"), std::string::npos) << sql;
}

TEST(Queries, UseTheQuoterForEveryIdentifier) {
  RunTable t = prisma_table();
  t.status_column = "st\"atus";
  auto odd_quote = [](const std::string& n) { return std::string("<") + n + ">"; };
  const std::string sql = recover_query(t, odd_quote);
  EXPECT_NE(sql.find("t.<st\"atus>"), std::string::npos) << sql;
  EXPECT_EQ(sql.find("\"status\""), std::string::npos) << sql;
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
