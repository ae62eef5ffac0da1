// App instances: an app process announces each start of itself
// (instance_start) and keeps a lease (instance_heartbeat). Claims made with
// an incarnation's token belong to it rather than to a database session, so
// they work from any pooled connection. An incarnation ends when a newer one
// of the same name starts (superseded), when it stops, or when its lease
// lapses; its claimed runs are then stuck at once.
//
// Rows live in recovery.instance_incarnations, written only here as the
// table's owner. The token is 32 bytes from pg_strong_random, given to the
// caller once, stored as its sha256 only. A name belongs to the role that
// first used it; only that role (or a superuser) may start, renew or stop
// its incarnations.
#pragma once

#include "pg/postgres.hpp"

namespace recovery::engine::instances {

// Starts a new incarnation of `name` with `lease`; ends the earlier ones.
// Returns the token. Needs SPI.
std::string start(const std::string& name, const Interval& lease);

// Renews the lease; false when the incarnation has ended (or the token is
// unknown). 42501 when it belongs to another role. Needs SPI.
bool heartbeat(const std::string& token);

// Ends the incarnation; returns how many runs it claimed (0 when it had
// already ended). 42501 when it belongs to another role. Needs SPI.
int32 stop(const std::string& token);

// The live incarnation whose token this is, for a claim: nullopt when it has
// ended (or the token is unknown); 42501 when it belongs to another role.
// Needs SPI.
std::optional<int64> live_incarnation(const std::string& token);

// Whether an ended or lapsed incarnation still owns claims (the worker has
// runs to recover). Needs SPI.
bool any_ended_with_claims();

// The earliest lease expiry after `after` of a live incarnation, if any
// (the worker sleeps no longer). Needs SPI.
std::optional<TimestampTz> next_expiry(TimestampTz after);

}  // namespace recovery::engine::instances
