#include "engine/instances.hpp"

#include "pg/catalog.hpp"
#include "pg/datum.hpp"
#include "pg/scope.hpp"
#include "pg/spi.hpp"
#include "core/error.hpp"
#include "core/instance_sql.hpp"

extern "C" {
#include "utils/timestamp.h"
}

namespace recovery::engine::instances {

namespace {

namespace sql = core::instance_sql;

constexpr size_t kTokenBytes = 32;
constexpr size_t kMaxNameLength = 200;

// The token as bytea, hashed by SQL: pg_catalog.sha256($n).
pg::Param token_param(const std::string& token) {
  // text and bytea share the varlena layout: the token's bytes as they are.
  return pg::param(BYTEAOID, pg::text_datum(token));
}

std::string new_token() {
  unsigned char bytes[kTokenBytes];
  const bool ok = pg::guard([&] { return pg_strong_random(bytes, sizeof(bytes)); });
  if (!ok) {
    throw core::Error(core::sqlstate::kInternalError,
                      "recovery: could not generate a random instance token");
  }
  static const char kHex[] = "0123456789abcdef";
  std::string token;
  token.reserve(2 * kTokenBytes);
  for (unsigned char b : bytes) {
    token += kHex[b >> 4];
    token += kHex[b & 15];
  }
  return token;
}

struct Incarnation {
  int64 id = 0;
  std::string instance;
  std::string role;
  bool ended = false;
  bool live = false;
};

// The incarnation with this token, locked (`lock`: a row-locking clause).
// Runs as recovery's owner (the table's policies hide other roles' rows
// from the caller; the role check below is recovery's own).
std::optional<Incarnation> find(const std::string& token, const char* lock) {
  std::optional<Incarnation> found;
  pg::as_recovery_owner([&] {
    const uint64 rows = pg::execute(sql::find_by_token(lock), {token_param(token)}, false);
    if (rows == 0) return;
    bool is_null = false;
    Incarnation inc;
    inc.id = DatumGetInt64(pg::value(0, 1, &is_null));
    inc.instance = pg::text_value(0, 2);
    inc.role = pg::text_value(0, 3);
    inc.ended = pg::bool_value(0, 4);
    inc.live = pg::bool_value(0, 5);
    found = inc;
  });
  return found;
}

// Only the role that started an incarnation (or a superuser) may use it.
void require_own(const Incarnation& inc, const char* verb) {
  if (inc.role == pg::current_role_name() || pg::current_user_is_superuser()) return;
  throw core::Error(
      core::sqlstate::kInsufficientPrivilege,
      std::string("permission denied to ") + verb + " app instance \"" + inc.instance + "\"",
      "Its incarnation was started by another role.",
      "Only the role that started an instance (or a superuser) may renew, stop or claim "
      "with it.");
}

void require_token(const std::string& token) {
  if (token.empty())
    throw core::Error(core::sqlstate::kInvalidParameterValue, "the instance token is empty");
}

}  // namespace

std::string start(const std::string& name, const Interval& lease) {
  if (name.empty())
    throw core::Error(core::sqlstate::kInvalidParameterValue, "the instance name is empty");
  if (name.size() > kMaxNameLength) {
    throw core::Error(
        core::sqlstate::kInvalidParameterValue,
        "the instance name is longer than " + std::to_string(kMaxNameLength) + " bytes");
  }
  const __int128 span = static_cast<__int128>(lease.time) +
                        static_cast<__int128>(lease.day) * USECS_PER_DAY +
                        static_cast<__int128>(lease.month) * DAYS_PER_MONTH * USECS_PER_DAY;
  if (span <= 0) {
    throw core::Error(core::sqlstate::kInvalidParameterValue, "lease must be a positive interval",
                      {},
                      "Pass how long the instance may go without a heartbeat, for example '30 "
                      "seconds'.");
  }
  const std::string me = pg::current_role_name();
  const bool superuser = pg::current_user_is_superuser();
  std::string token = new_token();
  pg::as_recovery_owner([&] {
    const pg::Param name_param = pg::param(TEXTOID, pg::text_datum(name));
    // Starts of one name take turns (the name's first start included). The
    // name's owner is the role of its first incarnation.
    std::string owner = me;
    pg::execute(sql::lock_name(), {name_param}, false);
    if (pg::execute(sql::name_owner(), {name_param}, false) > 0) {
      owner = pg::text_value(0, 1);
    }
    if (owner != me && !superuser) {
      throw core::Error(core::sqlstate::kInsufficientPrivilege,
                        "permission denied to start app instance \"" + name + "\"",
                        "The name belongs to the role that first started it.",
                        "Choose another instance name, or start it as that role.");
    }
    pg::execute(sql::supersede(), {name_param}, false);
    // Incarnations that ended a day ago and own no claim any more.
    pg::execute(sql::prune_ended(), {name_param}, false);
    pg::execute(sql::insert(),
                {name_param, token_param(token), pg::param(TEXTOID, pg::text_datum(owner)),
                 pg::param(INTERVALOID, pg::interval_datum(lease))},
                false);
  });
  return token;
}

bool heartbeat(const std::string& token) {
  require_token(token);
  const std::optional<Incarnation> inc = find(token, "FOR NO KEY UPDATE OF i");
  if (!inc) return false;
  require_own(*inc, "renew");
  if (!inc->live) return false;
  pg::as_recovery_owner(
      [&] { pg::execute(sql::renew(), {pg::param(INT8OID, Int64GetDatum(inc->id))}, false); });
  return true;
}

int32 stop(const std::string& token) {
  require_token(token);
  const std::optional<Incarnation> inc = find(token, "FOR NO KEY UPDATE OF i");
  if (!inc) return 0;
  require_own(*inc, "stop");
  if (inc->ended) return 0;
  int32 claimed = 0;
  pg::as_recovery_owner([&] {
    const pg::Param id = pg::param(INT8OID, Int64GetDatum(inc->id));
    pg::execute(sql::stop(), {id}, false);
    pg::execute(sql::count_claims(), {id}, false);
    bool is_null = false;
    claimed = DatumGetInt32(pg::value(0, 1, &is_null));
  });
  return claimed;
}

std::optional<int64> live_incarnation(const std::string& token) {
  require_token(token);
  // FOR SHARE: a concurrent stop waits for this claim (and then counts it),
  // or this claim sees the incarnation stopped.
  const std::optional<Incarnation> inc = find(token, "FOR SHARE OF i");
  if (!inc) return std::nullopt;
  require_own(*inc, "claim runs for");
  if (!inc->live) return std::nullopt;
  return inc->id;
}

bool any_ended_with_claims() {
  uint64 rows = 0;
  pg::as_recovery_owner([&] { rows = pg::execute(sql::any_ended_with_claims(), {}, false); });
  return rows > 0;
}

std::optional<TimestampTz> next_expiry(TimestampTz after) {
  std::optional<TimestampTz> next;
  pg::as_recovery_owner([&] {
    pg::execute(sql::next_expiry(), {pg::param(TIMESTAMPTZOID, TimestampTzGetDatum(after))}, false);
    bool is_null = true;
    const Datum value = pg::value(0, 1, &is_null);
    if (!is_null) next = DatumGetTimestampTz(value);
  });
  return next;
}

}  // namespace recovery::engine::instances
