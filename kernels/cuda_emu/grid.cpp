#include "kernels/cuda_emu/grid.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cuda_emu/fiber.h"

namespace turbine::cudaemu {

namespace {

// Fiber stacks: kernels keep small arrays in registers on a GPU; here they are stack
// frames, which AddressSanitizer pads. Pages are committed only as they are touched.
constexpr size_t kStackBytes = 256 << 10;
constexpr int kWarp = 32;

enum class Wait { kRunnable, kBarrier, kWarp, kDone };
enum class Op { kExchange, kSync };

struct Thread {
  Context context;
  FiberStack stack;
  ThreadCtx ctx{};
  int linear = 0;
  // This lane's part of the warp operation it waits in.
  uint64_t bits = 0;
  int arg = 0;
  uint64_t result = 0;
};

struct WarpState {
  unsigned exists = 0;   // lanes of the block (a last, partial warp has fewer)
  unsigned live = 0;     // of those, not exited
  unsigned arrived = 0;  // waiting in the current operation
  Op op = Op::kSync;
  Exchange kind = Exchange::kXor;
  unsigned mask = 0;
  int width = 32;
  Where where{};
};

struct Block {
  const GridLaunch* g = nullptr;
  Schedule schedule = Schedule::kForward;
  Context host;  // the scheduler's own stack: where the block's last thread returns
  uint3 idx{};
  int n = 0;
  int done = 0;
  int at_barrier = 0;
  Where barrier_where{};
  std::vector<WarpState> warps;
  std::vector<std::pair<const void*, void*>> arena;  // TURBINE_SHARED tag -> storage
  size_t static_bytes = 0;
  void* dynamic = nullptr;
};

constexpr int kMaxThreads = 1024;
// The emulated threads of the running block, contiguous, and their wait states packed
// apart (the scheduler scans those on every switch).
thread_local Thread* tl_threads = nullptr;  // owned by tl_threads_owner (freed at thread exit)
thread_local std::unique_ptr<Thread[]> tl_threads_owner;
thread_local Wait tl_wait[kMaxThreads];
void pass_turn(Thread& t);
thread_local Block* tl_block = nullptr;
thread_local Thread* tl_thread = nullptr;

std::string where_str(const Where& w) {
  const char* f = w.file_name();
  const char* slash = std::strrchr(f, '/');
  return std::string(slash ? slash + 1 : f) + ":" + std::to_string(w.line());
}

std::string idx_str(uint3 v) {
  return "(" + std::to_string(v.x) + "," + std::to_string(v.y) + "," + std::to_string(v.z) + ")";
}

bool same_site(const Where& a, const Where& b) {
  return a.line() == b.line() && a.column() == b.column() &&
         (a.file_name() == b.file_name() || std::strcmp(a.file_name(), b.file_name()) == 0);
}

[[noreturn]] void fail(const std::string& what) {
  std::string ctx;
  if (tl_block)
    ctx += " [block " + idx_str(tl_block->idx) + " of the kernel launched at " +
           where_str(tl_block->g->where) + "]";
  std::fprintf(stderr, "cuda-emu: %s%s\n", what.c_str(), ctx.c_str());
  std::fflush(stderr);
  std::abort();
}

Block& block() {
  if (!tl_block || !tl_thread) fail("device code ran outside a kernel");
  return *tl_block;
}
Thread& self() {
  block();
  return *tl_thread;
}

std::string thread_str(const Thread& t) {
  return "thread " + idx_str(t.ctx.thread_idx);
}

const char* op_name(Op op, Exchange k) {
  if (op == Op::kSync) return "__syncwarp";
  switch (k) {
    case Exchange::kXor:
      return "__shfl_xor_sync";
    case Exchange::kIndex:
      return "__shfl_sync";
    case Exchange::kDown:
      return "__shfl_down_sync";
    case Exchange::kUp:
      return "__shfl_up_sync";
    case Exchange::kBallot:
      return "__ballot_sync";
    case Exchange::kAny:
      return "__any_sync";
    case Exchange::kAll:
      return "__all_sync";
  }
  return "warp operation";
}

Thread& lane_thread(int warp, int lane) {
  return tl_threads[warp * kWarp + lane];
}

// The last lane of `mask` has arrived: every lane's result, from the values they left.
void complete_exchange(WarpState& w, int warp) {
  if (w.op == Op::kSync) return;
  Thread* lanes = &tl_threads[warp * kWarp];
  if (w.kind == Exchange::kXor && w.width == kWarp && w.mask == 0xffffffffu) {
    // The common case (every reduction): a full warp exchanging across all 32 lanes.
    for (int l = 0; l < kWarp; ++l) {
      const int src = l ^ lanes[l].arg;
      lanes[l].result = lanes[src < kWarp ? src : l].bits;  // past the warp: own value
    }
    return;
  }
  uint64_t ballot = 0;
  if (w.kind == Exchange::kBallot || w.kind == Exchange::kAny || w.kind == Exchange::kAll)
    for (int l = 0; l < kWarp; ++l)
      if ((w.mask >> l) & 1) ballot |= uint64_t{lane_thread(warp, l).bits != 0} << l;
  for (int l = 0; l < kWarp; ++l) {
    if (!((w.mask >> l) & 1)) continue;
    Thread& me = lane_thread(warp, l);
    const int seg = l / w.width * w.width;
    int src = l;
    switch (w.kind) {
      case Exchange::kXor:
        src = l ^ me.arg;
        if (src / w.width * w.width > seg) src = l;  // a later group: own value
        break;
      case Exchange::kIndex:
        src = seg + ((me.arg % w.width) + w.width) % w.width;
        break;
      case Exchange::kDown:
        src = l + me.arg;
        if (src >= seg + w.width) src = l;
        break;
      case Exchange::kUp:
        src = l - me.arg;
        if (src < seg) src = l;
        break;
      case Exchange::kBallot:
        me.result = ballot;
        continue;
      case Exchange::kAny:
        me.result = ballot != 0;
        continue;
      case Exchange::kAll:
        me.result = ballot == w.mask;
        continue;
    }
    if (src < 0 || src >= kWarp || !((w.mask >> src) & 1))
      fail(std::string(op_name(w.op, w.kind)) + " at " + where_str(w.where) + ": lane " +
           std::to_string(l) + " reads lane " + std::to_string(src) + ", which is not in the mask");
    me.result = lane_thread(warp, src).bits;
  }
}

[[noreturn]] void warp_misuse(const WarpState& w, const Thread& t, Op op, Exchange kind,
                              unsigned mask, int width, const Where& where, const Block& b) {
  const std::string name = op_name(op, kind);
  const int lane = t.linear % kWarp;
  if (!((mask >> lane) & 1))
    fail(name + " at " + where_str(where) + ": " + thread_str(t) +
         " calls it with a mask without its own lane");
  if (mask & ~w.exists)
    fail(name + " at " + where_str(where) +
         ": the mask names lanes the block does not have (blockDim " +
         std::to_string(b.g->block.x * b.g->block.y * b.g->block.z) + ")");
  if (mask & ~w.live)
    fail(name + " at " + where_str(where) + ": lanes of the mask have exited (" + thread_str(t) +
         " waits for them)");
  if (width < 1 || width > kWarp || (width & (width - 1)))
    fail(name + " at " + where_str(where) + ": width " + std::to_string(width) +
         " is not a power of two up to 32");
  fail("warp divergence: " + thread_str(t) + " is at " + name + " (" + where_str(where) +
       ", mask " + std::to_string(mask) + ") while other lanes wait at " + op_name(w.op, w.kind) +
       " (" + where_str(w.where) + ", mask " + std::to_string(w.mask) + ")");
}

// A lane arrives at a warp operation; returns when every lane of the mask has. (The hot
// path of the emulator: a forward pass makes millions of these.)
uint64_t warp_op(Op op, Exchange kind, unsigned mask, uint64_t bits, int arg, int width,
                 const Where& where) {
  Block& b = block();
  Thread& t = self();
  const int warp = t.linear / kWarp, lane = t.linear % kWarp;
  WarpState& w = b.warps[warp];
  const bool valid = ((mask >> lane) & 1) && !(mask & ~w.live) && width >= 1 && width <= kWarp &&
                     !(width & (width - 1));
  if (!valid) warp_misuse(w, t, op, kind, mask, width, where, b);
  if (w.arrived == 0) {
    w.op = op, w.kind = kind, w.mask = mask, w.width = width, w.where = where;
  } else if (w.op != op || (op == Op::kExchange && w.kind != kind) || w.mask != mask ||
             !same_site(w.where, where)) {
    warp_misuse(w, t, op, kind, mask, width, where, b);
  }
  t.bits = bits;
  t.arg = arg;
  w.arrived |= 1u << lane;
  if ((w.arrived & w.mask) == w.mask) {
    complete_exchange(w, warp);
    for (int l = 0; l < kWarp; ++l)
      if (((w.mask >> l) & 1) && l != lane) tl_wait[warp * kWarp + l] = Wait::kRunnable;
    w.arrived = 0;
    return t.result;
  }
  tl_wait[t.linear] = Wait::kWarp;
  pass_turn(t);
  return t.result;
}

void on_exit(Block& b, Thread& t) {
  tl_wait[t.linear] = Wait::kDone;
  ++b.done;
  const int warp = t.linear / kWarp, lane = t.linear % kWarp;
  WarpState& w = b.warps[warp];
  w.live &= ~(1u << lane);
  if (b.at_barrier > 0)
    fail(thread_str(t) + " exited while " + std::to_string(b.at_barrier) +
         " threads wait at __syncthreads (" + where_str(b.barrier_where) + ")");
  if (w.arrived != 0 && ((w.mask >> lane) & 1))
    fail(thread_str(t) + " exited while lanes of its warp wait for it at " + op_name(w.op, w.kind) +
         " (" + where_str(w.where) + ")");
}

[[noreturn]] void deadlock(const Block& b) {
  std::string what = "deadlock: no thread of the block can run;";
  int shown = 0;
  for (int i = 0; i < b.n && shown < 8; ++i) {
    const Thread& t = tl_threads[i];
    if (tl_wait[i] == Wait::kBarrier) {
      what += " " + thread_str(t) + " waits at __syncthreads (" + where_str(b.barrier_where) + ");",
          ++shown;
    } else if (tl_wait[i] == Wait::kWarp) {
      const WarpState& w = b.warps[i / kWarp];
      what += " " + thread_str(t) + " waits at " + op_name(w.op, w.kind) + " (" +
              where_str(w.where) + ");",
          ++shown;
    }
  }
  fail(what);
}

// The next thread after `from` (in schedule order, cyclically) that can run, or nullptr.
Thread* next_runnable(const Block& b, int from) {
  const int n = b.n;
  if (b.schedule == Schedule::kForward) {
    for (int i = from + 1; i < n; ++i)
      if (tl_wait[i] == Wait::kRunnable) return &tl_threads[i];
    for (int i = 0; i <= from && i < n; ++i)
      if (tl_wait[i] == Wait::kRunnable) return &tl_threads[i];
  } else {
    for (int i = from - 1; i >= 0; --i)
      if (tl_wait[i] == Wait::kRunnable) return &tl_threads[i];
    for (int i = n - 1; i >= from && i >= 0; --i)
      if (tl_wait[i] == Wait::kRunnable) return &tl_threads[i];
  }
  return nullptr;
}

void run_on(Thread& from, Thread& to) {
  tl_thread = &to;
  switch_context(from.context, to.context);
  tl_thread = &from;  // switched back to: `from` runs again
}

// A thread that must wait hands the host thread straight to the next one that can run; it
// gets it back once what it waits for has happened (a later thread completes the barrier
// or exchange and marks it runnable).
void pass_turn(Thread& t) {
  Block& b = *tl_block;
  Thread* next = next_runnable(b, t.linear);
  if (!next) deadlock(b);
  run_on(t, *next);
}

// Each emulated thread: the kernel, then the exit, then the next thread's turn (or, for the
// block's last thread, back to the scheduler). Never returns.
void thread_main(void* arg) {
  auto* t = static_cast<Thread*>(arg);
  tl_block->g->body();
  Block& b = *tl_block;
  on_exit(b, *t);
  if (b.done == b.n) {
    switch_context(t->context, b.host, /*from_done=*/true);
  } else {
    Thread* next = next_runnable(b, t->linear);
    if (!next) deadlock(b);
    tl_thread = next;
    switch_context(t->context, next->context, /*from_done=*/true);
  }
}

void run_block(Block& b) {
  for (int i = 0; i < b.n; ++i)
    init_context(tl_threads[i].context, tl_threads[i].stack, &thread_main, &tl_threads[i]);
  // The first thread: 0 forward, the last one reversed.
  const int start = b.schedule == Schedule::kForward ? 0 : b.n - 1;
  Thread* first = &tl_threads[start];
  tl_thread = first;
  switch_context(b.host, first->context);  // back when the block's last thread has exited
  tl_thread = nullptr;
}

void* alloc_filled(size_t bytes, size_t align) {
  void* p = nullptr;
  if (posix_memalign(&p, std::max<size_t>(align, 16), bytes) != 0)
    fail("out of host memory for shared memory");
  std::memset(p, 0xff, bytes);  // NaN as floats, -1 as integers: a read before a write shows
  return p;
}

}  // namespace

Schedule schedule_from_env() {
  const char* s = std::getenv("TURBINE_CUDA_EMU_SCHEDULE");
  if (s && std::strcmp(s, "reverse") == 0) return Schedule::kReverse;
  if (s && *s && std::strcmp(s, "forward") != 0) {
    std::fprintf(stderr,
                 "cuda-emu: TURBINE_CUDA_EMU_SCHEDULE must be forward or reverse (got '%s')\n", s);
    std::abort();
  }
  return Schedule::kForward;
}

ThreadCtx& current() {
  return self().ctx;
}

void syncthreads(Where where) {
  Block& b = block();
  Thread& t = self();
  if (b.done > 0)
    fail("__syncthreads at " + where_str(where) + " after " + std::to_string(b.done) +
         " threads of the block exited (every thread must reach it)");
  if (b.at_barrier == 0) {
    b.barrier_where = where;
  } else if (!same_site(b.barrier_where, where)) {
    fail("barrier divergence: " + thread_str(t) + " is at __syncthreads (" + where_str(where) +
         ") while other threads wait at __syncthreads (" + where_str(b.barrier_where) + ")");
  }
  if (++b.at_barrier == b.n) {
    for (int i = 0; i < b.n; ++i)
      if (tl_wait[i] == Wait::kBarrier) tl_wait[i] = Wait::kRunnable;
    b.at_barrier = 0;
    return;
  }
  tl_wait[t.linear] = Wait::kBarrier;
  pass_turn(t);
}

void syncwarp(unsigned mask, Where where) {
  warp_op(Op::kSync, Exchange::kXor, mask, 0, 0, 32, where);
}

uint64_t warp_exchange(Exchange kind, unsigned mask, uint64_t bits, int arg, int width,
                       Where where) {
  return warp_op(Op::kExchange, kind, mask, bits, arg, width, where);
}

void* block_shared(const void* tag, size_t bytes, size_t align) {
  Block& b = block();
  for (const auto& [k, p] : b.arena)
    if (k == tag) return p;
  b.static_bytes += bytes;
  if (b.static_bytes + b.g->dynamic_smem > b.g->max_shared)
    fail("shared memory: " + std::to_string(b.static_bytes) + " bytes static + " +
         std::to_string(b.g->dynamic_smem) + " dynamic exceed the " +
         std::to_string(b.g->max_shared) + " bytes a block may have on this device");
  void* p = alloc_filled(bytes, align);
  b.arena.emplace_back(tag, p);
  return p;
}

void* dynamic_shared() {
  return block().dynamic;
}

void device_error(const char* what, Where where) {
  fail(std::string(what) + " at " + where_str(where));
}

void run_grid(const GridLaunch& g, Schedule s) {
  const int n = static_cast<int>(g.block.x * g.block.y * g.block.z);
  if (!tl_threads) {  // kept for the host thread's life
    tl_threads_owner = std::make_unique<Thread[]>(kMaxThreads);
    tl_threads = tl_threads_owner.get();
  }
  const uint64_t n_blocks = uint64_t{g.grid.x} * g.grid.y * g.grid.z;
  for (uint64_t k = 0; k < n_blocks; ++k) {
    const uint64_t lin = s == Schedule::kForward ? k : n_blocks - 1 - k;
    Block b;
    b.g = &g;
    b.idx = {static_cast<unsigned>(lin % g.grid.x),
             static_cast<unsigned>(lin / g.grid.x % g.grid.y),
             static_cast<unsigned>(lin / (uint64_t{g.grid.x} * g.grid.y))};
    b.n = n;
    b.warps.resize((n + kWarp - 1) / kWarp);
    for (size_t w = 0; w < b.warps.size(); ++w) {
      const int lanes = std::min(kWarp, n - static_cast<int>(w) * kWarp);
      b.warps[w].exists = lanes == kWarp ? 0xffffffffu : ((1u << lanes) - 1);
      b.warps[w].live = b.warps[w].exists;
    }
    b.dynamic = alloc_filled(g.dynamic_smem, 16);
    for (int i = 0; i < n; ++i) {
      Thread& t = tl_threads[i];
      t.linear = i;
      tl_wait[i] = Wait::kRunnable;
      t.ctx.thread_idx = {static_cast<unsigned>(i % g.block.x),
                          static_cast<unsigned>(i / g.block.x % g.block.y),
                          static_cast<unsigned>(i / (g.block.x * g.block.y))};
      t.ctx.block_idx = b.idx;
      t.ctx.block_dim = g.block;
      t.ctx.grid_dim = g.grid;
      t.stack.ensure(kStackBytes);
    }
    b.schedule = s;
    // pthread_getattr_np reads /proc/self/maps: once per host thread, not per block.
    static thread_local const Context host = host_context();
    b.host = host;
    tl_block = &b;
    run_block(b);
    tl_block = nullptr;
    for (auto& [tag, p] : b.arena) std::free(p);
    std::free(b.dynamic);
  }
}

}  // namespace turbine::cudaemu
