#include "runtime/question_encoder.h"

#include <ATen/ATen.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <string>

#include "common/error.h"
#include "common/log.h"
#include "common/round_robin.h"
#include "runtime/placement.h"

namespace fid::runtime {

std::vector<float> encode_owned_questions(dist::Communicator& comm, LoadedRetriever& retriever,
                                          const std::vector<data::Example>& questions,
                                          int64_t batch_size, const Placement& placement) {
  FID_CHECK(batch_size > 0, "the question batch size must be positive, got ", batch_size);
  std::vector<std::string> texts;
  for (int64_t i : owned_items(static_cast<int64_t>(questions.size()), comm.rank(), comm.size())) {
    texts.push_back(questions[static_cast<size_t>(i)].question);
  }
  auto& model = retriever.model();
  model->eval();
  model->to(placement.device, placement.dtype);
  log::info("encoding questions: ", placement.reason);
  c10::InferenceMode guard;
  const int64_t d = model->config().output_dim();
  std::vector<float> out;
  out.reserve(texts.size() * static_cast<size_t>(d));
  for (size_t b = 0; b < texts.size(); b += static_cast<size_t>(batch_size)) {
    const size_t e = std::min(texts.size(), b + static_cast<size_t>(batch_size));
    std::vector<std::string> batch(texts.begin() + static_cast<std::ptrdiff_t>(b),
                                   texts.begin() + static_cast<std::ptrdiff_t>(e));
    RetrieverInputs in = retriever.encode_questions(batch);
    at::Tensor q = model->embed_questions(in.question_ids.to(placement.device),
                                          in.question_mask.to(placement.device))
                       .to(at::kCPU, at::kFloat)
                       .contiguous();  // (B, D)
    FID_CHECK(q.size(1) == d, "the retriever returned ", q.size(1), "-dimensional questions");
    out.insert(out.end(), q.data_ptr<float>(), q.data_ptr<float>() + q.numel());
  }
  return out;
}

}  // namespace fid::runtime
