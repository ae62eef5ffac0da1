// NOTIFY from C++ (sent at commit, as the NOTIFY command's are).
#pragma once

#include "pg/guard.hpp"

namespace recovery::pg {

void notify(const char* channel, const char* payload);
// The longest NOTIFY payload PostgreSQL accepts, in bytes.
size_t notify_payload_limit();

}  // namespace recovery::pg
