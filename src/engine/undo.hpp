// Undo of a recovery: the run goes back to its status and the other values
// recovery overwrote, if nothing has changed it since.
#pragma once

#include "pg/postgres.hpp"

namespace recovery::engine {

// Reverts history row `history_id`; records the undo in history. Throws 55000
// when the run's status is no longer what that row set or a later history
// row exists for the run, 42501 when the caller may not update the table.
// Needs SPI.
bool undo(int64 history_id);

}  // namespace recovery::engine
