// Flat-bucket gradient all-reduce and parameter broadcast. One collective per
// bucket instead of one per parameter: a T5 has ~130 parameter tensors, many
// of them small, and per-call latency dominates small messages.
#include "dist/grad_reducer.h"

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>

#include <map>
#include <tuple>

#include "common/error.h"

namespace fid::dist {
namespace {

int64_t tensor_bytes(const at::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); }

// A flat buffer for one bucket, on the device and in the dtype of its members.
at::Tensor make_flat(const std::vector<at::Tensor>& tensors, const std::vector<size_t>& members,
                     std::vector<int64_t>* offsets) {
  int64_t total = 0;
  offsets->clear();
  for (size_t i : members) {
    offsets->push_back(total);
    total += tensors[i].numel();
  }
  const at::Tensor& first = tensors[members.front()];
  return at::empty({total}, first.options().requires_grad(false));  // (total,)
}

}  // namespace

std::vector<std::vector<size_t>> plan_buckets(const std::vector<at::Tensor>& tensors,
                                              int64_t bucket_bytes) {
  FID_CHECK(bucket_bytes > 0, "bucket size must be positive, got ", bucket_bytes, " bytes");
  // One open bucket per (dtype, device); closed when the next tensor would overflow it.
  using Key = std::tuple<int, int, int>;
  std::map<Key, std::pair<size_t, int64_t>> open;  // key -> (bucket index, bytes so far)
  std::vector<std::vector<size_t>> buckets;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    FID_CHECK(t.defined(), "parameter ", i, " is an undefined tensor");
    const Key key{static_cast<int>(t.scalar_type()), static_cast<int>(t.device().type()),
                  static_cast<int>(t.device().index())};
    const int64_t bytes = tensor_bytes(t);
    auto it = open.find(key);
    if (it == open.end() || it->second.second + bytes > bucket_bytes) {
      buckets.push_back({i});
      open[key] = {buckets.size() - 1, bytes};
    } else {
      buckets[it->second.first].push_back(i);
      it->second.second += bytes;
    }
  }
  return buckets;
}

GradReducer::GradReducer(Communicator& comm, std::vector<at::Tensor> params, int64_t bucket_bytes)
    : comm_(comm), params_(std::move(params)) {
  for (auto& members : plan_buckets(params_, bucket_bytes)) {
    Bucket b;
    b.members = std::move(members);
    buckets_.push_back(std::move(b));
  }
}

void GradReducer::reduce(double divisor) {
  FID_CHECK(divisor > 0, "gradient divisor must be positive, got ", divisor);
  at::NoGradGuard no_grad;
  if (comm_.size() == 1) {
    // The reduction is the identity: only the division remains.
    if (divisor != 1.0) {
      for (at::Tensor& p : params_) {
        if (p.grad().defined()) p.mutable_grad().div_(divisor);
      }
    }
    return;
  }
  // Which parameters have a gradient on some rank (1) or on none (0).
  at::Tensor used = at::zeros({static_cast<int64_t>(params_.size())}, at::kInt);  // (P,)
  auto* used_data = used.data_ptr<int32_t>();
  for (size_t i = 0; i < params_.size(); ++i) used_data[i] = params_[i].grad().defined() ? 1 : 0;
  comm_.all_reduce(used, ReduceOp::kMax);

  for (Bucket& b : buckets_) {
    if (!b.flat.defined()) b.flat = make_flat(params_, b.members, &b.offsets);
    for (size_t k = 0; k < b.members.size(); ++k) {
      const at::Tensor& p = params_[b.members[k]];
      at::Tensor slot = b.flat.narrow(0, b.offsets[k], p.numel());
      if (p.grad().defined()) {
        slot.copy_(p.grad().reshape({-1}));
      } else {
        slot.zero_();
      }
    }
    comm_.all_reduce(b.flat, ReduceOp::kSum);
    b.flat.div_(divisor);
    for (size_t k = 0; k < b.members.size(); ++k) {
      at::Tensor& p = params_[b.members[k]];
      if (used_data[b.members[k]] == 0) continue;
      at::Tensor slot = b.flat.narrow(0, b.offsets[k], p.numel()).view(p.sizes());
      if (p.grad().defined()) {
        p.mutable_grad().copy_(slot);
      } else {
        p.mutable_grad() = slot.clone();
      }
    }
  }
}

void broadcast_parameters(Communicator& comm, const std::vector<at::Tensor>& tensors, int root,
                          int64_t bucket_bytes) {
  FID_CHECK(root >= 0 && root < comm.size(), "broadcast_parameters: root ", root,
            " is not a rank of a world of ", comm.size());
  if (comm.size() == 1) return;
  at::NoGradGuard no_grad;
  std::vector<int64_t> offsets;
  for (const auto& members : plan_buckets(tensors, bucket_bytes)) {
    at::Tensor flat = make_flat(tensors, members, &offsets);  // (total,)
    if (comm.rank() == root) {
      for (size_t k = 0; k < members.size(); ++k) {
        const at::Tensor& t = tensors[members[k]];
        flat.narrow(0, offsets[k], t.numel()).copy_(t.reshape({-1}));
      }
    }
    comm.broadcast(flat, root);
    if (comm.rank() == root) continue;
    for (size_t k = 0; k < members.size(); ++k) {
      at::Tensor t = tensors[members[k]];
      t.copy_(flat.narrow(0, offsets[k], t.numel()).view(t.sizes()));
    }
  }
}

}  // namespace fid::dist
