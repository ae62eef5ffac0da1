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
  EXPECT_STREQ(worker_state_name(WorkerState::kWaitingForExtension), "waiting_for_extension");
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

}  // namespace
