#include "model/batched_matmul.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <dlfcn.h>

#include <climits>
#include <mutex>

#include "model/autocast.h"

namespace fid::model {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

// The BLAS that LibTorch loaded (libblas.so.3), found at run time: OpenBLAS's
// own thread pool must be set to one thread while the products run on the
// intra-op threads, and only OpenBLAS has that setter.
struct Blas {
  using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*,
                         const float*, const int*, const float*, const int*, const float*, float*, const int*);
  using Sgemv = void (*)(const char*, const int*, const int*, const float*, const float*, const int*, const float*,
                         const int*, const float*, float*, const int*);
  Sgemm sgemm = nullptr;
  Sgemv sgemv = nullptr;
  void (*set_threads)(int) = nullptr;
  int (*get_threads)() = nullptr;
};

const Blas* openblas() {
  static const Blas blas = [] {
    Blas b;
    b.sgemm = reinterpret_cast<Blas::Sgemm>(dlsym(RTLD_DEFAULT, "sgemm_"));
    b.sgemv = reinterpret_cast<Blas::Sgemv>(dlsym(RTLD_DEFAULT, "sgemv_"));
    b.set_threads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
    b.get_threads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    return b;
  }();
  return blas.sgemm && blas.sgemv && blas.set_threads && blas.get_threads ? &blas : nullptr;
}

// One row-major operand X (rows, cols) as BLAS (column-major) sees it: the
// memory read column-major with leading dimension `ld` is X^T when X is
// row-major (flag 'N' gives X^T) and X when it is column-major ('T').
struct Operand {
  char trans;
  int ld;
};
bool blas_operand(const at::Tensor& x, Operand* op) {
  const int64_t rows = x.size(1), cols = x.size(2), s_row = x.stride(1), s_col = x.stride(2);
  if (s_col == 1 && s_row >= std::max<int64_t>(1, cols) && s_row <= INT_MAX) {
    *op = {'N', static_cast<int>(s_row)};
    return true;
  }
  if (s_row == 1 && s_col >= std::max<int64_t>(1, rows) && s_col <= INT_MAX) {
    *op = {'T', static_cast<int>(s_col)};
    return true;
  }
  return false;
}

// c (Bt, M, N) contiguous = a @ b, the batch split over the intra-op threads.
at::Tensor parallel_bmm(at::Tensor a, at::Tensor b) {
  RECORD_FUNCTION("fid::batched_matmul", std::vector<c10::IValue>({a, b}));
  Operand oa{}, ob{};
  if (!blas_operand(a, &oa)) a = a.contiguous(), blas_operand(a, &oa);
  if (!blas_operand(b, &ob)) b = b.contiguous(), blas_operand(b, &ob);
  // A single-row a is a vector for sgemv: it needs a positive element stride.
  if (a.size(1) == 1 && (a.stride(2) < 1 || a.stride(2) > INT_MAX)) a = a.contiguous(), blas_operand(a, &oa);
  const int64_t bt = a.size(0), m = a.size(1), k = a.size(2), n = b.size(2);
  at::Tensor c = at::empty({bt, m, n}, a.options());
  const Blas& blas = *openblas();
  const float *ap = a.data_ptr<float>(), *bp = b.data_ptr<float>();
  float* cp = c.data_ptr<float>();
  const int64_t sa = a.stride(0), sb = b.stride(0);
  const int mi = static_cast<int>(m), ni = static_cast<int>(n), ki = static_cast<int>(k), ldc = std::max(1, ni);
  // Row-major C = A B is column-major C^T = B^T A^T: BLAS gets b first.
  static std::mutex threads_mutex;  // the BLAS thread count is process-wide
  std::lock_guard<std::mutex> lock(threads_mutex);
  const int before = blas.get_threads();
  blas.set_threads(1);
  at::parallel_for(0, bt, 1, [&](int64_t begin, int64_t end) {
    const float one = 1.0f, zero = 0.0f;
    if (m == 1) {
      // A single row (a decoding step): c^T = B^T a^T as a matrix-vector
      // product, which reads B once instead of packing it for a GEMM. BLAS's
      // view of b is B^T (N x K) for 'N' and B (K x N) for 'T'.
      const int inc_a = static_cast<int>(a.stride(2)), inc_c = 1;
      const int rows = ob.trans == 'N' ? ni : ki, cols = ob.trans == 'N' ? ki : ni;
      for (int64_t i = begin; i < end; ++i)
        blas.sgemv(&ob.trans, &rows, &cols, &one, bp + i * sb, &ob.ld, ap + i * sa, &inc_a, &zero, cp + i * n,
                   &inc_c);
      return;
    }
    for (int64_t i = begin; i < end; ++i)
      blas.sgemm(&ob.trans, &oa.trans, &ni, &mi, &ki, &one, bp + i * sb, &ob.ld, ap + i * sa, &oa.ld, &zero,
                 cp + i * m * n, &ldc);
  });
  blas.set_threads(before);
  return c;
}

class BatchedMatmulFn : public torch::autograd::Function<BatchedMatmulFn> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b) {
    ctx->save_for_backward({a, b});
    return parallel_bmm(a, b);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    const at::Tensor &a = saved[0], &b = saved[1], &g = grads[0];
    if (!g.defined()) return {at::Tensor(), at::Tensor()};
    // dA = dC B^T, dB = A^T dC: transposed views, no copies.
    at::Tensor da = ctx->needs_input_grad(0) ? parallel_bmm(g, b.transpose(1, 2)) : at::Tensor();
    at::Tensor db = ctx->needs_input_grad(1) ? parallel_bmm(a.transpose(1, 2), g) : at::Tensor();
    return {da, db};
  }
};

bool usable(const at::Tensor& a, const at::Tensor& b) {
  return a.scalar_type() == at::kFloat && b.scalar_type() == at::kFloat && a.device().is_cpu() &&
         b.device().is_cpu() && a.dim() == 3 && b.dim() == 3 && a.size(0) == b.size(0) && a.size(2) == b.size(1) &&
         a.numel() > 0 && b.numel() > 0 && a.size(1) <= INT_MAX && a.size(2) <= INT_MAX && b.size(2) <= INT_MAX &&
         !autocast_flags(c10::DeviceType::CPU).enabled && batched_matmul_is_parallel();
}

}  // namespace

bool batched_matmul_is_parallel() {
  return openblas() != nullptr && at::get_num_threads() > 1 && !at::in_parallel_region();
}

at::Tensor batched_matmul(const at::Tensor& a, const at::Tensor& b) {
  if (!usable(a, b)) return at::bmm(a, b);
  return BatchedMatmulFn::apply(a, b);
}

}  // namespace fid::model
