// Dynamically quantized BERT layers for passage embedding (`--precision
// int8`): each linear layer's weight is quantized once, per output channel,
// to int8; each product quantizes its input per tensor to uint8 on the fly
// and accumulates in int32 (LibTorch's quantized::linear_dynamic on the
// quantized engine this LibTorch has: FBGEMM, else oneDNN, else QNNPACK).
// Norms, softmax and the attention products stay float32.
#pragma once
#include <ATen/core/Tensor.h>

#include <memory>
#include <string>

namespace fid::model {

class BertModelImpl;
struct Int8Linear;

// One linear layer's packed int8 weight and float bias.
class Int8LinearPack {
 public:
  Int8LinearPack(const at::Tensor& weight, const at::Tensor& bias);  // weight (out, in) float32
  ~Int8LinearPack();
  at::Tensor forward(const at::Tensor& x) const;  // (rows, in) float32 -> (rows, out) float32

 private:
  std::unique_ptr<Int8Linear> impl_;
};

// The four products of a BERT layer (query/key/value stacked, attention
// output, intermediate, output), packed.
struct BertLayerInt8 {
  std::unique_ptr<Int8LinearPack> qkv, attention_output, intermediate, output;
};

// The quantized engine int8 products run on, or "" when this LibTorch has none.
std::string int8_engine();

// Packs every layer of `bert` (float32 CPU, eval mode): from then on its
// inference layer multiplies in int8. Throws, saying why, where no
// quantized engine exists.
void quantize_bert_int8(BertModelImpl& bert);

}  // namespace fid::model
