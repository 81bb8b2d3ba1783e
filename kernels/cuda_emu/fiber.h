// Fibers for the CUDA emulator: each emulated CUDA thread runs on its own stack, and a
// thread that must wait (a barrier, a warp exchange) switches straight to the next thread
// that can run. A switch is a handful of register moves (x86-64 System V), because a warp
// shuffle is 32 of them and a forward pass is millions of shuffles.
//
// AddressSanitizer is told about every switch, so it checks fiber stacks like any other
// and does not mistake a switch for a stack overflow.
#pragma once
#include <cstddef>

namespace turbine::cudaemu {

// A place execution can be switched to: a fiber, or the host thread's own stack.
struct Context {
  void* sp = nullptr;                  // saved stack pointer while not running
  const void* stack_bottom = nullptr;  // for AddressSanitizer (learned for the host stack)
  size_t stack_size = 0;
  void* fake_stack = nullptr;  // AddressSanitizer's, while not running
};

// A fiber's stack: mmap'd, with a guard page below; pages are committed as touched.
class FiberStack {
 public:
  FiberStack() = default;
  FiberStack(const FiberStack&) = delete;
  FiberStack& operator=(const FiberStack&) = delete;
  ~FiberStack();
  void ensure(size_t bytes);
  void* base() const { return base_; }
  size_t size() const { return bytes_; }
  // Where the stack starts, below its top: stacks a fixed size apart would put every
  // fiber's hot frames in the same cache sets; each stack is offset by its own amount.
  size_t color() const { return color_; }

 private:
  void* base_ = nullptr;
  size_t bytes_ = 0;
  size_t color_ = 0;
};

// The running host thread's own stack, as a context to switch back to.
Context host_context();

// Makes `c` start `entry(arg)` on `stack` the next time it is switched to. `entry` must
// never return: it ends by switching to another context for good.
void init_context(Context& c, FiberStack& stack, void (*entry)(void*), void* arg);

// Saves the running context in `from` and runs `to`. Returns when something switches back
// to `from`. With `from_done`, `from` is never switched to again (its stack is released to
// AddressSanitizer).
void switch_context(Context& from, Context& to, bool from_done = false);

}  // namespace turbine::cudaemu
