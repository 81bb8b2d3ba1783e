#include "kernels/cuda_emu/fiber.h"

#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define TURBINE_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TURBINE_EMU_ASAN 1
#endif
#endif

#if defined(TURBINE_EMU_ASAN)
extern "C" {
void __sanitizer_start_switch_fiber(void** fake_stack_save, const void* bottom, size_t size);
void __sanitizer_finish_switch_fiber(void* fake_stack_save, const void** bottom_old,
                                     size_t* size_old);
}
#endif

#if !defined(__x86_64__)
#error "the CUDA emulator's fibers switch stacks with x86-64 code"
#endif

namespace turbine::cudaemu {

// void turbine_emu_switch(void** save_sp, void* load_sp): pushes the callee-saved
// registers, stores the stack pointer in *save_sp, loads load_sp and pops the same from
// there. The SSE/x87 control words are not switched: every fiber of a host thread runs in
// that thread's floating-point environment (kernels do not change it).
extern "C" void turbine_emu_switch(void** save_sp, void* load_sp);
// The first switch to a new context "returns" here, with the entry in rbx, its argument
// in r12 and the context in r13.
extern "C" void turbine_emu_trampoline();
extern "C" void turbine_emu_fiber_start(void (*entry)(void*), void* arg, Context* self);
asm(R"(
  .text
  .globl turbine_emu_switch
  .type turbine_emu_switch, @function
turbine_emu_switch:
  pushq %rbp
  pushq %rbx
  pushq %r12
  pushq %r13
  pushq %r14
  pushq %r15
  movq %rsp, (%rdi)
  movq %rsi, %rsp
  popq %r15
  popq %r14
  popq %r13
  popq %r12
  popq %rbx
  popq %rbp
  ret
  .size turbine_emu_switch, .-turbine_emu_switch

  .globl turbine_emu_trampoline
  .type turbine_emu_trampoline, @function
turbine_emu_trampoline:
  movq %rbx, %rdi
  movq %r12, %rsi
  movq %r13, %rdx
  callq turbine_emu_fiber_start
  ud2
  .size turbine_emu_trampoline, .-turbine_emu_trampoline
  .section .note.GNU-stack,"",@progbits
  .text
)");

extern "C" void turbine_emu_fiber_start(void (*entry)(void*), void* arg, Context* self) {
#if defined(TURBINE_EMU_ASAN)
  __sanitizer_finish_switch_fiber(nullptr, nullptr, nullptr);
#endif
  (void)self;
  entry(arg);  // never returns (see init_context); the trampoline traps if it did
}

namespace {

size_t page_size() {
  static const size_t p = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  return p;
}

}  // namespace

FiberStack::~FiberStack() {
  if (base_) munmap(static_cast<char*>(base_) - page_size(), bytes_ + page_size());
}

void FiberStack::ensure(size_t bytes) {
  if (base_ && bytes_ >= bytes) return;
  if (base_) munmap(static_cast<char*>(base_) - page_size(), bytes_ + page_size());
  bytes_ = (bytes + page_size() - 1) / page_size() * page_size();
  // A guard page below the stack: an overflow faults instead of corrupting a neighbour.
  void* m = mmap(nullptr, bytes_ + page_size(), PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (m == MAP_FAILED) {
    std::fprintf(stderr, "cuda-emu: cannot map a fiber stack of %zu bytes\n", bytes_);
    std::abort();
  }
  mprotect(m, page_size(), PROT_NONE);
  base_ = static_cast<char*>(m) + page_size();
  static std::atomic<size_t> next_color{0};
  color_ = (next_color.fetch_add(1) * 1088) % 8192;  // 17 cache lines apart, over two pages
}

Context host_context() {
  Context c;
  pthread_attr_t attr;
  if (pthread_getattr_np(pthread_self(), &attr) == 0) {
    void* addr = nullptr;
    size_t size = 0;
    if (pthread_attr_getstack(&attr, &addr, &size) == 0) c.stack_bottom = addr, c.stack_size = size;
    pthread_attr_destroy(&attr);
  }
  return c;
}

void init_context(Context& c, FiberStack& stack, void (*entry)(void*), void* arg) {
  // The stack as turbine_emu_switch leaves it: r15 r14 r13 r12 rbx rbp, then the return
  // address; after `ret` rsp = top - 16, 16-byte aligned as the trampoline's call needs.
  auto* top = reinterpret_cast<uint64_t*>(
      (reinterpret_cast<uintptr_t>(stack.base()) + stack.size() - stack.color()) & ~uintptr_t{15});
  uint64_t* sp = top - 9;
  std::memset(sp, 0, 9 * sizeof(uint64_t));
  sp[2] = reinterpret_cast<uint64_t>(&c);                       // r13
  sp[3] = reinterpret_cast<uint64_t>(arg);                      // r12
  sp[4] = reinterpret_cast<uint64_t>(entry);                    // rbx
  sp[6] = reinterpret_cast<uint64_t>(&turbine_emu_trampoline);  // where `ret` goes
  c.sp = sp;
  c.stack_bottom = stack.base();
  c.stack_size = stack.size();
  c.fake_stack = nullptr;
}

void switch_context(Context& from, Context& to, bool from_done) {
#if defined(TURBINE_EMU_ASAN)
  __sanitizer_start_switch_fiber(from_done ? nullptr : &from.fake_stack, to.stack_bottom,
                                 to.stack_size);
#else
  (void)from_done;
#endif
  turbine_emu_switch(&from.sp, to.sp);
#if defined(TURBINE_EMU_ASAN)
  __sanitizer_finish_switch_fiber(from.fake_stack, nullptr, nullptr);
#endif
}

}  // namespace turbine::cudaemu
