// The emulated CUDA runtime: one device with the limits of a chosen profile, device memory
// that is host memory (so AddressSanitizer checks every kernel access), streams whose work
// is queued and runs only when the host synchronizes (so a missing synchronize reads stale
// data, as it might on a GPU), events, and graphs that replay their captured work.
//
//   TURBINE_CUDA_EMU_DEVICE   sm_80 (default) | sm_86 | sm_90: SM count and shared-memory limits
//   TURBINE_CUDA_EMU_MEMORY   device memory in MiB (default 4096)
//   TURBINE_CUDA_EMU_SCHEDULE forward (default) | reverse: the thread and block order
#include <sys/types.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <cuda_runtime.h>
#include "kernels/cuda_emu/grid.h"

struct CUstream_st {
  unsigned flags = 0;
  std::deque<std::function<void()>> work;
  bool capturing = false;
  std::vector<std::function<void()>> captured;
};
struct CUevent_st {
  bool recorded = false;
  std::chrono::steady_clock::time_point at{};
  cudaStream_t stream = nullptr;
};
struct CUgraph_st {
  std::vector<std::function<void()>> work;
};
struct CUgraphExec_st {
  std::vector<std::function<void()>> work;
};

namespace turbine::cudaemu {

namespace {

struct Profile {
  const char* arch;
  const char* name;
  int major, minor;
  int sms;
  size_t smem_optin;  // the most dynamic + static shared memory one block may opt into
};

constexpr Profile kProfiles[] = {
    {"sm_80", "turbine CUDA emulator (A100 limits, sm_80)", 8, 0, 108, 166912},
    {"sm_86", "turbine CUDA emulator (RTX 3090 limits, sm_86)", 8, 6, 82, 101376},
    {"sm_90", "turbine CUDA emulator (H100 limits, sm_90)", 9, 0, 132, 232448},
};
constexpr size_t kDefaultSmem = 48 << 10;  // without the opt-in

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "cuda-emu: %s\n", what.c_str());
  std::abort();
}

struct Runtime {
  const Profile* profile = &kProfiles[0];
  size_t total_memory = size_t{4096} << 20;
  Schedule schedule = Schedule::kForward;
  std::recursive_mutex mu;                  // device work runs one launch at a time
  std::map<uintptr_t, size_t> allocations;  // device memory: start -> bytes
  size_t allocated = 0;
  std::map<const void*, size_t> func_smem;  // cudaFuncSetAttribute opt-ins
  CUstream_st legacy;                       // stream 0

  Runtime() {
    if (const char* d = std::getenv("TURBINE_CUDA_EMU_DEVICE"); d && *d) {
      profile = nullptr;
      for (const Profile& p : kProfiles)
        if (std::strcmp(p.arch, d) == 0) profile = &p;
      if (!profile)
        die(std::string("TURBINE_CUDA_EMU_DEVICE must be sm_80, sm_86 or sm_90 (got '") + d + "')");
    }
    if (const char* m = std::getenv("TURBINE_CUDA_EMU_MEMORY"); m && *m)
      total_memory = static_cast<size_t>(std::strtoull(m, nullptr, 10)) << 20;
    schedule = schedule_from_env();
  }

  CUstream_st& stream(cudaStream_t s) { return s ? *s : legacy; }

  // The device allocation that holds [p, p + n), if any.
  bool is_device(const void* p, size_t n) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    auto it = allocations.upper_bound(a);
    if (it == allocations.begin()) return false;
    --it;
    return a >= it->first && a + n <= it->first + it->second;
  }

  void enqueue(cudaStream_t s, std::function<void()> f) {
    std::lock_guard<std::recursive_mutex> l(mu);
    CUstream_st& st = stream(s);
    if (st.capturing) {
      st.captured.push_back(std::move(f));
    } else {
      st.work.push_back(std::move(f));
    }
  }

  void drain(CUstream_st& st) {
    std::lock_guard<std::recursive_mutex> l(mu);
    while (!st.work.empty()) {
      auto f = std::move(st.work.front());
      st.work.pop_front();
      f();
    }
  }
};

Runtime& rt() {
  static Runtime r;
  return r;
}

thread_local cudaError_t tl_last_error = cudaSuccess;

