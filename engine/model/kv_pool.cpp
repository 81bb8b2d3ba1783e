#include "engine/model/kv_pool.h"

#include "base/result.h"

namespace turbine {

KvPool::KvPool(Backend& backend, int n_layers, const KvGeometry& g) : geom_(g) {
  TURBINE_CHECK(g.num_blocks > 0 && g.block_size > 0);
  size_t pool_bytes = g.block_bytes() * static_cast<size_t>(g.num_blocks);
  for (int i = 0; i < n_layers; ++i) {
    auto k = backend.alloc(pool_bytes);
    auto v = backend.alloc(pool_bytes);
    layers_.push_back({k->data(), v->data()});
    buffers_.push_back(std::move(k));
    buffers_.push_back(std::move(v));
  }
}

size_t KvPool::bytes() const { return geom_.block_bytes() * geom_.num_blocks * buffers_.size(); }

size_t KvPool::bytes_per_token(int n_layers, const KvGeometry& g) {
  return 2 * static_cast<size_t>(n_layers) * g.n_kv_heads * g.row_total_bytes();
}

}  // namespace turbine
