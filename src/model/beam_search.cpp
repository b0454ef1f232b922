#include "model/beam_search.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "common/error.h"

namespace fid::model {
namespace {

// transformers' BeamHypotheses: the num_beams best finished hypotheses of one example.
struct Finished {
  int64_t num_beams;
  double length_penalty;
  bool early_stopping;
  std::vector<Hypothesis> beams;
  double worst = 1e9;

  void add(Hypothesis h) {
    h.score = h.sum_logprobs / std::pow(static_cast<double>(h.tokens.size()), length_penalty);
    if (static_cast<int64_t>(beams.size()) >= num_beams && h.score <= worst) return;
    beams.push_back(std::move(h));
    if (static_cast<int64_t>(beams.size()) > num_beams) {
      // The worst leaves (the first of equal scores, as sorting (score, index) pairs does).
      size_t w = 0;
      for (size_t i = 1; i < beams.size(); ++i)
        if (beams[i].score < beams[w].score) w = i;
      beams.erase(beams.begin() + static_cast<std::ptrdiff_t>(w));
      worst = beams[0].score;
      for (const auto& b : beams) worst = std::min(worst, b.score);
    } else {
      worst = std::min(worst, beams.back().score);
    }
  }
  // `length`: what the best open beam's score is divided by.
  bool is_done(double best_sum_logprobs, int64_t length) const {
    if (static_cast<int64_t>(beams.size()) < num_beams) return false;
    if (early_stopping) return true;
    return worst >= best_sum_logprobs / std::pow(static_cast<double>(length), length_penalty);
  }
};

// Rows of the self-attention cache follow their beams: rows (R) picks, for
// every new row, the row it continues.
void reorder_self_cache(DecoderCache& cache, const at::Tensor& rows) {
  const int64_t r = rows.size(0);
  for (size_t l = 0; l < cache.self_k.size(); ++l) {
    for (at::Tensor* t : {&cache.self_k[l], &cache.self_v[l]}) {
      auto sizes = t->sizes().vec();                                        // (R*H, max_length, dk)
      *t = t->view({r, -1}).index_select(0, rows).view(sizes);
    }
  }
}

// The returned rows as the model's transformers version lays them out.
at::Tensor layout(const std::vector<Hypothesis>& hyps, int64_t max_length, T5Convention convention,
                  int64_t eos, int64_t pad) {
  size_t shortest = hyps[0].tokens.size(), longest = shortest;
  for (const auto& h : hyps) {
    shortest = std::min(shortest, h.tokens.size());
    longest = std::max(longest, h.tokens.size());
  }
  // 3.0.2 stacks hypotheses of one length as they are, without their EOS.
  const bool as_they_are = convention == T5Convention::kV302 && shortest == longest;
  const int64_t width =
      as_they_are ? static_cast<int64_t>(longest) : std::min(static_cast<int64_t>(longest) + 1, max_length);
  at::Tensor ids = at::full({static_cast<int64_t>(hyps.size()), width}, pad, at::kLong);  // (rows, width)
  auto a = ids.accessor<int64_t, 2>();
  for (size_t i = 0; i < hyps.size(); ++i) {
    const auto& t = hyps[i].tokens;
    for (size_t j = 0; j < t.size(); ++j) a[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = t[j];
    if (!as_they_are && static_cast<int64_t>(t.size()) < max_length)
      a[static_cast<int64_t>(i)][static_cast<int64_t>(t.size())] = eos;
  }
  return ids;
}

}  // namespace

void check_generation_options(const GenerationOptions& o) {
  FID_CHECK(o.max_length >= 2, "--max_length must be at least 2 (the start token and one more), got ",
            o.max_length);
  FID_CHECK(o.min_length >= 0, "--min_length must not be negative, got ", o.min_length);
  FID_CHECK(o.num_beams >= 1, "--num_beams must be at least 1, got ", o.num_beams);
  FID_CHECK(o.num_return_sequences >= 1 && o.num_return_sequences <= o.num_beams,
            "--num_return_sequences must be between 1 and --num_beams (", o.num_beams, "), got ",
            o.num_return_sequences);
  FID_CHECK(std::isfinite(o.length_penalty), "--length_penalty must be a finite number");
}

BeamSearchResult beam_search(FidReader& reader, const at::Tensor& passage_ids,
                             const at::Tensor& passage_mask, const GenerationOptions& o,
                             const at::Tensor& encoder_out) {
  check_generation_options(o);
  const T5Config& c = reader.t5().config();
  at::NoGradGuard no_grad;
  const int64_t b = passage_ids.size(0), nb = o.num_beams, rows = b * nb;
  // Every beam of an example reads the same encoded passages.
  at::Tensor enc = (encoder_out.defined() ? encoder_out : reader.encode(passage_ids, passage_mask))
                       .repeat_interleave(nb, 0);                                     // (B*nb, S, d)
  at::Tensor mask = passage_mask.reshape({b, -1}).repeat_interleave(nb, 0);           // (B*nb, S)
  DecoderCache cache = reader.t5().start_decoding(enc, mask, o.max_length);

  std::vector<std::vector<int64_t>> seqs(static_cast<size_t>(rows), {c.decoder_start_token_id});
  std::vector<std::vector<int64_t>> origins(static_cast<size_t>(rows));
  // Only beam 0 of an example is live at the start, so the first step expands it alone.
  std::vector<float> beam_scores(static_cast<size_t>(rows), 0.0f);
  for (int64_t r = 0; r < rows; ++r)
    if (r % nb != 0) beam_scores[static_cast<size_t>(r)] = -1e9f;
  std::vector<Finished> finished(static_cast<size_t>(b), Finished{nb, o.length_penalty, o.early_stopping, {}});
  std::vector<char> done(static_cast<size_t>(b), 0);
  const at::TensorOptions on_device = enc.options().dtype(at::kLong);  // the model's device
  at::Tensor token = at::full({rows, 1}, c.decoder_start_token_id, on_device);  // (B*nb, 1)

  BeamSearchResult result;
  for (int64_t len = 1; len < o.max_length; ++len) {
    at::Tensor h = reader.t5().decode_step(token, cache);  // (B*nb, 1, d)
    ++result.decoder_steps;
    at::Tensor logp = at::log_softmax(reader.t5().lm_logits(h).select(1, 0).to(at::kFloat), -1);  // (B*nb, V)
    if (len < o.min_length) logp.select(1, c.eos_token_id).fill_(-std::numeric_limits<float>::infinity());
    const int64_t vocab = logp.size(1);
    at::Tensor scores = at::from_blob(beam_scores.data(), {rows, 1}, at::kFloat).to(logp.device());
    at::Tensor total = (logp + scores).view({b, nb * vocab});
    auto [top_gpu_scores, top_gpu_ids] = total.topk(2 * nb, 1, /*largest=*/true, /*sorted=*/true);  // (B, 2*nb)
    // The host picks the beams; only the 2*nb candidates per example come back.
    at::Tensor top_scores = top_gpu_scores.cpu(), top_ids = top_gpu_ids.cpu();
    auto ts = top_scores.accessor<float, 2>();
    auto ti = top_ids.accessor<int64_t, 2>();

    std::vector<float> next_scores(static_cast<size_t>(rows), 0.0f);
    std::vector<int64_t> next_tokens(static_cast<size_t>(rows), c.pad_token_id), from(static_cast<size_t>(rows));
    for (int64_t e = 0; e < b; ++e) {
      if (done[static_cast<size_t>(e)]) {
        // A finished example keeps decoding pad; its beams no longer matter.
        for (int64_t k = 0; k < nb; ++k) from[static_cast<size_t>(e * nb + k)] = e * nb + k;
        continue;
      }
      int64_t filled = 0;
      for (int64_t rank = 0; rank < 2 * nb && filled < nb; ++rank) {
        const int64_t tok = ti[e][rank] % vocab, src = e * nb + ti[e][rank] / vocab;
        const float score = ts[e][rank];
        if (tok == c.eos_token_id) {
          if (rank >= nb) continue;  // an EOS below the top num_beams closes nothing
          Hypothesis hyp{seqs[static_cast<size_t>(src)], 0, score, origins[static_cast<size_t>(src)]};
          hyp.beam_indices.push_back(src);
          finished[static_cast<size_t>(e)].add(std::move(hyp));
          continue;
        }
        const size_t dst = static_cast<size_t>(e * nb + filled++);
        next_scores[dst] = score;
        next_tokens[dst] = tok;
        from[dst] = src;
      }
      // 4.x divides the best open score by the length it would have with
      // this step's token, 3.0.2 by the length before it.
      const int64_t length = c.convention == T5Convention::kHf4 ? len + 1 : len;
      if (finished[static_cast<size_t>(e)].is_done(ts[e][0], length)) done[static_cast<size_t>(e)] = 1;
    }
    if (std::all_of(done.begin(), done.end(), [](char d) { return d != 0; })) break;

    std::vector<std::vector<int64_t>> next_seqs(static_cast<size_t>(rows)), next_origins(static_cast<size_t>(rows));
    for (size_t r = 0; r < static_cast<size_t>(rows); ++r) {
      const size_t src = static_cast<size_t>(from[r]);
      next_seqs[r] = seqs[src];
      next_seqs[r].push_back(next_tokens[r]);
      next_origins[r] = origins[src];
      next_origins[r].push_back(from[r]);
    }
    seqs.swap(next_seqs);
    origins.swap(next_origins);
    beam_scores = next_scores;
    reorder_self_cache(cache, at::tensor(from, at::kLong).to(on_device.device()));
    token = at::tensor(next_tokens, at::kLong).to(on_device.device()).view({rows, 1});
  }

  // Beams still open at the end are offered with their running scores.
  for (int64_t e = 0; e < b; ++e) {
    if (done[static_cast<size_t>(e)]) continue;
    for (int64_t k = 0; k < nb; ++k) {
      const size_t r = static_cast<size_t>(e * nb + k);
      finished[static_cast<size_t>(e)].add(Hypothesis{seqs[r], 0, beam_scores[r], origins[r]});
    }
  }
  for (auto& f : finished) {
    // Python's stable sort by score, best popped from the end.
    std::stable_sort(f.beams.begin(), f.beams.end(),
                     [](const Hypothesis& x, const Hypothesis& y) { return x.score < y.score; });
    for (int64_t j = 0; j < o.num_return_sequences; ++j) {
      result.hypotheses.push_back(f.beams.back());
      f.beams.pop_back();
    }
  }
  result.ids = layout(result.hypotheses, o.max_length, c.convention, c.eos_token_id, c.pad_token_id);
  return result;
}

}  // namespace fid::model
