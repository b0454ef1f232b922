// Row-wise tensor gathers over the byte collectives. Each payload starts with
// a small header (dtype, rank of the tensor, sizes) so that every rank checks
// that all ranks sent compatible tensors before anything is concatenated.
#include "dist/collectives.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cstring>

namespace fid::dist {
namespace {

std::string pack(const at::Tensor& t) {
  FID_CHECK(t.dim() >= 1, "row gathers need a tensor with at least one dimension");
  at::Tensor cpu = t.to(at::kCPU).contiguous();
  std::vector<int64_t> header{static_cast<int64_t>(cpu.scalar_type()), cpu.dim()};
  for (int64_t s : cpu.sizes()) header.push_back(s);
  std::string out = detail::to_bytes(header);
  out.append(static_cast<const char*>(cpu.data_ptr()),
             static_cast<size_t>(cpu.numel()) * cpu.element_size());
  return out;
}

struct Parsed {
  at::ScalarType dtype;
  std::vector<int64_t> sizes;
  const char* data;
};

Parsed parse(const std::string& payload, int rank) {
  FID_CHECK(payload.size() >= 2 * sizeof(int64_t), "row gather: short payload from rank ", rank);
  int64_t head[2];
  std::memcpy(head, payload.data(), sizeof head);
  const int64_t dim = head[1];
  FID_CHECK(dim >= 1 && dim <= 64 && payload.size() >= (2 + dim) * sizeof(int64_t),
            "row gather: bad header from rank ", rank);
  Parsed p{static_cast<at::ScalarType>(head[0]), std::vector<int64_t>(dim),
           payload.data() + (2 + dim) * sizeof(int64_t)};
  std::memcpy(p.sizes.data(), payload.data() + 2 * sizeof(int64_t), dim * sizeof(int64_t));
  return p;
}

// Concatenates the payloads of all ranks; every rank runs the same checks on
// the same headers, so a mismatch throws on all of them alike.
at::Tensor unpack(const std::vector<std::string>& payloads, std::vector<int64_t>* counts) {
  std::vector<Parsed> parts;
  for (size_t r = 0; r < payloads.size(); ++r) parts.push_back(parse(payloads[r], static_cast<int>(r)));
  const Parsed& first = parts.front();
  int64_t rows = 0;
  if (counts) counts->clear();
  for (size_t r = 0; r < parts.size(); ++r) {
    FID_CHECK(parts[r].dtype == first.dtype, "row gather: rank ", r, " sent ",
              c10::toString(parts[r].dtype), " but rank 0 sent ", c10::toString(first.dtype));
    FID_CHECK(parts[r].sizes.size() == first.sizes.size() &&
                  std::equal(parts[r].sizes.begin() + 1, parts[r].sizes.end(),
                             first.sizes.begin() + 1),
              "row gather: rank ", r, " sent rows of shape ", at::IntArrayRef(parts[r].sizes),
              " but rank 0 sent ", at::IntArrayRef(first.sizes), " (all but dim 0 must match)");
    rows += parts[r].sizes[0];
    if (counts) counts->push_back(parts[r].sizes[0]);
  }
  std::vector<int64_t> shape = first.sizes;
  shape[0] = rows;
  at::Tensor out = at::empty(shape, at::TensorOptions().dtype(first.dtype));  // (sum n_r, ...rest)
  char* dst = static_cast<char*>(out.data_ptr());
  const int64_t row_bytes = rows == 0 ? 0 : out.numel() / rows * out.element_size();
  for (const Parsed& p : parts) {
    const int64_t bytes = p.sizes[0] * row_bytes;
    if (bytes > 0) std::memcpy(dst, p.data, static_cast<size_t>(bytes));
    dst += bytes;
  }
  return out;
}

}  // namespace

at::Tensor all_gather_rows(Communicator& comm, const at::Tensor& t, std::vector<int64_t>* counts) {
  return unpack(comm.all_gather_bytes(pack(t)), counts);
}

at::Tensor gather_rows(Communicator& comm, const at::Tensor& t, int root,
                       std::vector<int64_t>* counts) {
  std::vector<std::string> payloads = comm.gather_bytes(pack(t), root);
  if (counts) counts->clear();
  if (payloads.empty()) return at::Tensor();
  return unpack(payloads, counts);
}

at::Tensor all_gather_tensor(Communicator& comm, const at::Tensor& t) {
  // Leading dims of 1 make the rest-of-shape check a whole-shape check.
  return all_gather_rows(comm, t.unsqueeze(0));  // (W, ...shape)
}

std::vector<WeightedMean> weighted_averages(Communicator& comm, const std::vector<double>& values,
                                            const std::vector<double>& weights) {
  FID_CHECK_EQ(values.size(), weights.size(), "weighted_averages: one weight per value");
  const size_t n = values.size();
  // [sum value*weight ..., sum weight ...] in one all-reduce.
  std::vector<double> sums(2 * n);
  for (size_t i = 0; i < n; ++i) {
    sums[i] = values[i] * weights[i];
    sums[n + i] = weights[i];
  }
  comm.all_reduce_doubles(sums, ReduceOp::kSum);
  std::vector<WeightedMean> out(n);
  for (size_t i = 0; i < n; ++i) {
    out[i].weight = sums[n + i];
    out[i].mean = sums[n + i] == 0.0 ? 0.0 : sums[i] / sums[n + i];
  }
  return out;
}

WeightedMean weighted_average(Communicator& comm, double value, double weight) {
  return weighted_averages(comm, {value}, {weight}).front();
}

}  // namespace fid::dist
