// Weights on disk: the safetensors format (a little-endian u64 header length,
// a JSON header naming each tensor's dtype, shape and byte range, then the raw
// bytes) and PyTorch's zip `pytorch_model.bin`. Both give a name -> tensor map.
#pragma once
#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>

#include <map>
#include <optional>
#include <string>

namespace fid::model {

// Ordered by name, like the header that safetensors writers produce.
using TensorMap = std::map<std::string, at::Tensor>;

// Reads every tensor (F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL) on the CPU
// in its stored dtype. Errors name the file and the offending tensor.
TensorMap read_safetensors(const std::string& path);
// Only the header: name -> (dtype string, shape); cheap on multi-GB files.
struct TensorInfo {
  std::string dtype;
  std::vector<int64_t> shape;
};
std::map<std::string, TensorInfo> read_safetensors_header(const std::string& path);
// The header's "__metadata__" (string -> string), empty when absent.
std::map<std::string, std::string> read_safetensors_metadata(const std::string& path);

// Writes atomically (temporary name, fsync, rename). Floating tensors are cast to
// `float_dtype` when given (kFloat, kHalf or kBFloat16); others keep their dtype.
void write_safetensors(const std::string& path, const TensorMap& tensors,
                       std::optional<at::ScalarType> float_dtype = std::nullopt,
                       const std::map<std::string, std::string>& metadata = {{"format", "pt"}});

// A `torch.save`d state dict (zip format) read with torch::pickle_load.
TensorMap read_torch_pickle(const std::string& path);

// The weights of a Hugging Face model directory: model.safetensors when it
// exists, else pytorch_model.bin. `which` receives the chosen file.
TensorMap read_model_weights(const std::string& dir, std::string* which = nullptr);

// "F32" <-> at::kFloat and friends.
std::string safetensors_dtype_name(at::ScalarType t);
at::ScalarType safetensors_dtype(const std::string& name, const std::string& context);

}  // namespace fid::model