cudaError_t set_error(cudaError_t e, const std::string& why) {
  if (e != cudaSuccess) {
    std::fprintf(stderr, "cuda-emu: %s: %s\n", cudaGetErrorString(e), why.c_str());
    tl_last_error = e;
  }
  return e;
}

}  // namespace

cudaError_t set_func_max_dynamic_smem(const void* func, int bytes) {
  Runtime& r = rt();
  if (bytes < 0 || static_cast<size_t>(bytes) > r.profile->smem_optin)
    return set_error(cudaErrorInvalidValue,
                     "cudaFuncSetAttribute: " + std::to_string(bytes) +
                         " bytes of dynamic shared memory; this device allows " +
                         std::to_string(r.profile->smem_optin));
  std::lock_guard<std::recursive_mutex> l(r.mu);
  r.func_smem[func] = static_cast<size_t>(bytes);
  return cudaSuccess;
}

void set_reverse_schedule(bool reverse) {
  std::lock_guard<std::recursive_mutex> l(rt().mu);
  rt().schedule = reverse ? Schedule::kReverse : Schedule::kForward;
}

bool is_device_memory(const void* p, size_t bytes) {
  std::lock_guard<std::recursive_mutex> l(rt().mu);
  return rt().is_device(p, bytes);
}

void launch(const LaunchConfig& c, std::function<void()> body) {
  Runtime& r = rt();
  const std::string at = std::string(c.where.file_name()) + ":" + std::to_string(c.where.line());
  const uint64_t threads = uint64_t{c.block.x} * c.block.y * c.block.z;
  if (threads == 0 || threads > 1024 || c.block.x > 1024 || c.block.y > 1024 || c.block.z > 64) {
    set_error(cudaErrorInvalidConfiguration,
              "launch at " + at + ": block (" + std::to_string(c.block.x) + "," +
                  std::to_string(c.block.y) + "," + std::to_string(c.block.z) +
                  ") is not 1 to 1024 threads");
    return;
  }
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.grid.x > 2147483647u ||
      c.grid.y > 65535 || c.grid.z > 65535) {
    set_error(cudaErrorInvalidConfiguration,
              "launch at " + at + ": grid (" + std::to_string(c.grid.x) + "," +
                  std::to_string(c.grid.y) + "," + std::to_string(c.grid.z) + ") is out of range");
    return;
  }
  size_t allowed = kDefaultSmem;
  {
    std::lock_guard<std::recursive_mutex> l(r.mu);
    if (auto it = r.func_smem.find(c.func); it != r.func_smem.end())
      allowed = std::max(allowed, it->second);
  }
  if (c.smem > allowed) {
    set_error(cudaErrorInvalidValue,
              "launch at " + at + ": " + std::to_string(c.smem) +
                  " bytes of dynamic shared memory need " +
                  (c.smem > r.profile->smem_optin
                       ? std::string("more than this device has")
                       : "cudaFuncSetAttribute(MaxDynamicSharedMemorySize) first"));
    return;
  }
  auto g = std::make_shared<GridLaunch>();
  g->grid = c.grid;
  g->block = c.block;
  g->dynamic_smem = c.smem;
  g->max_shared = r.profile->smem_optin;
  g->body = std::move(body);
  g->where = c.where;
  const Schedule s = r.schedule;
  r.enqueue(c.stream, [g, s] { run_grid(*g, s); });
}

}  // namespace turbine::cudaemu

using turbine::cudaemu::rt;
using turbine::cudaemu::set_error;

cudaError_t cudaGetDeviceCount(int* n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaGetDevice(int* d) {
  *d = 0;
  return cudaSuccess;
}
cudaError_t cudaSetDevice(int d) {
  return d == 0 ? cudaSuccess : set_error(cudaErrorInvalidDevice, "device " + std::to_string(d));
}

cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int d) {
  if (d != 0) return set_error(cudaErrorInvalidDevice, "device " + std::to_string(d));
  const auto& pr = *rt().profile;
  std::memset(p, 0, sizeof *p);
  std::snprintf(p->name, sizeof p->name, "%s", pr.name);
  p->totalGlobalMem = rt().total_memory;
  p->sharedMemPerBlock = 48 << 10;
  p->sharedMemPerBlockOptin = pr.smem_optin;
  p->warpSize = 32;
  p->maxThreadsPerBlock = 1024;
  p->maxThreadsDim[0] = 1024, p->maxThreadsDim[1] = 1024, p->maxThreadsDim[2] = 64;
  p->maxGridSize[0] = 2147483647, p->maxGridSize[1] = 65535, p->maxGridSize[2] = 65535;
  p->major = pr.major;
  p->minor = pr.minor;
  p->multiProcessorCount = pr.sms;
  return cudaSuccess;
}

