// Typed collectives built on the Communicator's byte collectives: tensors
// gathered row-wise (retrieval all-gathers query embeddings, each rank with its
// own number of queries) and vectors of plain values (scores, ids, records).
// They work on every backend, since byte collectives always go through MPI.
#pragma once
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"
#include "dist/communicator.h"

namespace at { class Tensor; }

namespace fid::dist {

// Every rank passes a tensor of the same shape and dtype; every rank gets
// them stacked in rank order: (W, ...shape), on the CPU.
at::Tensor all_gather_tensor(Communicator& comm, const at::Tensor& t);

// Rank r passes (n_r, ...rest) (n_r may be 0; rest and dtype equal on all
// ranks). Every rank gets (sum n_r, ...rest) in rank order, on the CPU;
// `counts`, when given, receives n_0 … n_{W-1}.
at::Tensor all_gather_rows(Communicator& comm, const at::Tensor& t,
                           std::vector<int64_t>* counts = nullptr);
// As all_gather_rows, but only `root` gets the rows (others: an undefined
// tensor and empty counts).
at::Tensor gather_rows(Communicator& comm, const at::Tensor& t, int root,
                       std::vector<int64_t>* counts = nullptr);

// A metric averaged over ranks with weights (examples, tokens): the same
// value on every rank, unlike the seed, where only the main rank is right.
struct WeightedMean {
  double mean = 0.0;    // sum(value * weight) / sum(weight); 0 when the weight is 0
  double weight = 0.0;  // sum(weight) over ranks
};
WeightedMean weighted_average(Communicator& comm, double value, double weight);
// Several metrics in one collective; values[i] is weighted by weights[i].
std::vector<WeightedMean> weighted_averages(Communicator& comm, const std::vector<double>& values,
                                            const std::vector<double>& weights);

namespace detail {
template <typename T>
std::string to_bytes(const std::vector<T>& v) {
  static_assert(std::is_trivially_copyable_v<T>, "byte collectives copy plain values only");
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
template <typename T>
std::vector<T> from_bytes(const std::string& bytes) {
  FID_CHECK(bytes.size() % sizeof(T) == 0, "gathered payload of ", bytes.size(),
            " bytes is not a whole number of ", sizeof(T), "-byte values");
  std::vector<T> v(bytes.size() / sizeof(T));
  if (!v.empty()) std::memcpy(v.data(), bytes.data(), bytes.size());
  return v;
}
}  // namespace detail

// Every rank gets every rank's vector, in rank order (lengths may differ).
template <typename T>
std::vector<std::vector<T>> all_gather_vectors(Communicator& comm, const std::vector<T>& mine) {
  std::vector<std::vector<T>> out;
  for (const std::string& b : comm.all_gather_bytes(detail::to_bytes(mine))) {
    out.push_back(detail::from_bytes<T>(b));
  }
  return out;
}

// Only `root` gets the vectors (in rank order); the others get none.
template <typename T>
std::vector<std::vector<T>> gather_vectors(Communicator& comm, const std::vector<T>& mine,
                                           int root) {
  std::vector<std::vector<T>> out;
  for (const std::string& b : comm.gather_bytes(detail::to_bytes(mine), root)) {
    out.push_back(detail::from_bytes<T>(b));
  }
  return out;
}

// Root's vector on every rank.
template <typename T>
std::vector<T> broadcast_vector(Communicator& comm, std::vector<T> v, int root = 0) {
  std::string bytes = detail::to_bytes(v);
  comm.broadcast_bytes(bytes, root);
  return detail::from_bytes<T>(bytes);
}

}  // namespace fid::dist
