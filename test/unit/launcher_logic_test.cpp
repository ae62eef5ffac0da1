#include "core/launcher_logic.hpp"

#include <gtest/gtest.h>

namespace {

using namespace recovery::core;
using Oids = std::vector<uint32_t>;

Oids stopped(const LaunchPlan& plan) {
  Oids oids;
  for (const auto& [oid, reason] : plan.stop) oids.push_back(oid);
  return oids;
}

constexpr double kRestart = 10;
constexpr double kRecheck = 300;

std::vector<DatabaseEntry> cluster() {
  return {{5, "postgres", true},
          {1, "template1", false},
          {4, "template0", false},
          {16384, "app", true},
          {16385, "other", true}};
}

struct Fixture : ::testing::Test {
  LauncherPlanner planner{kRestart, kRecheck};
  std::set<uint32_t> running;
  std::set<uint32_t> held;

  LaunchPlan step(double now, const std::vector<DatabaseEntry>& dbs = cluster()) {
    LaunchPlan p = planner.plan(dbs, running, held, now);
    for (uint32_t oid : p.start) {
      planner.started(oid);
      running.insert(oid);
    }
    return p;
  }
  void exit(uint32_t oid, WorkerExit why, double now) {
    running.erase(oid);
    planner.exited(oid, why, now);
  }
};

TEST_F(Fixture, StartsOneWorkerInEveryConnectableDatabaseNeverInTemplates) {
  planner.configure({}, 8);
  LaunchPlan p = step(0);
  EXPECT_EQ(p.start, (Oids{5, 16384, 16385}));
  EXPECT_TRUE(p.messages.empty());
  EXPECT_TRUE(step(1).start.empty()) << "no second worker while one runs";
}

TEST_F(Fixture, ADatabaseWithoutTheExtensionIsCheckedAgainSlowly) {
  planner.configure({}, 8);
  step(0);
  exit(5, WorkerExit::kNoExtension, 1);
  EXPECT_TRUE(step(2).start.empty());
  LaunchPlan p = step(100);
  EXPECT_TRUE(p.start.empty());
  EXPECT_DOUBLE_EQ(p.next_due, 1 + kRecheck);
  EXPECT_EQ(step(1 + kRecheck).start, (Oids{5}));
}

TEST_F(Fixture, CreateExtensionIsCheckedAtOnce) {
  planner.configure({}, 8);
  step(0);
  exit(5, WorkerExit::kNoExtension, 1);
  planner.extension_created(5);
  EXPECT_EQ(step(2).start, (Oids{5}));
}

TEST_F(Fixture, CreateExtensionReportedWhileTheWorkerLookedIsNotLost) {
  planner.configure({}, 8);
  step(0);
  planner.extension_created(5);  // committed after the worker checked
  exit(5, WorkerExit::kNoExtension, 1);
  EXPECT_EQ(step(1).start, (Oids{5}));
  exit(5, WorkerExit::kNoExtension, 2);  // really gone this time
  EXPECT_TRUE(step(3).start.empty());
}

TEST_F(Fixture, AFailedWorkerComesBackAfterAPauseOneThatLeftAtOnce) {
  planner.configure({}, 8);
  step(0);
  planner.found_extension(16384);
  planner.found_extension(16385);
  exit(16384, WorkerExit::kFailed, 5);
  exit(16385, WorkerExit::kLeft, 5);
  EXPECT_EQ(step(6).start, (Oids{16385}));
  EXPECT_EQ(step(5 + kRestart).start, (Oids{16384}));
}

TEST_F(Fixture, ALookThatFailsIsRetriedSlowly) {
  planner.configure({}, 8);
  step(0);
  exit(5, WorkerExit::kFailed, 1);  // e.g. FATAL: permission denied for database
  EXPECT_TRUE(step(1 + kRestart).start.empty());
  EXPECT_EQ(step(1 + kRecheck).start, (Oids{5}));
  planner.found_extension(5);
  exit(5, WorkerExit::kFailed, 400);
  EXPECT_EQ(step(400 + kRestart).start, (Oids{5})) << "with the extension: the short pause";
}

TEST_F(Fixture, NothingStartsInAHeldDatabase) {
  planner.configure({}, 8);
  step(0);
  planner.found_extension(16384);
  exit(16384, WorkerExit::kLeft, 1);
  held.insert(16384);
  EXPECT_TRUE(step(2).start.empty());
  held.clear();
  EXPECT_EQ(step(3).start, (Oids{16384}));
}

TEST_F(Fixture, RecoveryDatabasesLimitsAndReloads) {
  planner.configure({"app", "missing"}, 8);
  LaunchPlan p = step(0);
  EXPECT_EQ(p.start, (Oids{16384}));
  EXPECT_EQ(
      p.messages,
      (std::vector<std::string>{"database \"missing\" in recovery.databases does not exist"}));
  EXPECT_TRUE(step(1).messages.empty()) << "said once";

  planner.found_extension(16384);
  planner.configure({"other"}, 8);
  p = step(2);
  EXPECT_EQ(stopped(p), (Oids{16384})) << "no longer listed: its worker leaves";
  EXPECT_EQ(p.stop[0].second, "recovery.databases");
  EXPECT_EQ(p.start, (Oids{16385}));
  exit(16384, WorkerExit::kStopped, 3);
  EXPECT_TRUE(step(4).start.empty());
}

TEST_F(Fixture, AListedTemplateIsSaidOnce) {
  planner.configure({"template1"}, 8);
  LaunchPlan p = step(0);
  EXPECT_TRUE(p.start.empty());
  ASSERT_EQ(p.messages.size(), 1u);
  EXPECT_NE(p.messages[0].find("template1"), std::string::npos);
  EXPECT_TRUE(step(1).messages.empty());
}

TEST_F(Fixture, ConnectionsDisallowedStopsTheWorker) {
  planner.configure({}, 8);
  step(0);
  planner.found_extension(16384);
  auto dbs = cluster();
  dbs[3].connectable = false;
  LaunchPlan p = step(1, dbs);
  EXPECT_EQ(stopped(p), (Oids{16384}));
  EXPECT_EQ(p.keep.count(16384), 0u);
  exit(16384, WorkerExit::kStopped, 2);
  EXPECT_TRUE(step(3, dbs).start.empty());
  EXPECT_EQ(step(4).start, (Oids{16384})) << "allowed again: checked again";
}

TEST_F(Fixture, ADroppedDatabaseIsForgotten) {
  planner.configure({}, 8);
  step(0);
  planner.found_extension(16384);
  exit(16384, WorkerExit::kLeft, 1);
  auto dbs = cluster();
  dbs.erase(dbs.begin() + 3);
  LaunchPlan p = step(2, dbs);
  EXPECT_TRUE(p.start.empty());
  EXPECT_EQ(p.keep.count(16384), 0u);
  EXPECT_FALSE(planner.knows_extension(16384));
}

TEST_F(Fixture, MaxWorkersBoundsWorkersAndTheWaitIsSaidOnce) {
  planner.configure({}, 1);
  EXPECT_EQ(step(0).start, (Oids{5}));
  exit(5, WorkerExit::kNoExtension, 0.1);
  LaunchPlan p = step(0.2);
  EXPECT_EQ(p.start, (Oids{16384}));
  EXPECT_TRUE(p.messages.empty()) << "behind a probe";
  planner.found_extension(16384);
  p = step(0.3);
  EXPECT_TRUE(p.start.empty());
  EXPECT_EQ(p.messages, (std::vector<std::string>{
                            "database \"other\" is not checked for the extension until a worker "
                            "is free: recovery.max_workers (1) are all busy"}));
  EXPECT_TRUE(step(1).messages.empty());

  planner.configure({}, 2);
  EXPECT_EQ(step(2).start, (Oids{16385}));
}

TEST_F(Fixture, NoWaitMessageBehindAProbe) {
  planner.configure({}, 1);
  LaunchPlan p = step(0);
  EXPECT_EQ(p.start, (Oids{5}));
  EXPECT_TRUE(p.messages.empty());
}

TEST_F(Fixture, AReservedPlaceOutlivesARestart) {
  planner.configure({}, 2);
  step(0);  // postgres, app
  planner.found_extension(16384);
  exit(5, WorkerExit::kNoExtension, 1);
  EXPECT_EQ(step(1).start, (Oids{16385}));
  planner.found_extension(16385);
  exit(16384, WorkerExit::kFailed, 2);
  EXPECT_TRUE(step(5).start.empty()) << "app's pause";
  EXPECT_EQ(step(2 + kRestart).start, (Oids{16384}));
  exit(16384, WorkerExit::kFailed, 1 + kRecheck - 5);
  // app's place is kept during its pause: postgres, due for a recheck, is
  // not checked in it.
  EXPECT_TRUE(step(1 + kRecheck).start.empty());
  EXPECT_EQ(step(1 + kRecheck + kRestart).start, (Oids{16384}));
}

TEST_F(Fixture, LoweringMaxWorkersStopsTheNewestAndTheyWait) {
  planner.configure({}, 8);
  step(0);
  for (uint32_t oid : {5u, 16384u, 16385u}) planner.found_extension(oid);
  planner.configure({}, 2);
  LaunchPlan p = step(1);
  EXPECT_EQ(stopped(p), (Oids{16385}));
  EXPECT_EQ(p.stop[0].second, "recovery.max_workers");
  exit(16385, WorkerExit::kStopped, 2);
  p = step(3);
  EXPECT_TRUE(p.start.empty());
  EXPECT_EQ(p.messages, (std::vector<std::string>{"database \"other\" waits for a free worker: "
                                                  "recovery.max_workers (2) are all busy"}));
  EXPECT_TRUE(step(4).stop.empty()) << "no cascade: one stop is enough";
  planner.configure({}, 3);
  EXPECT_EQ(step(5).start, (Oids{16385}));
}

TEST(ChooseSlot, PrefersTheSlotThatServedTheDatabaseThenAnUnusedOne) {
  const uint32_t bound[] = {100, 0, 200, 300};
  const bool busy[] = {true, false, false, false};
  EXPECT_EQ(choose_slot(bound, busy, 4, 200), 2);
  EXPECT_EQ(choose_slot(bound, busy, 4, 300), 3);
  EXPECT_EQ(choose_slot(bound, busy, 4, 400), 1);
  EXPECT_EQ(choose_slot(bound, busy, 4, 100), 1) << "its old slot is busy";
}

TEST(ChooseSlot, TakesAnotherDatabasesSlotOnlyWhenNothingElseIsFree) {
  const uint32_t bound[] = {100, 200};
  const bool busy[] = {true, false};
  EXPECT_EQ(choose_slot(bound, busy, 2, 300), 1);
  const bool all_busy[] = {true, true};
  EXPECT_EQ(choose_slot(bound, all_busy, 2, 300), -1);
  EXPECT_EQ(choose_slot(bound, busy, 0, 300), -1);
}

}  // namespace