cudaError_t cudaDeviceGetAttribute(int* v, cudaDeviceAttr a, int d) {
  cudaDeviceProp p;
  if (cudaError_t e = cudaGetDeviceProperties(&p, d); e != cudaSuccess) return e;
  switch (a) {
    case cudaDevAttrMaxThreadsPerBlock:
      *v = p.maxThreadsPerBlock;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlock:
      *v = static_cast<int>(p.sharedMemPerBlock);
      return cudaSuccess;
    case cudaDevAttrWarpSize:
      *v = 32;
      return cudaSuccess;
    case cudaDevAttrMultiProcessorCount:
      *v = p.multiProcessorCount;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMajor:
      *v = p.major;
      return cudaSuccess;
    case cudaDevAttrComputeCapabilityMinor:
      *v = p.minor;
      return cudaSuccess;
    case cudaDevAttrMaxSharedMemoryPerBlockOptin:
      *v = static_cast<int>(p.sharedMemPerBlockOptin);
      return cudaSuccess;
  }
  return set_error(cudaErrorInvalidValue,
                   "cudaDeviceGetAttribute: an attribute the emulator does not model");
}

cudaError_t cudaDeviceSynchronize() {
  auto& r = rt();
  r.drain(r.legacy);
  // Streams are not tracked globally: each is drained by its own synchronization. The
  // legacy stream is what this call promises for code that uses no other.
  return cudaSuccess;
}

cudaError_t cudaGetLastError() {
  const cudaError_t e = turbine::cudaemu::tl_last_error;
  turbine::cudaemu::tl_last_error = cudaSuccess;
  return e;
}
cudaError_t cudaPeekAtLastError() {
  return turbine::cudaemu::tl_last_error;
}

const char* cudaGetErrorName(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "cudaSuccess";
    case cudaErrorInvalidValue:
      return "cudaErrorInvalidValue";
    case cudaErrorMemoryAllocation:
      return "cudaErrorMemoryAllocation";
    case cudaErrorInitializationError:
      return "cudaErrorInitializationError";
    case cudaErrorInvalidConfiguration:
      return "cudaErrorInvalidConfiguration";
    case cudaErrorInvalidDevicePointer:
      return "cudaErrorInvalidDevicePointer";
    case cudaErrorInvalidMemcpyDirection:
      return "cudaErrorInvalidMemcpyDirection";
    case cudaErrorNoDevice:
      return "cudaErrorNoDevice";
    case cudaErrorInvalidDevice:
      return "cudaErrorInvalidDevice";
    case cudaErrorInvalidResourceHandle:
      return "cudaErrorInvalidResourceHandle";
    case cudaErrorIllegalState:
      return "cudaErrorIllegalState";
    case cudaErrorNotReady:
      return "cudaErrorNotReady";
    case cudaErrorLaunchFailure:
      return "cudaErrorLaunchFailure";
    case cudaErrorStreamCaptureUnsupported:
      return "cudaErrorStreamCaptureUnsupported";
    case cudaErrorStreamCaptureInvalidated:
      return "cudaErrorStreamCaptureInvalidated";
  }
  return "cudaErrorUnknown";
}
const char* cudaGetErrorString(cudaError_t e) {
  switch (e) {
    case cudaSuccess:
      return "no error";
    case cudaErrorInvalidValue:
      return "invalid argument";
    case cudaErrorMemoryAllocation:
      return "out of memory";
    case cudaErrorInvalidConfiguration:
      return "invalid configuration argument";
    case cudaErrorInvalidDevicePointer:
      return "invalid device pointer";
    case cudaErrorInvalidMemcpyDirection:
      return "invalid copy direction for memcpy";
    case cudaErrorNoDevice:
      return "no CUDA-capable device is detected";
    case cudaErrorInvalidDevice:
      return "invalid device ordinal";
    case cudaErrorStreamCaptureUnsupported:
      return "operation not permitted when stream is capturing";
    case cudaErrorStreamCaptureInvalidated:
      return "operation failed due to a previous error during capture";
    default:
      return cudaGetErrorName(e);
  }
}

