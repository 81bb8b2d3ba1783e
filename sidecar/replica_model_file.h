// Replica models for the simulator as JSON files (bench/replica-models/): the step-time
// coefficients and sizes of sidecar/sim_replica.h's ReplicaModel, plus where each number
// comes from. Every key is checked: an unknown key, a missing one or a value out of range is
// an error that names it, so a typo cannot silently leave a default in place.
//
//   {"name": "...", "basis": "measured ..." | "assumed ...",
//    "max_batch": 64, "kv_tokens": 24000, "prefill_chunk": 512,
//    "step_fixed_s": 0.02, "step_per_seq_s": 0.0005, "prefill_per_token_s": 0.00015,
//    "startup_s": 60, "notes": {"<key>": "why this value", ...}}
// Optional (0 when absent): "prefill_attention_s", "decode_attention_s".
#pragma once
#include <string>
#include <string_view>

#include "base/result.h"
#include "sidecar/sim_replica.h"

namespace turbine::autoscaler {

struct ReplicaModelFile {
  std::string name;
  std::string basis;  // what was measured and what assumed, in a sentence
  ReplicaModel model;
};

Result<ReplicaModelFile> parse_replica_model(std::string_view json);
Result<ReplicaModelFile> load_replica_model(const std::string& path);

}  // namespace turbine::autoscaler
