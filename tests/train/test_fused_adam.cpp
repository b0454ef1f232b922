// The fused Adam/AdamW step against LibTorch's: same parameters and moments
// after several steps (float rounding apart), on the parallel, serial and
// fallback paths, and the same checkpoint state in both directions.
#include <gtest/gtest.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <sstream>

#include "train/fused_adam.h"

namespace fid::train {
namespace {

// A large parameter (split over threads), a small one, a scalar-like one and
// a transposed, non-contiguous one (LibTorch's operators).
std::vector<at::Tensor> make_params(uint64_t seed) {
  at::manual_seed(seed);
  std::vector<at::Tensor> ps = {at::randn({300, 700}), at::randn({37}), at::randn({1}), at::randn({9, 5}).t()};
  for (auto& p : ps) p.requires_grad_(true);
  return ps;
}

std::vector<at::Tensor> copy_params(const std::vector<at::Tensor>& ps) {
  std::vector<at::Tensor> out;
  for (const auto& p : ps) {
    // clone() keeps the transposed strides of the last parameter.
    out.push_back(p.detach().clone().requires_grad_(true));
  }
  return out;
}

void set_grads(std::vector<at::Tensor>& ps, int step) {
  at::manual_seed(1000 + step);
  for (auto& p : ps) p.mutable_grad() = at::randn_like(p) * (step % 2 ? 0.3 : 2.0);
}

double max_diff(const std::vector<at::Tensor>& a, const std::vector<at::Tensor>& b) {
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, (a[i].detach() - b[i].detach()).abs().max().item<double>());
  return worst;
}

template <class Fused, class Reference, class Options>
void expect_same_steps(const Options& options, int steps) {
  auto fused_params = make_params(7), ref_params = copy_params(fused_params);
  const auto start = copy_params(fused_params);
  Fused fused(fused_params, options);
  Reference ref(ref_params, options);
  for (int s = 0; s < steps; ++s) {
    set_grads(fused_params, s);
    set_grads(ref_params, s);
    fused.step();
    ref.step();
  }
  // Updates are ~lr per step; the two agree to float rounding.
  EXPECT_GT(max_diff(fused_params, start), 0.5 * options.lr());
  EXPECT_LT(max_diff(fused_params, ref_params), 1e-6);
}

TEST(FusedAdam, AdamWMatchesLibTorch) {
  expect_same_steps<FusedAdamW, torch::optim::AdamW>(torch::optim::AdamWOptions(1e-3).weight_decay(0.1), 6);
  expect_same_steps<FusedAdamW, torch::optim::AdamW>(torch::optim::AdamWOptions(5e-2).weight_decay(0), 6);
}

TEST(FusedAdam, AdamMatchesLibTorchWithAndWithoutL2) {
  expect_same_steps<FusedAdam, torch::optim::Adam>(torch::optim::AdamOptions(1e-3), 6);
  expect_same_steps<FusedAdam, torch::optim::Adam>(torch::optim::AdamOptions(1e-3).weight_decay(0.05), 6);
}

TEST(FusedAdam, AmsgradTakesLibTorchsStep) {
  expect_same_steps<FusedAdamW, torch::optim::AdamW>(torch::optim::AdamWOptions(1e-2).amsgrad(true), 4);
}

// `to` takes `from`'s state through the bytes of a checkpoint archive.
void transfer_state(const torch::optim::Optimizer& from, torch::optim::Optimizer& to) {
  torch::serialize::OutputArchive out;
  from.save(out);
  std::ostringstream bytes;
  out.save_to(bytes);
  std::istringstream in_bytes(bytes.str());
  torch::serialize::InputArchive in;
  in.load_from(in_bytes);
  to.load(in);
}

TEST(FusedAdam, StateRoundTripsThroughLibTorchsCheckpointFormat) {
  const auto options = torch::optim::AdamWOptions(1e-2).weight_decay(0.1);
  auto a = make_params(3);
  FusedAdamW fused(a, options);
  for (int s = 0; s < 3; ++s) set_grads(a, s), fused.step();

  // Fused -> LibTorch: the restored optimizer continues at step 4, as the
  // fused one does (a lost state would restart the bias correction).
  auto b = copy_params(a);
  torch::optim::AdamW ref(b, options);
  transfer_state(fused, ref);
  set_grads(a, 3), set_grads(b, 3);
  fused.step();
  ref.step();
  EXPECT_LT(max_diff(a, b), 1e-6);
  const auto& state = static_cast<const torch::optim::AdamWParamState&>(
      *ref.state().at(optimizer_state_key(b[0])));
  EXPECT_EQ(state.step(), 4);

  // LibTorch -> fused.
  auto c = copy_params(b);
  FusedAdamW fused2(c, options);
  transfer_state(ref, fused2);
  set_grads(b, 4), set_grads(c, 4);
  ref.step();
  fused2.step();
  EXPECT_LT(max_diff(b, c), 1e-6);
  EXPECT_GT(max_diff(c, a), 1e-4);  // it moved on from where `a` stopped
}

}  // namespace
}  // namespace fid::train