cudaError_t cudaMalloc(void** p, size_t bytes) {
  auto& r = rt();
  std::lock_guard<std::recursive_mutex> l(r.mu);
  if (r.allocated + bytes > r.total_memory) {
    *p = nullptr;
    return set_error(cudaErrorMemoryAllocation,
                     "cudaMalloc of " + std::to_string(bytes >> 20) + " MiB with " +
                         std::to_string((r.total_memory - r.allocated) >> 20) +
                         " MiB free (TURBINE_CUDA_EMU_MEMORY)");
  }
  // Exactly `bytes`, 256-aligned as cudaMalloc promises: an access past the end is an
  // AddressSanitizer report.
  void* q = nullptr;
  if (posix_memalign(&q, 256, std::max<size_t>(bytes, 1)) != 0) {
    *p = nullptr;
    return set_error(cudaErrorMemoryAllocation, "host memory for cudaMalloc");
  }
  std::memset(q, 0xff, bytes);  // device memory starts as garbage: NaN as floats, -1 as integers
  r.allocations[reinterpret_cast<uintptr_t>(q)] = bytes;
  r.allocated += bytes;
  *p = q;
  return cudaSuccess;
}

cudaError_t cudaFree(void* p) {
  if (!p) return cudaSuccess;
  auto& r = rt();
  std::lock_guard<std::recursive_mutex> l(r.mu);
  auto it = r.allocations.find(reinterpret_cast<uintptr_t>(p));
  if (it == r.allocations.end())
    return set_error(cudaErrorInvalidDevicePointer,
                     "cudaFree of a pointer cudaMalloc did not return");
  r.allocated -= it->second;
  r.allocations.erase(it);
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMallocHost(void** p, size_t bytes) {
  if (posix_memalign(p, 64, std::max<size_t>(bytes, 1)) != 0)
    return set_error(cudaErrorMemoryAllocation, "cudaMallocHost");
  return cudaSuccess;
}
cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

cudaError_t cudaMemGetInfo(size_t* free_bytes, size_t* total_bytes) {
  auto& r = rt();
  std::lock_guard<std::recursive_mutex> l(r.mu);
  *total_bytes = r.total_memory;
  *free_bytes = r.total_memory - r.allocated;
  return cudaSuccess;
}

namespace {

// The copy's direction must match where the pointers are.
cudaError_t check_copy(void* dst, const void* src, size_t n, cudaMemcpyKind kind,
                       const char* what) {
  auto& r = rt();
  std::lock_guard<std::recursive_mutex> l(r.mu);
  const bool dst_dev = r.is_device(dst, n), src_dev = r.is_device(src, n);
  bool ok = true;
  switch (kind) {
    case cudaMemcpyHostToDevice:
      ok = dst_dev && !src_dev;
      break;
    case cudaMemcpyDeviceToHost:
      ok = src_dev && !dst_dev;
      break;
    case cudaMemcpyDeviceToDevice:
      ok = src_dev && dst_dev;
      break;
    case cudaMemcpyHostToHost:
      ok = !src_dev && !dst_dev;
      break;
    case cudaMemcpyDefault:
      ok = true;
      break;
  }
  if (!ok)
    return set_error(
        cudaErrorInvalidValue,
        std::string(what) + " of " + std::to_string(n) + " bytes: the " +
            (kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice ? "destination"
                                                                                : "source") +
            " is not (wholly) device memory, or a host pointer was given as device memory");
  return cudaSuccess;
}

bool capturing(cudaStream_t s) {
  return rt().stream(s).capturing;
}

}  // namespace

cudaError_t cudaMemcpy(void* dst, const void* src, size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  if (cudaError_t e = check_copy(dst, src, n, kind, "cudaMemcpy"); e != cudaSuccess) return e;
  auto& r = rt();
  if (r.legacy.capturing)
    return set_error(cudaErrorStreamCaptureUnsupported, "cudaMemcpy while capturing");
  r.drain(r.legacy);  // a synchronous copy follows the legacy stream's work
  std::memcpy(dst, src, n);
  return cudaSuccess;
}

cudaError_t cudaMemcpyAsync(void* dst, const void* src, size_t n, cudaMemcpyKind kind,
                            cudaStream_t s) {
  if (n == 0) return cudaSuccess;
  if (cudaError_t e = check_copy(dst, src, n, kind, "cudaMemcpyAsync"); e != cudaSuccess) return e;
  rt().enqueue(s, [dst, src, n] { std::memcpy(dst, src, n); });
  return cudaSuccess;
}

cudaError_t cudaMemset(void* dst, int value, size_t n) {
  auto& r = rt();
  if (!r.is_device(dst, n))
    return set_error(cudaErrorInvalidValue, "cudaMemset of memory that is not the device's");
  r.drain(r.legacy);
  std::memset(dst, value, n);
  return cudaSuccess;
}

cudaError_t cudaMemsetAsync(void* dst, int value, size_t n, cudaStream_t s) {
  if (!rt().is_device(dst, n))
    return set_error(cudaErrorInvalidValue, "cudaMemsetAsync of memory that is not the device's");
  rt().enqueue(s, [dst, value, n] { std::memset(dst, value, n); });
  return cudaSuccess;
}

cudaError_t cudaStreamCreate(cudaStream_t* s) {
  return cudaStreamCreateWithFlags(s, cudaStreamDefault);
}
cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  *s = new CUstream_st;
  (*s)->flags = flags;
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s) return set_error(cudaErrorInvalidResourceHandle, "cudaStreamDestroy(0)");
  rt().drain(*s);  // destruction waits for queued work, as cudaStreamDestroy's does
  delete s;
  return cudaSuccess;
}
cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  if (capturing(s))
    return set_error(cudaErrorStreamCaptureUnsupported, "cudaStreamSynchronize while capturing");
  rt().drain(rt().stream(s));
  return cudaSuccess;
}
cudaError_t cudaStreamQuery(cudaStream_t s) {
  std::lock_guard<std::recursive_mutex> l(rt().mu);
  return rt().stream(s).work.empty() ? cudaSuccess : cudaErrorNotReady;
}

