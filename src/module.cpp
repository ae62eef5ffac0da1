// The shared library's identity and load-time hook.
#include "bridge/postgres.hpp"

extern "C" {
PG_MODULE_MAGIC;
}
