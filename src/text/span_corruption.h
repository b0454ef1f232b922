// T5's unsupervised objective (span corruption, Raffel et al. 2020 §3.1.4):
// about noise_density of a text's tokens, in spans of mean_span_length on
// average, are replaced in the input by one sentinel each; the target lists
// each sentinel followed by the tokens it hid. A reader pretrained this way
// on the passages learns, without labels, to copy a span from elsewhere in
// its input (a name hidden in the text stands in the title): the skill that
// answering needs and that a reader trained from scratch on a few thousand
// questions is slow to find.
#pragma once
#include <cstdint>
#include <vector>

namespace fid::text {

struct SpanCorruptionOptions {
  double noise_density = 0.15;
  double mean_span_length = 3.0;
};

struct CorruptedText {
  std::vector<int32_t> input;   // kept tokens, a sentinel per hidden span
  std::vector<int32_t> target;  // sentinel k, span k's tokens, ... (no </s>)
};

// `tokens` without </s>; sentinels[k] is the id of <extra_id_k>. Spans and
// their positions are drawn from `seed` alone, so a resumed run corrupts each
// text as before. Texts of fewer than 2 tokens are returned unchanged with an
// empty target. Throws when the text needs more sentinels than are given.
CorruptedText corrupt_spans(const std::vector<int32_t>& tokens, const std::vector<int32_t>& sentinels,
                            const SpanCorruptionOptions& options, uint64_t seed);

}  // namespace fid::text
