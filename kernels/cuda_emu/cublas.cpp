// cuBLAS in the emulated build: cublasGemmEx by a reference GEMM on the handle's stream,
// after the checks cuBLAS documents (a failure is a status and a line on stderr, as a
// debugging build of cuBLAS would print).
#include <cstdio>
#include <string>
#include <vector>

#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>

struct cublasContext {
  cudaStream_t stream = nullptr;
};

namespace {

cublasStatus_t bad(cublasStatus_t s, const std::string& why) {
  std::fprintf(stderr, "cuda-emu: cublasGemmEx: %s\n", why.c_str());
  return s;
}

size_t elem_bytes(cudaDataType_t t) {
  return t == CUDA_R_32F ? 4 : 2;
}

float load(cudaDataType_t t, const void* base, size_t i) {
  switch (t) {
    case CUDA_R_32F:
      return static_cast<const float*>(base)[i];
    case CUDA_R_16F:
      return __half2float(static_cast<const __half*>(base)[i]);
    case CUDA_R_16BF:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(base)[i]);
  }
  return 0.f;
}

// Rows of op(X) as a dense row-major float matrix [rows][depth]: row r holds
// op(X)(r, 0..depth), for a column-major X (X(i, j) = x[i + j * ld]).
std::vector<float> rows_of(cudaDataType_t t, const void* x, int ld, bool trans, int rows,
                           int depth) {
  std::vector<float> out(size_t(rows) * depth);
  for (int r = 0; r < rows; ++r)
    for (int d = 0; d < depth; ++d) {
      // op(X)(r, d) is X(r, d), or X(d, r) transposed.
      const size_t idx = trans ? size_t(d) + size_t(r) * ld : size_t(r) + size_t(d) * ld;
      out[size_t(r) * depth + d] = load(t, x, idx);
    }
  return out;
}

}  // namespace

cublasStatus_t cublasCreate(cublasHandle_t* h) {
  *h = new cublasContext;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasDestroy(cublasHandle_t h) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  delete h;
  return CUBLAS_STATUS_SUCCESS;
}
cublasStatus_t cublasSetStream(cublasHandle_t h, cudaStream_t s) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  h->stream = s;
  return CUBLAS_STATUS_SUCCESS;
}