cudaError_t cudaEventCreate(cudaEvent_t* e) {
  *e = new CUevent_st;
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  delete e;
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  e->recorded = false;
  e->stream = s;
  rt().enqueue(s, [e] {
    e->recorded = true;
    e->at = std::chrono::steady_clock::now();
  });
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  rt().drain(rt().stream(e->stream));
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t a, cudaEvent_t b) {
  if (!a->recorded || !b->recorded)
    return set_error(cudaErrorNotReady, "cudaEventElapsedTime before both events completed");
  *ms = std::chrono::duration<float, std::milli>(b->at - a->at).count();
  return cudaSuccess;
}

cudaError_t cudaStreamBeginCapture(cudaStream_t s, cudaStreamCaptureMode) {
  if (!s) return set_error(cudaErrorStreamCaptureUnsupported, "capturing the legacy stream");
  std::lock_guard<std::recursive_mutex> l(rt().mu);
  if (s->capturing)
    return set_error(cudaErrorIllegalState, "cudaStreamBeginCapture on a capturing stream");
  s->capturing = true;
  s->captured.clear();
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t* g) {
  std::lock_guard<std::recursive_mutex> l(rt().mu);
  if (!s || !s->capturing)
    return set_error(cudaErrorIllegalState, "cudaStreamEndCapture without a capture");
  s->capturing = false;
  *g = new CUgraph_st{std::move(s->captured)};
  s->captured.clear();
  return cudaSuccess;
}
cudaError_t cudaStreamIsCapturing(cudaStream_t s, cudaStreamCaptureStatus* status) {
  *status = capturing(s) ? cudaStreamCaptureStatusActive : cudaStreamCaptureStatusNone;
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t* exec, cudaGraph_t g, unsigned long long) {
  *exec = new CUgraphExec_st{g->work};
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t exec, cudaStream_t s) {
  for (const auto& f : exec->work) rt().enqueue(s, f);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  delete g;
  return cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t exec) {
  delete exec;
  return cudaSuccess;
}
