#include "model/bert_int8.h"

#include <ATen/ATen.h>
#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/native/quantized/PackedParams.h>

#include <algorithm>
#include <optional>

#include "common/error.h"
#include "model/bert.h"

namespace fid::model {

struct Int8Linear {
  c10::intrusive_ptr<LinearPackedParamsBase> packed;
};

namespace {

using Prepack = c10::intrusive_ptr<LinearPackedParamsBase>(at::Tensor, c10::optional<at::Tensor>);
using LinearDynamic = at::Tensor(at::Tensor, const c10::intrusive_ptr<LinearPackedParamsBase>&, bool);

// The engines in order of preference: FBGEMM, else oneDNN, else QNNPACK;
// nullopt when this LibTorch has none.
std::optional<at::QEngine> preferred_engine() {
  const auto& engines = at::globalContext().supportedQEngines();
  for (at::QEngine q : {at::QEngine::FBGEMM, at::QEngine::ONEDNN, at::QEngine::QNNPACK})
    if (std::find(engines.begin(), engines.end(), q) != engines.end()) return q;
  return std::nullopt;
}

// The engine is chosen once, before the first pack: packs of one engine run
// on that engine only.
void select_engine() {
  static const bool chosen = [] {
    const std::optional<at::QEngine> q = preferred_engine();
    FID_CHECK(q.has_value(), "--precision int8: this LibTorch has no quantized engine (FBGEMM, oneDNN or "
                             "QNNPACK); use --precision fp32");
    at::globalContext().setQEngine(*q);
    return true;
  }();
  (void)chosen;
}

}  // namespace

std::string int8_engine() {
  const std::optional<at::QEngine> q = preferred_engine();
  return q ? c10::toString(*q) : "";
}

Int8LinearPack::Int8LinearPack(const at::Tensor& weight, const at::Tensor& bias) : impl_(new Int8Linear) {
  select_engine();
  at::NoGradGuard no_grad;
  at::Tensor w = weight.detach().to(at::kFloat).contiguous();  // (out, in)
  // Per output channel: each row's largest magnitude maps to 127.
  at::Tensor scales = (w.abs().amax(1) / 127.0).clamp_min(1e-12).to(at::kDouble);  // (out)
  at::Tensor wq = at::quantize_per_channel(w, scales, at::zeros({w.size(0)}, at::kLong), 0, at::kQInt8);
  static auto prepack =
      c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_prepack", "").typed<Prepack>();
  impl_->packed = prepack.call(wq, bias.defined() ? c10::optional<at::Tensor>(bias.detach().to(at::kFloat).contiguous())
                                                  : c10::nullopt);
}

Int8LinearPack::~Int8LinearPack() = default;

at::Tensor Int8LinearPack::forward(const at::Tensor& x) const {
  static auto linear =
      c10::Dispatcher::singleton().findSchemaOrThrow("quantized::linear_dynamic", "").typed<LinearDynamic>();
  return linear.call(x.contiguous(), impl_->packed, /*reduce_range=*/false);
}

void quantize_bert_int8(BertModelImpl& bert) {
  for (const auto& m : *bert.encoder->layer) {
    auto& layer = *m->as<BertLayerImpl>();
    BertSelfAttentionImpl& sa = *layer.attention->self;
    auto q = std::make_shared<BertLayerInt8>();
    q->qkv = std::make_unique<Int8LinearPack>(at::cat({sa.query->weight, sa.key->weight, sa.value->weight}),
                                              at::cat({sa.query->bias, sa.key->bias, sa.value->bias}));
    q->attention_output =
        std::make_unique<Int8LinearPack>(layer.attention->output->dense->weight, layer.attention->output->dense->bias);
    q->intermediate = std::make_unique<Int8LinearPack>(layer.intermediate->dense->weight, layer.intermediate->dense->bias);
    q->output = std::make_unique<Int8LinearPack>(layer.output->dense->weight, layer.output->dense->bias);
    layer.int8 = q;
  }
}

}  // namespace fid::model
