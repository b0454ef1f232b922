#include "text/span_corruption.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "common/splitmix.h"

namespace fid::text {
namespace {

// `total` split into `parts` positive lengths at random cut points (T5's
// _random_segmentation).
std::vector<size_t> segment(size_t total, size_t parts, SplitMix64& rng) {
  std::vector<size_t> cuts(total - 1);
  for (size_t i = 0; i < cuts.size(); ++i) cuts[i] = i + 1;
  for (size_t k = 0; k < parts - 1; ++k) std::swap(cuts[k], cuts[k + rng.below(cuts.size() - k)]);
  cuts.resize(parts - 1);
  std::sort(cuts.begin(), cuts.end());
  std::vector<size_t> lengths;
  size_t prev = 0;
  for (size_t c : cuts) {
    lengths.push_back(c - prev);
    prev = c;
  }
  lengths.push_back(total - prev);
  return lengths;
}

}  // namespace

CorruptedText corrupt_spans(const std::vector<int32_t>& tokens, const std::vector<int32_t>& sentinels,
                            const SpanCorruptionOptions& o, uint64_t seed) {
  FID_CHECK(o.noise_density > 0 && o.noise_density < 1, "span corruption: noise density must be in (0, 1), not ",
            o.noise_density);
  FID_CHECK(o.mean_span_length >= 1, "span corruption: mean span length must be at least 1, not ",
            o.mean_span_length);
  CorruptedText out;
  const size_t n = tokens.size();
  if (n < 2) {
    out.input = tokens;
    return out;
  }
  const auto noise = std::clamp<size_t>(
      static_cast<size_t>(std::lround(static_cast<double>(n) * o.noise_density)), 1, n - 1);
  const auto spans = std::clamp<size_t>(
      static_cast<size_t>(std::lround(static_cast<double>(noise) / o.mean_span_length)), 1,
      std::min(noise, n - noise));
  FID_CHECK(spans <= sentinels.size(), "span corruption: ", spans, " spans need more than the ",
            sentinels.size(), " sentinel ids of the tokenizer");
  SplitMix64 rng(seed * 0xD1B54A32D192ED03ULL + 0x8CB92BA72F3D8DD7ULL);
  const std::vector<size_t> noise_len = segment(noise, spans, rng);
  const std::vector<size_t> keep_len = segment(n - noise, spans, rng);
  // Kept and hidden segments alternate, a kept one first.
  size_t pos = 0;
  for (size_t s = 0; s < spans; ++s) {
    out.input.insert(out.input.end(), tokens.begin() + static_cast<std::ptrdiff_t>(pos),
                     tokens.begin() + static_cast<std::ptrdiff_t>(pos + keep_len[s]));
    pos += keep_len[s];
    out.input.push_back(sentinels[s]);
    out.target.push_back(sentinels[s]);
    out.target.insert(out.target.end(), tokens.begin() + static_cast<std::ptrdiff_t>(pos),
                      tokens.begin() + static_cast<std::ptrdiff_t>(pos + noise_len[s]));
    pos += noise_len[s];
  }
  return out;
}

}  // namespace fid::text
