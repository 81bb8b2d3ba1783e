// How one request turns logits into tokens: the knobs of llama.cpp's and OpenAI's samplers.
#pragma once
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace turbine {

struct SamplingParams {
  float temperature = 1.0f;  // <= 0: greedy (argmax)
  int top_k = 0;             // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off; keeps tokens with p >= min_p * p_max
  // llama.cpp's repeat penalty over the last `penalty_last_n` tokens of prompt + output
  // (-1: all of them): positive logits are divided by it, negative ones multiplied.
  float repetition_penalty = 1.0f;
  int penalty_last_n = 64;
  // OpenAI's penalties over the generated tokens: logit -= presence * [count > 0]
  // + frequency * count.
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::optional<uint64_t> seed;  // same seed, same prompt, same parameters: same output
  std::vector<std::string> stop;         // stop strings (not part of the output)
  std::vector<int32_t> stop_token_ids;   // extra stop tokens besides the model's EOG ids
  std::map<int32_t, float> logit_bias;   // added to the logit before anything else
  bool ignore_eos = false;

  bool greedy() const { return temperature <= 0.0f; }
};

}  // namespace turbine