cublasStatus_t cublasGemmEx(cublasHandle_t h, cublasOperation_t transa, cublasOperation_t transb,
                            int m, int n, int k, const void* alpha, const void* A,
                            cudaDataType_t at, int lda, const void* B, cudaDataType_t bt, int ldb,
                            const void* beta, void* C, cudaDataType_t ct, int ldc,
                            cublasComputeType_t compute, cublasGemmAlgo_t) {
  if (!h) return CUBLAS_STATUS_NOT_INITIALIZED;
  if (m < 0 || n < 0 || k < 0) return bad(CUBLAS_STATUS_INVALID_VALUE, "m, n and k must be >= 0");
  if (transa == CUBLAS_OP_C || transb == CUBLAS_OP_C)
    return bad(CUBLAS_STATUS_NOT_SUPPORTED, "conjugate transposes are not emulated");
  const bool ta = transa == CUBLAS_OP_T, tb = transb == CUBLAS_OP_T;
  // Stored shapes (column-major): A is m x k, or k x m transposed; B k x n, or n x k.
  const int a_rows = ta ? k : m, a_cols = ta ? m : k;
  const int b_rows = tb ? n : k, b_cols = tb ? k : n;
  if (lda < std::max(1, a_rows))
    return bad(CUBLAS_STATUS_INVALID_VALUE,
               "lda " + std::to_string(lda) + " < rows of A " + std::to_string(a_rows));
  if (ldb < std::max(1, b_rows))
    return bad(CUBLAS_STATUS_INVALID_VALUE,
               "ldb " + std::to_string(ldb) + " < rows of B " + std::to_string(b_rows));
  if (ldc < std::max(1, m))
    return bad(CUBLAS_STATUS_INVALID_VALUE, "ldc " + std::to_string(ldc) + " < m");
  const auto type_ok = [](cudaDataType_t t) {
    return t == CUDA_R_32F || t == CUDA_R_16F || t == CUDA_R_16BF;
  };
  if (!type_ok(at) || !type_ok(bt) || at != bt)
    return bad(CUBLAS_STATUS_NOT_SUPPORTED, "A and B must have one type of 32F, 16F or 16BF");
  if (ct != CUDA_R_32F && ct != at)
    return bad(CUBLAS_STATUS_NOT_SUPPORTED, "C must be 32F or A's type");
  if (compute != CUBLAS_COMPUTE_32F && compute != CUBLAS_COMPUTE_32F_FAST_16F)
    return bad(CUBLAS_STATUS_NOT_SUPPORTED, "only 32F compute is emulated");
  if (m == 0 || n == 0) return CUBLAS_STATUS_SUCCESS;
  // Scalars are host memory (the default pointer mode), read now.
  const float al = *static_cast<const float*>(alpha), be = *static_cast<const float*>(beta);
  // Every element the GEMM touches lies in device memory.
  const size_t a_span = (size_t(lda) * (a_cols - 1) + a_rows) * elem_bytes(at);
  const size_t b_span = (size_t(ldb) * (b_cols - 1) + b_rows) * elem_bytes(bt);
  const size_t c_span = (size_t(ldc) * (n - 1) + m) * elem_bytes(ct);
  if (k > 0 && !turbine::cudaemu::is_device_memory(A, a_span))
    return bad(CUBLAS_STATUS_INVALID_VALUE, "A is not device memory of the size lda and k imply");
  if (k > 0 && !turbine::cudaemu::is_device_memory(B, b_span))
    return bad(CUBLAS_STATUS_INVALID_VALUE, "B is not device memory of the size ldb and k imply");
  if (!turbine::cudaemu::is_device_memory(C, c_span))
    return bad(CUBLAS_STATUS_INVALID_VALUE, "C is not device memory of the size ldc and n imply");
  // The work itself runs in stream order, when the host synchronizes.
  struct Job {
    bool ta, tb;
    int m, n, k, lda, ldb, ldc;
    float al, be;
    const void *A, *B;
    void* C;
    cudaDataType_t at, ct;
  };
  const Job j{ta, tb, m, n, k, lda, ldb, ldc, al, be, A, B, C, at, ct};
  turbine::cudaemu::LaunchConfig cfg{reinterpret_cast<const void*>(&cublasGemmEx),
                                     dim3(1),
                                     dim3(1),
                                     0,
                                     h->stream,
                                     std::source_location::current()};
  turbine::cudaemu::launch(cfg, [j] {
    if (threadIdx.x != 0) return;
    // C(i, j) = al * sum_d op(A)(i, d) op(B)(d, j) + be * C(i, j), float sums.
    const std::vector<float> a = rows_of(j.at, j.A, j.lda, j.ta, j.m, j.k);    // op(A) rows
    const std::vector<float> bt = rows_of(j.at, j.B, j.ldb, !j.tb, j.n, j.k);  // op(B) columns
    for (int c = 0; c < j.n; ++c)
      for (int r = 0; r < j.m; ++r) {
        const float* ar = a.data() + size_t(r) * j.k;
        const float* bc = bt.data() + size_t(c) * j.k;
        // Eight interleaved partial sums (cuBLAS documents no summation order; this one
        // lets the compiler use vector registers).
        float part[8] = {};
        int d = 0;
        for (; d + 8 <= j.k; d += 8)
          for (int q = 0; q < 8; ++q) part[q] += ar[d + q] * bc[d + q];
        float s = ((part[0] + part[1]) + (part[2] + part[3])) +
                  ((part[4] + part[5]) + (part[6] + part[7]));
        for (; d < j.k; ++d) s += ar[d] * bc[d];
        const size_t idx = size_t(r) + size_t(c) * j.ldc;
        if (j.ct == CUDA_R_32F) {
          float& out = static_cast<float*>(j.C)[idx];
          out = j.be == 0.f ? j.al * s : j.al * s + j.be * out;
        } else {
          const float prev = j.be == 0.f ? 0.f : load(j.ct, j.C, idx);
          const float v = j.al * s + j.be * prev;
          if (j.ct == CUDA_R_16F)
            static_cast<__half*>(j.C)[idx] = __float2half_rn(v);
          else
            static_cast<__nv_bfloat16*>(j.C)[idx] = __float2bfloat16_rn(v);
        }
      }
  });
  return CUBLAS_STATUS_SUCCESS;
}
