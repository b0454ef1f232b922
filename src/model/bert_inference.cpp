// BERT's inference layer: the same arithmetic as BertLayerImpl's modules
// (HF's BertLayer), with fewer passes over memory. Embedding 21M passages is
// inference only, and with the products at the matmul rate the memory-bound
// operators are what is left to take (tests/bench/bench_retriever):
// - query, key and value in one product against the stacked weights
//   (one pass over the input instead of three, a wider GEMM);
// - the attention scores start as the padding mask and receive
//   q.k^T / sqrt(d) in the same GEMM (baddbmm's alpha and beta), and the
//   softmax runs in place: one pass over (B*H, L, L) instead of four;
// - the intermediate's GELU in place; each residual added in place before
//   its LayerNorm.
// 1/sqrt(d) is a power of two for head sizes 4^k (64: BERT-base and large),
// where multiplying equals HF's division bit for bit.
#include <ATen/ATen.h>
#include <ATen/record_function.h>

#include <cmath>

#include "model/bert.h"
#include "model/bert_int8.h"

namespace fid::model {

bool bert_fused_inference_applies(const torch::nn::Module& layer, const at::Tensor& x) {
  return !layer.is_training() && !at::GradMode::is_enabled() && x.scalar_type() == at::kFloat &&
         x.device().is_cpu() && x.dim() == 3;
}

at::Tensor bert_layer_inference(BertLayerImpl& layer, const at::Tensor& x, const at::Tensor& ext_mask) {
  RECORD_FUNCTION("fid::bert_layer_inference", std::vector<c10::IValue>());
  BertSelfAttentionImpl& sa = *layer.attention->self;
  const int64_t b = x.size(0), len = x.size(1), hidden = x.size(2);
  const int64_t nh = sa.n_heads, dh = sa.head_dim;
  at::Tensor x2 = x.reshape({b * len, hidden});  // (B*L, H)

  const BertLayerInt8* int8 = layer.int8.get();
  at::Tensor qkv;  // (B*L, 3H)
  if (int8 != nullptr) {
    qkv = int8->qkv->forward(x2);
  } else {
    at::Tensor w = at::cat({sa.query->weight, sa.key->weight, sa.value->weight});  // (3H, H)
    at::Tensor bias = at::cat({sa.query->bias, sa.key->bias, sa.value->bias});      // (3H)
    qkv = at::addmm(bias, x2, w.t());
  }
  // (B, L, 3, nh, dh) -> (3, B, nh, L, dh): each head's rows contiguous.
  at::Tensor heads = qkv.view({b, len, 3, nh, dh}).permute({2, 0, 3, 1, 4}).contiguous();
  at::Tensor q = heads[0].view({b * nh, len, dh}), k = heads[1].view({b * nh, len, dh}),
             v = heads[2].view({b * nh, len, dh});

  // scores = mask + (q k^T) / sqrt(dh): the mask broadcast over heads and
  // query positions, the scale as GEMM's alpha.
  at::Tensor start;
  if (ext_mask.defined()) {
    start = ext_mask.to(at::kFloat).view({b, 1, 1, len}).expand({b, nh, 1, len}).reshape({b * nh, 1, len});
  } else {
    start = at::zeros({b * nh, 1, len}, x.options());
  }
  at::Tensor scores = at::baddbmm(start, q, k.transpose(1, 2), /*beta=*/1.0,
                                  /*alpha=*/1.0 / std::sqrt(static_cast<double>(dh)));  // (B*nh, L, L)
  at::_softmax_out(scores, scores, /*dim=*/-1, /*half_to_float=*/false);
  at::Tensor ctx = at::bmm(scores, v);  // (B*nh, L, dh)
  ctx = ctx.view({b, nh, len, dh}).permute({0, 2, 1, 3}).reshape({b * len, hidden});

  BertResidualOutputImpl& ao = *layer.attention->output;
  at::Tensor a = int8 != nullptr ? int8->attention_output->forward(ctx)
                                 : at::addmm(ao.dense->bias, ctx, ao.dense->weight.t());  // (B*L, H)
  a.add_(x2);
  a = at::layer_norm(a, {hidden}, ao.LayerNorm->weight, ao.LayerNorm->bias, ao.LayerNorm->options.eps());

  BertIntermediateImpl& in = *layer.intermediate;
  at::Tensor mid = int8 != nullptr ? int8->intermediate->forward(a)
                                   : at::addmm(in.dense->bias, a, in.dense->weight.t());  // (B*L, I)
  if (in.act == "gelu") {
    at::gelu_(mid);
  } else if (in.act == "gelu_new" || in.act == "gelu_pytorch_tanh") {
    at::gelu_(mid, "tanh");
  } else {
    mid = bert_activation(mid, in.act);
  }

  BertResidualOutputImpl& out = *layer.output;
  at::Tensor o = int8 != nullptr ? int8->output->forward(mid)
                                 : at::addmm(out.dense->bias, mid, out.dense->weight.t());  // (B*L, H)
  o.add_(a);
  o = at::layer_norm(o, {hidden}, out.LayerNorm->weight, out.LayerNorm->bias, out.LayerNorm->options.eps());
  return o.view({b, len, hidden});
}

}  // namespace fid::model
