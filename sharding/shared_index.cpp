#include "sharding/shared_index.h"

#include <algorithm>
#include <cstring>
#include <numeric>
#include <random>

#include "common/error.h"
#include "common/log.h"
#include "dist/communicator.h"

namespace fid::sharding {

IdMap::IdMap(std::vector<RowRange> ranges) : ranges_(std::move(ranges)) {
  for (const auto& r : ranges_) {
    starts_.push_back(total_);
    total_ += r.size();
  }
}

int64_t IdMap::global_id(int64_t local) const {
  if (local < 0) return -1;
  FID_CHECK(local < total_, "index label ", local, " beyond the ", total_, " vectors of this rank");
  // The last range starting at or before `local`.
  auto it = std::upper_bound(starts_.begin(), starts_.end(), local);
  const size_t i = static_cast<size_t>(it - starts_.begin()) - 1;
  return ranges_[i].begin + (local - starts_[i]);
}

std::vector<float> gather_training_sample(dist::Communicator& comm, const float* local_vectors,
                                          int64_t local_n, int64_t dim, int64_t total_sample,
                                          uint64_t seed) {
  const int64_t all_n = dist::all_reduce_sum(comm, local_n);
  FID_CHECK(all_n > 0, "no vectors to train the index on (are the shards empty?)");
  // This rank's share, rounded so the shares add up to about total_sample.
  int64_t want = total_sample >= all_n
                     ? local_n
                     : static_cast<int64_t>(static_cast<double>(total_sample) * local_n / all_n + 0.5);
  want = std::min(want, local_n);
  std::vector<int64_t> rows(static_cast<size_t>(local_n));
  std::iota(rows.begin(), rows.end(), 0);
  std::mt19937_64 rng(seed + static_cast<uint64_t>(comm.rank()) * 0x9e3779b97f4a7c15ULL);
  // Partial Fisher-Yates: the first `want` rows are a uniform sample.
  for (int64_t i = 0; i < want; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, local_n - 1);
    std::swap(rows[i], rows[pick(rng)]);
  }
  std::sort(rows.begin(), rows.begin() + want);
  std::string bytes(static_cast<size_t>(want * dim) * sizeof(float), '\0');
  for (int64_t i = 0; i < want; ++i) {
    std::memcpy(bytes.data() + static_cast<size_t>(i * dim) * sizeof(float),
                local_vectors + rows[i] * dim, static_cast<size_t>(dim) * sizeof(float));
  }
  std::vector<std::string> parts = comm.gather_bytes(bytes, 0);
  std::vector<float> sample;
  if (comm.rank() == 0) {
    size_t total = 0;
    for (const auto& p : parts) total += p.size();
    sample.resize(total / sizeof(float));
    size_t off = 0;
    for (const auto& p : parts) {
      std::memcpy(reinterpret_cast<char*>(sample.data()) + off, p.data(), p.size());
      off += p.size();
    }
  }
  return sample;
}

index::DenseIndex train_shared_index(dist::Communicator& comm, const index::IndexParams& params,
                                     const std::vector<float>& sample) {
  std::string bytes;
  std::string error;
  if (comm.rank() == 0) {
    // A failure on rank 0 must reach the others, which wait in the broadcast.
    try {
      index::DenseIndex idx(params);
      const int64_t n = static_cast<int64_t>(sample.size()) / params.dim;
      log::info("training ", params.describe(), " on ", n, " vectors");
      idx.train(sample.data(), n);
      bytes = idx.serialize();
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  std::string status = error.empty() ? "ok" : error;
  comm.broadcast_bytes(status, 0);
  FID_CHECK(status == "ok", "training the shared index on rank 0 failed: ", status);
  comm.broadcast_bytes(bytes, 0);
  index::DenseIndex out = index::DenseIndex::deserialize(bytes, params);
  FID_CHECK(out.is_trained() && out.size() == 0, "the shared index from rank 0 is not a trained ",
            "empty index");
  return out;
}

}  // namespace fid::sharding
