// recovery.history: the audit trail. Written in the recovering transaction,
// as the history table's owner (no other role may write it, while recovery
// itself runs with the caller's rights), and pruned by age.
#pragma once

#include "engine/engine.hpp"

namespace recovery::engine::history {

// The history rows of one chunk of recovered runs.
struct Chunk {
  std::vector<Datum> run_ids, previous, next, started, last, minutes, reasons, actions,
      previous_values;
  std::vector<bool> started_nulls;

  void add(const engine::RunRow& run);
  bool empty() const { return run_ids.empty(); }
};

// Who is recovering: captured once per call. Needs SPI for write().
class Writer {
 public:
  Writer();
  // Inserts the chunk's rows and sends one NOTIFY recovery per run.
  void write(const registry::Watched& table, const Chunk& chunk) const;
  // Records an undo of history row `undo_of`; returns the new row's id.
  int64 write_undo(const registry::Watched& table, const std::string& run_id,
                   const std::string& from_status, const std::string& to_status,
                   int64 undo_of) const;

 private:
  std::string role_;
  std::string application_;
};

// Deletes history rows recovered before `cutoff`, at most `batch` rows per
// statement, as the history table's owner; returns how many. Needs SPI.
uint64 prune(TimestampTz cutoff, int64 batch, bool single_batch);

}  // namespace recovery::engine::history
