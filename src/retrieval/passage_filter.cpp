#include "retrieval/passage_filter.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "common/error.h"
#include "common/log.h"
#include "dist/collectives.h"

namespace fid::retrieval {

float LinearClassifier::score(const float* x) const {
  double s = b;
  for (size_t j = 0; j < w.size(); ++j) s += static_cast<double>(w[j]) * x[j];
  return static_cast<float>(s);
}

LinearClassifier train_classifier(dist::Communicator& comm, const std::vector<float>& x,
                                  const std::vector<uint8_t>& label, int64_t dim,
                                  const ClassifierOptions& options) {
  const auto n = static_cast<int64_t>(label.size());
  FID_CHECK(static_cast<int64_t>(x.size()) == n * dim, "classifier examples: ", x.size(),
            " floats for ", n, " x ", dim);
  std::vector<int64_t> counts = {0, 0};
  for (uint8_t l : label) ++counts[l ? 0 : 1];
  comm.all_reduce_int64(counts, dist::ReduceOp::kSum);
  const int64_t pos = counts[0], neg = counts[1];
  FID_CHECK(pos > 0 && neg > 0, "the passage classifier needs positives and negatives, got ",
            pos, " and ", neg);
  at::Tensor X = at::zeros({n, dim}, at::kFloat);  // (n, dim)
  at::Tensor y = at::zeros({n}, at::kFloat);       // (n)
  if (n > 0) {
    std::memcpy(X.data_ptr<float>(), x.data(), x.size() * sizeof(float));
    float* yp = y.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) yp[i] = static_cast<float>(label[static_cast<size_t>(i)]);
  }
  // Each class weighs half of the loss, whatever the ratio of the counts.
  at::Tensor weight = at::where(y > 0.5, at::full({n}, 0.5 / pos, at::kFloat),
                                at::full({n}, 0.5 / neg, at::kFloat));  // (n)

  // Adam in double on the (dim + 1) parameters; the same on every rank
  // because the summed gradient is.
  const size_t p = static_cast<size_t>(dim) + 1;
  std::vector<double> theta(p, 0.0), m(p, 0.0), v(p, 0.0);
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::vector<double> red(p + 1);
  auto forward = [&](at::Tensor& z) {
    std::vector<float> wf(theta.begin(), theta.end() - 1);
    at::Tensor w = at::from_blob(wf.data(), {dim}, at::kFloat).clone();  // (dim)
    z = at::matmul(X, w) + static_cast<float>(theta.back());              // (n)
  };
  double loss = 0.0;
  for (int step = 1; step <= options.steps; ++step) {
    at::Tensor z;
    forward(z);
    at::Tensor g = (at::sigmoid(z) - y) * weight;  // (n) dLoss/dz
    at::Tensor gw = at::matmul(X.t(), g);          // (dim)
    // BCE with logits: log(1 + e^z) - y z.
    at::Tensor l = (weight * (at::softplus(z) - y * z)).sum();
    const float* gwp = gw.data_ptr<float>();
    for (size_t j = 0; j + 1 < p; ++j) red[j] = gwp[j];
    red[p - 1] = g.sum().item<double>();
    red[p] = l.item<double>();
    comm.all_reduce_doubles(red, dist::ReduceOp::kSum);
    loss = red[p];
    for (size_t j = 0; j < p; ++j) {
      const double grad = red[j] + (j + 1 < p ? options.weight_decay * theta[j] : 0.0);
      m[j] = beta1 * m[j] + (1 - beta1) * grad;
      v[j] = beta2 * v[j] + (1 - beta2) * grad * grad;
      const double mh = m[j] / (1 - std::pow(beta1, step));
      const double vh = v[j] / (1 - std::pow(beta2, step));
      theta[j] -= options.lr * mh / (std::sqrt(vh) + eps);
    }
    if (step == 1 || step % 100 == 0 || step == options.steps) {
      log::info("passage classifier step ", step, ": balanced loss ", loss);
    }
  }
  LinearClassifier c;
  c.w.assign(theta.begin(), theta.end() - 1);
  c.b = static_cast<float>(theta.back());
  // Balanced accuracy on the training set.
  at::Tensor z;
  forward(z);
  at::Tensor right = ((z > 0).to(at::kFloat) == y).to(at::kFloat);
  std::vector<double> acc = {(right * y * weight).sum().item<double>(),
                             (right * (1 - y) * weight).sum().item<double>()};
  comm.all_reduce_doubles(acc, dist::ReduceOp::kSum);
  c.accuracy = acc[0] + acc[1];  // each class's weights sum to 0.5
  c.loss = loss;
  return c;
}

double row_uniform(uint64_t seed, int64_t row) {
  // splitmix64 of (seed, row).
  uint64_t z = seed * 0x9e3779b97f4a7c15ULL + static_cast<uint64_t>(row) + 0x632be59bd9b4e019ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  z ^= z >> 31;
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

namespace {
// Floats to unsigned keys of the same order (finite values and infinities).
uint32_t order_key(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}
}  // namespace

std::vector<uint8_t> select_best(dist::Communicator& comm, const std::vector<float>& scores,
                                 int64_t keep, float* threshold) {
  std::vector<uint32_t> keys(scores.size());
  for (size_t i = 0; i < scores.size(); ++i) {
    FID_CHECK(!std::isnan(scores[i]), "passage score ", i, " is NaN");
    keys[i] = order_key(scores[i]);
  }
  const int64_t total = dist::all_reduce_sum(comm, static_cast<int64_t>(keys.size()));
  FID_CHECK(keep >= 1 && keep <= total, "keeping ", keep, " of ", total, " passages");
  auto count_at_least = [&](uint32_t t) {
    int64_t c = 0;
    for (uint32_t k : keys) c += k >= t;
    return dist::all_reduce_sum(comm, c);
  };
  // The largest key t with at least `keep` scores >= t: the keep-th best score
  // (32 rounds of one all-reduce, nothing gathered).
  uint32_t lo = 0, hi = 0xffffffffu;
  while (lo < hi) {
    const uint32_t mid = lo + static_cast<uint32_t>((static_cast<uint64_t>(hi) - lo + 1) / 2);
    if (count_at_least(mid) >= keep) lo = mid;
    else hi = mid - 1;
  }
  const uint32_t t = lo;
  int64_t above = 0, ties = 0;
  for (uint32_t k : keys) {
    above += k > t;
    ties += k == t;
  }
  const int64_t need = keep - dist::all_reduce_sum(comm, above);
  // Ties at the threshold go to the smallest rows: ranks hold increasing
  // blocks, so rank r takes what the ranks before it left.
  std::vector<std::vector<int64_t>> all_ties = dist::all_gather_vectors(comm, std::vector<int64_t>{ties});
  int64_t before = 0;
  for (int r = 0; r < comm.rank(); ++r) before += all_ties[static_cast<size_t>(r)][0];
  int64_t mine = std::clamp<int64_t>(need - before, 0, ties);
  std::vector<uint8_t> mask(keys.size(), 0);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i] > t) {
      mask[i] = 1;
    } else if (keys[i] == t && mine > 0) {
      mask[i] = 1;
      --mine;
    }
  }
  if (threshold) {
    const uint32_t u = (t & 0x80000000u) ? (t & 0x7fffffffu) : ~t;
    std::memcpy(threshold, &u, sizeof u);
  }
  return mask;
}

}  // namespace fid::retrieval
