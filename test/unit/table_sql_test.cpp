// The statement builder (core/statement.hpp) and the statements on a run
// table that claims and undo run (core/table_sql.hpp).
#include <gtest/gtest.h>

#include <set>

#include "core/statement.hpp"
#include "core/table_sql.hpp"

namespace {

using namespace recovery::core;

std::string quote(const std::string& name) { return "\"" + name + "\""; }
const std::string kNumericEquals = "OPERATOR(pg_catalog.=)";

RunTable table() {
  RunTable t;
  t.qualified_name = "public.runs";
  t.id_column = "id";
  t.status_column = "status";
  t.started = {"created_at", TimeKind::kTimestampTz};
  t.activity = TimeColumn{"updated_at", TimeKind::kTimestampTz};
  t.finished = TimeColumn{"finished_at", TimeKind::kTimestampTz};
  t.active_statuses = {"PENDING", "PROCESSING"};
  t.failed_status = "FAILED";
  return t;
}

// Every $n of the text, in order of first appearance.
std::vector<int> placeholders_in(const std::string& sql) {
  std::vector<int> seen;
  for (size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] != '$' || i + 1 >= sql.size() ||
        !std::isdigit(static_cast<unsigned char>(sql[i + 1])))
      continue;
    size_t end = i + 1;
    while (end < sql.size() && std::isdigit(static_cast<unsigned char>(sql[end]))) ++end;
    const int n = std::stoi(sql.substr(i + 1, end - i - 1));
    if (std::find(seen.begin(), seen.end(), n) == seen.end()) seen.push_back(n);
  }
  return seen;
}

// Each slot is bound once, and the text uses exactly $1..$N for its N slots.
void expect_numbered_on_first_use(const Statement& s) {
  std::set<Slot> unique(s.slots.begin(), s.slots.end());
  EXPECT_EQ(unique.size(), s.slots.size()) << s.sql;
  std::vector<int> used = placeholders_in(s.sql);
  std::sort(used.begin(), used.end());
  std::vector<int> expected;
  for (size_t n = 1; n <= s.slots.size(); ++n) expected.push_back(static_cast<int>(n));
  EXPECT_EQ(used, expected) << s.sql;
}

TEST(Builder, NumbersSlotsOnFirstUseAndReusesThem) {
  Builder b(quote);
  EXPECT_EQ(b.bind(Slot::kCutoff), "$1");
  EXPECT_EQ(b.bind(Slot::kActiveStatuses), "$2");
  EXPECT_EQ(b.bind(Slot::kCutoff), "$1");
  EXPECT_EQ(b.ident("a\"b"), "\"a\"b\"");
  EXPECT_EQ(b.column("x"), "t.\"x\"");
  const Statement s = b.finish("SELECT $1, $2");
  EXPECT_EQ(s.slots, (std::vector<Slot>{Slot::kCutoff, Slot::kActiveStatuses}));
  EXPECT_TRUE(s.uses(Slot::kCutoff));
  EXPECT_FALSE(s.uses(Slot::kRunId));
  EXPECT_EQ(s.placeholder(Slot::kActiveStatuses), "$2");
  EXPECT_EQ(s.placeholder(Slot::kRunId), "");
  EXPECT_EQ(s.with_slot_names(), "SELECT {Cutoff}, {ActiveStatuses}");
}

TEST(Builder, EverySlotHasAName) {
  std::set<std::string> names;
  for (int n = 0; n < kSlotCount; ++n) names.insert(slot_name(static_cast<Slot>(n)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kSlotCount));
  EXPECT_EQ(names.count("?"), 0u);
}

TEST(Statements, TheFastPathBindsOnlyWhatItReads) {
  const RunTable t = table();
  EXPECT_EQ(find_query(t, Claims::kIgnore, quote).slots,
            (std::vector<Slot>{Slot::kActiveStatuses, Slot::kCutoff}));
  EXPECT_EQ(exists_query(t, Claims::kIgnore, quote).slots,
            (std::vector<Slot>{Slot::kActiveStatuses, Slot::kCutoff}));
  const Statement recover = recover_query(t, Claims::kIgnore, quote);
  EXPECT_EQ(std::set<Slot>(recover.slots.begin(), recover.slots.end()),
            (std::set<Slot>{Slot::kActiveStatuses, Slot::kCutoff, Slot::kRunTable, Slot::kMaxRows,
                            Slot::kFailedStatus, Slot::kFinishedNow, Slot::kOverwrittenNames}));
  // The table, for the one-time check that it still has no claims.
  EXPECT_NE(recover.with_slot_names().find(
                " AND NOT EXISTS (SELECT 1 FROM recovery.claims AS c WHERE c.run_table "
                "OPERATOR(pg_catalog.=) {RunTable}) ORDER BY"),
            std::string::npos)
      << recover.with_slot_names();
  // Claims add the table and the ended incarnations; nothing else.
  const Statement with_claims = find_query(t, Claims::kConsult, quote);
  EXPECT_EQ(std::set<Slot>(with_claims.slots.begin(), with_claims.slots.end()),
            (std::set<Slot>{Slot::kActiveStatuses, Slot::kCutoff, Slot::kRunTable,
                            Slot::kEndedIncarnations}));
}

