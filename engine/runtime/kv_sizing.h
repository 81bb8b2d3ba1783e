// How many KV blocks a pool gets: one rule for serve, run, chat and bench. The rule is a
// pure function of the memory figures (table-tested); measuring them is kv_request_for's.
//
//   explicit blocks (--kv-blocks)        -> exactly that many
//   a byte budget (--kv-cache-mb)        -> as many blocks as it holds (the same memory
//                                           holds 1.9x / 2.7x the tokens at int8 / int4)
//   otherwise budget = fraction x usable memory, where usable is
//     on a device: free device memory after the weights, less a margin for the scratch
//                  buffers the first large prefill grows (5%, at most 1 GiB);
//     on the host: MemAvailable;
//   and the pool is budget / block bytes, capped at what `max_sequences` full contexts can
//   ever use, except when serving from device memory: there the whole budget is the pool,
//   because blocks past the live sequences keep prefix-cache content (a shared system
//   prompt) that the next request reuses, and device memory has no other tenant to give to.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/result.h"

namespace turbine {

class Backend;
class LlamaModel;

struct KvPoolRequest {
  size_t block_bytes = 0;         // one block's K and V over all layers
  int block_size = 16;            // tokens per block
  int explicit_blocks = 0;        // > 0: this many, whatever the memory says
  size_t explicit_bytes = 0;      // > 0: as many blocks as fit these bytes
  double memory_fraction = 0.85;  // share of the usable memory the pool may take
  size_t free_bytes = 0;          // free device memory (after weights) or host MemAvailable
  bool on_device = false;         // free_bytes is device memory
  int64_t context_tokens = 0;     // the longest context one sequence can need
  int max_sequences = 1;          // sequences that hold KV at once
  bool serving = false;           // a server (prefix caching pays for spare blocks)
};

struct KvPoolPlan {
  int num_blocks = 0;
  size_t bytes = 0;
  std::string basis;  // "explicit", "budget", "memory" or "context": which bound decided (for the log)
};

// An error when the budget does not hold a single block (a user can act on it: lower the
// fraction's competition, pass --kv-blocks, or free memory).
Result<KvPoolPlan> plan_kv_pool(const KvPoolRequest& req);

// Fills block_bytes, free_bytes and on_device for `model` on `backend` (device memory
// when the backend reports it, else the host's MemAvailable).
KvPoolRequest kv_request_for(const LlamaModel& model, Backend& backend, int block_size);

// MemAvailable from /proc/meminfo (4 GiB when it cannot be read).
size_t host_available_bytes();

}  // namespace turbine
