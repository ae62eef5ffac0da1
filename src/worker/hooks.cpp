#include "worker/hooks.hpp"

#include <csignal>

#include "pg/guard.hpp"
#include "engine/claims.hpp"
#include "worker/shared_state.hpp"

extern "C" {
#include "access/xact.h"
#include "commands/dbcommands.h"
#include "commands/defrem.h"
#include "miscadmin.h"
#include "nodes/parsenodes.h"
#include "storage/procarray.h"
#include "tcop/utility.h"
#include "utils/acl.h"
}

namespace recovery::worker {

namespace {

// How long a DDL command waits for a worker to leave; after kCancelAfterMs a
// worker still busy in a statement (a lock wait, a slow trigger) gets a
// cancel, which it takes as the signal to go.
constexpr int kPollMs = 10;
constexpr int kCancelAfterMs = 500;
constexpr int kGiveUpMs = 5000;

ProcessUtility_hook_type g_prev_utility = nullptr;

// What this backend's transaction did, acted on when it ends.
bool g_holding = false;          // holds a database (released at commit or abort)
bool g_check_at_commit = false;  // CREATE EXTENSION recovery
bool g_wake_at_commit = false;   // DROP EXTENSION recovery, DISCARD ALL, instances
bool g_poke_at_commit = false;   // CREATE or ALTER DATABASE

// Waits until no worker of `database` is launched and its last process is
// gone from the process array (where DROP DATABASE would count it).
void await_departure(Oid database, const char* name) {
  pid_t last = 0;
  bool cancelled = false;
  for (int waited = 0;; waited += kPollMs) {
    pid_t pid = 0;
    const bool launched = shared::worker_in(database, &pid);
    if (pid != 0) last = pid;
    const bool gone =
        !launched && (last == 0 || pg::guard([&] { return BackendPidGetProc(last) == nullptr; }));
    if (gone) return;
    if (waited >= kGiveUpMs) {
      pg::guard([&] {
        ereport(WARNING,
                (errcode(ERRCODE_OBJECT_IN_USE),
                 errmsg("recovery: the worker of database \"%s\" did not leave within %d ms", name,
                        kGiveUpMs)));
      });
      return;
    }
    if (!cancelled && pid != 0 && waited >= kCancelAfterMs) {
      (void)kill(pid, SIGINT);  // as pg_cancel_backend(): ends its statement
      cancelled = true;
    }
    pg::guard([] {
      pg_usleep(kPollMs * 1000L);
      CHECK_FOR_INTERRUPTS();
    });
  }
}

// A command that needs `database` to itself: its workers leave first, and
// none starts there until this transaction ends. Only for the database's
// owner (or a superuser): anyone else's command fails anyway, and must not
// be a way to push the worker out.
void make_way(const char* database, const char* command) {
  if (database == nullptr || !shared::available()) return;
  const Oid oid = pg::guard([&] { return get_database_oid(database, true); });
  if (!OidIsValid(oid) || oid == MyDatabaseId) return;
  if (!pg::guard([&] { return pg::compat::database_ownercheck(oid, GetUserId()); })) return;
  g_holding = true;
  if (!shared::hold(oid, MyProcPid, command)) {
    pg::guard([&] {
      ereport(WARNING,
              (errcode(ERRCODE_CONFIGURATION_LIMIT_EXCEEDED),
               errmsg("recovery: too many database commands at once to keep workers out of \"%s\"",
                      database)));
    });
  }
  await_departure(oid, database);
}

const char* option_value(List* options, const char* name) {
  ListCell* cell = nullptr;
  foreach (cell, options) {
    auto* option = static_cast<DefElem*>(lfirst(cell));
    if (strcmp(option->defname, name) == 0 && option->arg != nullptr) {
      return pg::guard([&] { return static_cast<const char*>(defGetString(option)); });
    }
  }
  return nullptr;
}

bool names_recovery(List* objects) {
  ListCell* cell = nullptr;
  foreach (cell, objects) {
    auto* name = static_cast<Node*>(lfirst(cell));
    if (IsA(name, String) && strcmp(strVal(name), "recovery") == 0) return true;
  }
  return false;
}

void inspect(Node* statement) {
  switch (nodeTag(statement)) {
    case T_DropdbStmt:
      make_way(castNode(DropdbStmt, statement)->dbname, "DROP DATABASE");
      break;
    case T_RenameStmt: {
      auto* rename = castNode(RenameStmt, statement);
      if (rename->renameType == OBJECT_DATABASE) {
        make_way(rename->subname, "ALTER DATABASE RENAME");
      }
      break;
    }
    case T_CreatedbStmt: {
      const char* source = option_value(castNode(CreatedbStmt, statement)->options, "template");
      make_way(source != nullptr ? source : "template1", "CREATE DATABASE TEMPLATE");
      g_poke_at_commit = true;
      break;
    }
    case T_AlterDatabaseStmt: {
      auto* alter = castNode(AlterDatabaseStmt, statement);
      if (option_value(alter->options, "tablespace") != nullptr) {
        make_way(alter->dbname, "ALTER DATABASE SET TABLESPACE");
      }
      g_poke_at_commit = true;  // ALLOW_CONNECTIONS, IS_TEMPLATE
      break;
    }
    case T_CreateExtensionStmt:
      if (strcmp(castNode(CreateExtensionStmt, statement)->extname, "recovery") == 0) {
        g_check_at_commit = true;
      }
      break;
    case T_DropStmt: {
      auto* drop = castNode(DropStmt, statement);
      if (drop->removeType == OBJECT_EXTENSION && names_recovery(drop->objects)) {
        g_wake_at_commit = true;
      }
      break;
    }
    case T_DiscardStmt:
      // A session-mode pooler's reset: the next client is another session.
      if (castNode(DiscardStmt, statement)->target == DISCARD_ALL &&
          engine::claims::end_session_claims()) {
        g_wake_at_commit = true;
      }
      break;
    default:
      break;
  }
}

// Called before the command (C code calls the hook: nothing may escape as
// a C++ exception; a failure is raised as the command's ERROR).
void before_utility(Node* statement) {
  std::exception_ptr failure;
  try {
    inspect(statement);
  } catch (...) {
    failure = std::current_exception();
  }
  if (failure) pg::raise_error(std::move(failure));
}

void on_utility(PlannedStmt* pstmt, const char* query, bool read_only_tree,
                ProcessUtilityContext context, ParamListInfo params, QueryEnvironment* env,
                DestReceiver* dest, QueryCompletion* qc) {
  before_utility(pstmt->utilityStmt);
  // This frame owns nothing with a destructor: the command may raise through it.
  if (g_prev_utility != nullptr) {
    g_prev_utility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  } else {
    standard_ProcessUtility(pstmt, query, read_only_tree, context, params, env, dest, qc);
  }
}

// At the end of every transaction (C code: never throws, no allocation).
void on_transaction_end(XactEvent event, void*) {
  bool committed = false;
  switch (event) {
    case XACT_EVENT_COMMIT:
      committed = true;
      break;
    case XACT_EVENT_ABORT:
    case XACT_EVENT_PREPARE:
      break;
    default:
      return;
  }
  if (g_holding) shared::release_holds(MyProcPid);
  if (committed && g_check_at_commit) shared::request_check(MyDatabaseId);
  if (committed && g_wake_at_commit) (void)shared::wake(MyDatabaseId);
  if (committed && g_poke_at_commit) shared::poke_launcher();
  g_holding = g_check_at_commit = g_wake_at_commit = g_poke_at_commit = false;
}

}  // namespace

void wake_worker_at_commit() noexcept { g_wake_at_commit = true; }

void install_hooks() {
  g_prev_utility = ProcessUtility_hook;
  ProcessUtility_hook = on_utility;
  RegisterXactCallback(on_transaction_end, nullptr);
}

}  // namespace recovery::worker
