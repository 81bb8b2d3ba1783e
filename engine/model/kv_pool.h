// The paged KV cache's memory: for every layer a K and a V pool of num_blocks blocks. Which
// block belongs to which sequence is the KV block manager's business (engine/runtime); the
// pool only owns the bytes.
#pragma once
#include <memory>
#include <vector>

#include "kernels/backend.h"

namespace turbine {

class KvPool {
 public:
  KvPool(Backend& backend, int n_layers, const KvGeometry& g);
  const KvGeometry& geometry() const { return geom_; }
  const KvLayer& layer(int i) const { return layers_[i]; }
  int num_blocks() const { return geom_.num_blocks; }
  int block_size() const { return geom_.block_size; }
  size_t bytes() const;
  // Bytes one token's K and V take over all layers.
  static size_t bytes_per_token(int n_layers, const KvGeometry& g);

 private:
  KvGeometry geom_;
  std::vector<std::unique_ptr<Buffer>> buffers_;
  std::vector<KvLayer> layers_;
};

}  // namespace turbine
