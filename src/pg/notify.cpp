#include "pg/notify.hpp"

extern "C" {
#include "commands/async.h"
}

namespace recovery::pg {

void notify(const char* channel, const char* payload) {
  guard([&] { Async_Notify(channel, payload); });
}

// async.c refuses payloads of BLCKSZ - NAMEDATALEN - 128 bytes or more.
size_t notify_payload_limit() { return BLCKSZ - NAMEDATALEN - 128 - 1; }

}  // namespace recovery::pg
