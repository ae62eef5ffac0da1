#include "core/worker_logic.hpp"

#include <gtest/gtest.h>

namespace {

using namespace recovery::core;

TEST(ParseDatabaseList, TrimsSplitsAndDropsDuplicates) {
  EXPECT_EQ(parse_database_list("postgres"), (std::vector<std::string>{"postgres"}));
  EXPECT_EQ(parse_database_list(" app , postgres,,app, "),
            (std::vector<std::string>{"app", "postgres"}));
  EXPECT_TRUE(parse_database_list("").empty());
  EXPECT_TRUE(parse_database_list(" , ,").empty());
}

TEST(ParseDatabaseList, QuotedNamesKeepSpacesCommasAndQuotes) {
  EXPECT_EQ(parse_database_list("\"My DB\", \"a,b\", \"say \"\"hi\"\"\""),
            (std::vector<std::string>{"My DB", "a,b", "say \"hi\""}));
}

TEST(WorkerStateName, MatchesTheDocumentedStates) {
  EXPECT_STREQ(worker_state_name(WorkerState::kIdle), "idle");
  EXPECT_STREQ(worker_state_name(WorkerState::kRunning), "running");
  EXPECT_STREQ(worker_state_name(WorkerState::kStarting), "starting");
  EXPECT_STREQ(worker_state_name(WorkerState::kStandby), "standby");
  EXPECT_STREQ(worker_state_name(WorkerState::kDisabled), "disabled");
}

TEST(CycleSummary, SaysNothingWhenIdle) {
  EXPECT_EQ(cycle_summary("app", {}), "");
  EXPECT_EQ(cycle_summary("app", {{"public.runs", 0}}), "");
}

TEST(CycleSummary, CountsAndNamesTables) {
  EXPECT_EQ(cycle_summary("app", {{"public.runs", 2}, {"public.idle", 0}, {"public.jobs", 1}}),
            "recovered 3 stuck runs in database \"app\" (public.runs: 2, public.jobs: 1)");
  EXPECT_EQ(cycle_summary("app", {{"public.runs", 1}}),
            "recovered 1 stuck run in database \"app\" (public.runs: 1)");
}

TEST(ProblemLog, SaysAProblemOnceWhileItLasts) {
  ProblemLog log;
  for (int cycle = 0; cycle < 3; ++cycle) {
    log.begin_cycle();
    EXPECT_EQ(log.report("public.runs", "column \"status\" does not exist"), cycle == 0);
    log.end_cycle();
  }
  EXPECT_TRUE(log.has("public.runs"));
}

TEST(ProblemLog, SaysItAgainWhenTheProblemChanges) {
  ProblemLog log;
  EXPECT_TRUE(log.report("public.runs", "lock timeout"));
  EXPECT_FALSE(log.report("public.runs", "lock timeout"));
  EXPECT_TRUE(log.report("public.runs", "permission denied"));
  EXPECT_TRUE(log.report("public.jobs", "lock timeout"));  // each key on its own
}

TEST(ProblemLog, SaysOnceThatItIsOver) {
  ProblemLog log;
  EXPECT_FALSE(log.clear("public.runs"));  // never failed: nothing to say
  log.report("public.runs", "lock timeout");
  EXPECT_TRUE(log.clear("public.runs"));
  EXPECT_FALSE(log.clear("public.runs"));
  EXPECT_TRUE(log.report("public.runs", "lock timeout"));  // back: said again
}

TEST(ProblemLog, ForgetsSilentlyWhatACycleNoLongerTouches) {
  ProblemLog log;
  log.begin_cycle();
  log.report("public.gone", "the table no longer exists");
  log.report("public.runs", "lock timeout");
  log.end_cycle();
  log.begin_cycle();
  EXPECT_FALSE(log.report("public.runs", "lock timeout"));
  log.end_cycle();  // public.gone was unwatched: not touched
  EXPECT_FALSE(log.has("public.gone"));
  EXPECT_TRUE(log.has("public.runs"));
  log.begin_cycle();
  EXPECT_TRUE(log.report("public.gone", "the table no longer exists"));  // new again
}

}  // namespace