TEST(Statements, WithoutOverwrittenColumnsThePreviousValuesAreEmpty) {
  RunTable t = table();
  t.finished.reset();
  const Statement s = recover_query(t, Claims::kIgnore, quote);
  EXPECT_FALSE(s.uses(Slot::kOverwrittenNames));
  EXPECT_NE(s.sql.find("'{}'::pg_catalog.jsonb AS previous_values"), std::string::npos) << s.sql;
}

TEST(Statements, AllAreNumberedOnFirstUse) {
  for (int mask = 0; mask < 16; ++mask) {
    RunTable t = table();
    t.has_max_runtime = mask & 1;
    if (mask & 2) {
      t.requeue = true;
      t.attempts_column = "attempts";
    }
    if (mask & 4) {
      t.progress_column = "done";
      t.total_column = "total";
    }
    if (mask & 8) t.zone_literal = "'Asia/Kolkata'";
    for (Claims claims : {Claims::kIgnore, Claims::kConsult}) {
      expect_numbered_on_first_use(find_query(t, claims, quote));
      expect_numbered_on_first_use(recover_query(t, claims, quote, true));
      expect_numbered_on_first_use(recover_query(t, claims, quote, false));
      expect_numbered_on_first_use(exists_query(t, claims, quote));
      expect_numbered_on_first_use(stuck_summary_query(t, claims, quote));
    }
    expect_numbered_on_first_use(future_activity_query(t, quote));
    expect_numbered_on_first_use(claim_lookup_query(t, kNumericEquals, true, quote));
    expect_numbered_on_first_use(claim_lookup_query(t, kNumericEquals, false, quote));
    expect_numbered_on_first_use(
        finished_claims_query(t, kNumericEquals, "pg_catalog.int8", quote));
    expect_numbered_on_first_use(undo_query(t, kNumericEquals, quote));
  }
}

// A claim locks FOR SHARE (a recovery's FOR NO KEY UPDATE and it exclude
// each other); a release only reads the id, FOR KEY SHARE.
TEST(ClaimLookup, ComparesByTheIdTypesEqualityAndLocksAgainstRecovery) {
  const Statement active = claim_lookup_query(table(), "OPERATOR(public.=)", true, quote);
  EXPECT_EQ(active.with_slot_names(),
            "SELECT t.\"id\"::pg_catalog.text FROM public.runs AS t WHERE t.\"id\" "
            "OPERATOR(public.=) {RunId} AND t.\"status\" OPERATOR(pg_catalog.=) ANY "
            "({ActiveStatuses}) FOR SHARE OF t");
  const Statement any = claim_lookup_query(table(), "OPERATOR(public.=)", false, quote);
  EXPECT_EQ(any.slots, std::vector<Slot>{Slot::kRunId});
  EXPECT_EQ(any.with_slot_names(),
            "SELECT t.\"id\"::pg_catalog.text FROM public.runs AS t WHERE t.\"id\" "
            "OPERATOR(public.=) {RunId} FOR KEY SHARE OF t");
}

TEST(FinishedClaims, ReadsClaimKeysAsIdsOfTheTableWithTheirClaimTime) {
  const Statement s = finished_claims_query(table(), kNumericEquals, "pg_catalog.int8", quote);
  EXPECT_EQ(s.with_slot_names(),
            "SELECT c.run_id, c.claimed_at FROM recovery.claims AS c WHERE c.run_table "
            "OPERATOR(pg_catalog.=) {RunTable} AND NOT EXISTS (SELECT 1 FROM public.runs AS t "
            "WHERE t.\"id\" OPERATOR(pg_catalog.=) c.run_id::pg_catalog.int8 AND t.\"status\" "
            "OPERATOR(pg_catalog.=) ANY ({ActiveStatuses}))");
}

TEST(Undo, RestoresOnlyRecordedColumnsOfARunStillInItsRecoveredStatus) {
  RunTable t = table();
  t.requeue = true;
  t.attempts_column = "attempts";
  const std::string sql = undo_query(t, kNumericEquals, quote).with_slot_names();
  EXPECT_NE(sql.find("SET \"status\" = {RestoredStatus}, \"finished_at\" = CASE WHEN "
                     "{PreviousValues} OPERATOR(pg_catalog.?) {OverwrittenNames}[1] THEN "
                     "r.\"finished_at\" ELSE t.\"finished_at\" END"),
            std::string::npos)
      << sql;
  EXPECT_NE(sql.find("{OverwrittenNames}[3] THEN r.\"updated_at\""), std::string::npos) << sql;
  EXPECT_NE(sql.find("FROM pg_catalog.jsonb_populate_record(NULL::public.runs, {PreviousValues}) "
                     "AS r WHERE t.\"id\" OPERATOR(pg_catalog.=) {RunId} AND t.\"status\" "
                     "OPERATOR(pg_catalog.=) {RecoveredStatus}"),
            std::string::npos)
      << sql;
  // Without overwritten columns only the status is put back.
  RunTable bare = table();
  bare.finished.reset();
  const Statement s = undo_query(bare, kNumericEquals, quote);
  EXPECT_FALSE(s.uses(Slot::kOverwrittenNames));
  EXPECT_NE(s.sql.find("SET \"status\" = $1 FROM"), std::string::npos) << s.sql;
}

}  // namespace
