// Matvec throughput of the CPU backend (weight GB/s), per kernel family and weight type.
// Not part of the build; run by hand against a build tree, e.g.
//   c++ -O2 -std=c++20 -I. bench/kernels_cpu.cpp <build>/kernels/libturbine_kernels_cpu.a \
//       <build>/libturbine_base.a -lpthread -o kernels_cpu_bench && ./kernels_cpu_bench [threads]
// Shapes: SmolLM2-135M's FFN (576 -> 1536, 1536 -> 576), its tied output head, and a 7B
// FFN matrix that does not fit in cache (shows DRAM bandwidth).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "kernels/backend.h"
#include "kernels/cpu/cpu_kernels.h"
#include "kernels/quantize.h"

using namespace turbine;

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 0;
  struct Shape {
    int64_t rows, cols;
  } shapes[] = {{1536, 576}, {576, 1536}, {49152, 576}, {11008, 4096}};
  std::mt19937 rng(1);
  std::normal_distribution<float> nd;
  const char* only = std::getenv("BENCH_FAMILY");  // optional: one family only
  for (const char* fam : {"scalar", "avx2", "avx512vnni"}) {
    if (!cpu::family_supported(fam) || (only && std::strcmp(only, fam) != 0)) continue;
    setenv("TURBINE_CPU_KERNELS", fam, 1);
    auto be = make_cpu_backend(threads);
    for (DType t :
         {DType::kQ4_1, DType::kQ8_0, DType::kQ4_0, DType::kQ4_K, DType::kQ6_K, DType::kF16,
          DType::kQ5_0, DType::kQ5_1, DType::kQ2_K, DType::kQ3_K, DType::kQ5_K}) {
      for (const Shape& s : shapes) {
        if (s.cols % traits(t).block_elems != 0) continue;
        size_t rb = row_bytes(t, s.cols);
        std::vector<uint8_t> w(rb * s.rows);
        std::vector<float> row(s.cols);
        for (int64_t r = 0; r < s.rows; ++r) {
          for (auto& x : row) x = nd(rng);
          quantize_row(t, row.data(), &w[r * rb], s.cols);
        }
        Matrix m{t, w.data(), s.rows, s.cols, rb};
        for (int nt : {1, 8}) {
          std::vector<float> x(nt * s.cols), y(nt * s.rows);
          for (auto& v : x) v = nd(rng);
          be->matmul(m, x.data(), nt, y.data());  // warm up
          double bytes = double(w.size());
          int iters = std::max(3, int(2e9 / bytes / (strcmp(fam, "scalar") == 0 ? 8 : 1)));
          auto t0 = std::chrono::steady_clock::now();
          for (int i = 0; i < iters; ++i) be->matmul(m, x.data(), nt, y.data());
          double sec = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
          double us = sec / iters * 1e6;
          std::printf("%-10s %-5s %6lldx%-5lld nt=%d  %9.1f us  %7.2f GB/s weights\n", fam,
                      std::string(dtype_name(t)).c_str(), (long long)s.rows, (long long)s.cols, nt,
                      us, bytes / (sec / iters) / 1e9);
        }
      }
    }
  }
}
