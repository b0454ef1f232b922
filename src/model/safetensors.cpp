#include "model/safetensors.h"

#include "model/hf_hub.h"

#include <ATen/ATen.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/file_table.h"
#include "common/files.h"

namespace fid::model {
namespace {

// A header larger than this is certainly not a safetensors file (HF caps it at 100 MB).
constexpr uint64_t kMaxHeader = 100ull << 20;

struct Header {
  nlohmann::json json;
  uint64_t data_start = 0;  // byte offset of the data buffer in the file
  uint64_t file_size = 0;
};

Header parse_header(std::ifstream& in, const std::string& path) {
  Header h;
  h.file_size = static_cast<uint64_t>(file_size(path));
  FID_CHECK(h.file_size >= 8, "safetensors file ", path, " is truncated (", h.file_size,
            " bytes; it should start with an 8-byte header length). Re-save or re-download it.");
  uint64_t n = 0;
  in.read(reinterpret_cast<char*>(&n), 8);
  FID_CHECK(in.good(), "cannot read the header length of ", path);
  FID_CHECK(n <= kMaxHeader && 8 + n <= h.file_size, "safetensors file ", path,
            " is corrupt or truncated: header length ", n, " exceeds the file size ", h.file_size,
            ". Is it a safetensors file?");
  std::string text(n, '\0');
  in.read(text.data(), static_cast<std::streamsize>(n));
  FID_CHECK(in.good(), "cannot read the header of ", path);
  try {
    h.json = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    FID_THROW("safetensors file ", path, " has an unreadable JSON header (", e.what(),
              "); the file is corrupt or not a safetensors file");
  }
  FID_CHECK(h.json.is_object(), "safetensors header of ", path, " is not a JSON object");
  h.data_start = 8 + n;
  return h;
}

TensorInfo parse_info(const std::string& name, const nlohmann::json& v, const std::string& path,
                      uint64_t* begin, uint64_t* end) {
  const std::string ctx = "tensor '" + name + "' in " + path;
  FID_CHECK(v.is_object() && v.contains("dtype") && v.contains("shape") &&
                v.contains("data_offsets"),
            ctx, ": header entry lacks dtype/shape/data_offsets");
  TensorInfo info;
  info.dtype = v["dtype"].get<std::string>();
  info.shape = v["shape"].get<std::vector<int64_t>>();
  const auto off = v["data_offsets"].get<std::vector<uint64_t>>();
  FID_CHECK(off.size() == 2 && off[0] <= off[1], ctx, ": bad data_offsets");
  *begin = off[0];
  *end = off[1];
  return info;
}

}  // namespace

std::string safetensors_dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kDouble: return "F64";
    case at::kFloat: return "F32";
    case at::kHalf: return "F16";
    case at::kBFloat16: return "BF16";
    case at::kLong: return "I64";
    case at::kInt: return "I32";
    case at::kShort: return "I16";
    case at::kChar: return "I8";
    case at::kByte: return "U8";
    case at::kBool: return "BOOL";
    default: FID_THROW("dtype ", c10::toString(t), " cannot be stored in safetensors");
  }
}

at::ScalarType safetensors_dtype(const std::string& name, const std::string& context) {
  static const std::map<std::string, at::ScalarType> table = {
      {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf}, {"BF16", at::kBFloat16},
      {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
      {"U8", at::kByte},    {"BOOL", at::kBool}};
  auto it = table.find(name);
  FID_CHECK(it != table.end(), context, ": unsupported safetensors dtype '", name, "'");
  return it->second;
}

std::map<std::string, TensorInfo> read_safetensors_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.is_open(), "cannot open safetensors file ", path);
  Header h = parse_header(in, path);
  std::map<std::string, TensorInfo> out;
  for (auto& [name, v] : h.json.items()) {
    if (name == "__metadata__") continue;
    uint64_t b = 0, e = 0;
    out[name] = parse_info(name, v, path, &b, &e);
  }
  return out;
}

std::map<std::string, std::string> read_safetensors_metadata(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.is_open(), "cannot open safetensors file ", path);
  Header h = parse_header(in, path);
  std::map<std::string, std::string> out;
  if (h.json.contains("__metadata__"))
    for (auto& [k, v] : h.json["__metadata__"].items()) out[k] = v.get<std::string>();
  return out;
}

TensorMap read_safetensors(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  FID_CHECK(in.is_open(), "cannot open safetensors file ", path);
  Header h = parse_header(in, path);
  TensorMap out;
  for (auto& [name, v] : h.json.items()) {
    if (name == "__metadata__") continue;
    uint64_t begin = 0, end = 0;
    TensorInfo info = parse_info(name, v, path, &begin, &end);
    const std::string ctx = "tensor '" + name + "' in " + path;
    const at::ScalarType dtype = safetensors_dtype(info.dtype, ctx);
    int64_t numel = 1;
    for (int64_t d : info.shape) {
      FID_CHECK(d >= 0, ctx, ": negative dimension");
      numel *= d;
    }
    const uint64_t nbytes = static_cast<uint64_t>(numel) * c10::elementSize(dtype);
    FID_CHECK(end - begin == nbytes, ctx, ": byte range [", begin, ", ", end, ") holds ",
              end - begin, " bytes but dtype ", info.dtype, " and its shape need ", nbytes);
    FID_CHECK(h.data_start + end <= h.file_size, ctx, ": data ends at byte ", h.data_start + end,
              " past the end of the file (", h.file_size,
              " bytes): the file is truncated; re-save or re-download it");
    at::Tensor t = at::empty(info.shape, at::TensorOptions().dtype(dtype));
    in.seekg(static_cast<std::streamoff>(h.data_start + begin));
    in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(nbytes));
    FID_CHECK(in.good() || nbytes == 0, ctx, ": read failed (truncated file?)");
    out.emplace(name, std::move(t));
  }
  return out;
}

void write_safetensors(const std::string& path, const TensorMap& tensors,
                       std::optional<at::ScalarType> float_dtype,
                       const std::map<std::string, std::string>& metadata) {
  if (float_dtype)
    FID_CHECK(*float_dtype == at::kFloat || *float_dtype == at::kHalf ||
                  *float_dtype == at::kBFloat16,
              "safetensors output dtype must be float32, float16 or bfloat16, not ",
              c10::toString(*float_dtype));
  // Contiguous CPU copies in the requested dtype, in name order.
  std::vector<std::pair<std::string, at::Tensor>> items;
  nlohmann::json header = nlohmann::json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  uint64_t offset = 0;
  for (const auto& [name, src] : tensors) {
    at::Tensor t = src.detach().to(at::kCPU);
    if (float_dtype && at::isFloatingType(t.scalar_type())) t = t.to(*float_dtype);
    t = t.contiguous();
    const uint64_t nbytes = t.numel() * t.element_size();
    header[name] = {{"dtype", safetensors_dtype_name(t.scalar_type())},
                    {"shape", t.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    items.emplace_back(name, std::move(t));
  }
  std::string text = header.dump();
  // Pad the header with spaces so that the data buffer starts 8-byte aligned.
  while (text.size() % 8 != 0) text.push_back(' ');
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    FID_CHECK(out.is_open(), "cannot create ", tmp, " (is the directory writable?)");
    const uint64_t n = text.size();
    out.write(reinterpret_cast<const char*>(&n), 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& [name, t] : items)
      out.write(static_cast<const char*>(t.data_ptr()),
                static_cast<std::streamsize>(t.numel() * t.element_size()));
    out.flush();
    if (!out.good()) {
      const int err = errno;
      std::remove(tmp.c_str());
      FID_THROW("writing '", tmp, "' failed: ", std::strerror(err != 0 ? err : EIO),
                err == ENOSPC ? " (the disk is full: free space and run again)" : "");
    }
  }
  fsync_path(tmp);
  rename_durable(tmp, path);
}

TensorMap read_torch_pickle(const std::string& path) {
  const std::string bytes = read_file(path);
  FID_CHECK(bytes.size() >= 4 && bytes.compare(0, 2, "PK") == 0, "file ", path,
            " is not a zip-format PyTorch checkpoint (legacy torch.save files are not supported;"
            " re-save it with a recent PyTorch or convert it to model.safetensors)");
  std::vector<char> data(bytes.begin(), bytes.end());
  c10::IValue value;
  try {
    value = torch::pickle_load(data);
  } catch (const std::exception& e) {
    FID_THROW("cannot read PyTorch checkpoint ", path, ": ", e.what());
  }
  FID_CHECK(value.isGenericDict(), "PyTorch checkpoint ", path,
            " does not hold a state dict (name -> tensor)");
  TensorMap out;
  for (const auto& entry : value.toGenericDict()) {
    FID_CHECK(entry.key().isString(), "PyTorch checkpoint ", path, " has a non-string key");
    const std::string name = entry.key().toStringRef();
    if (!entry.value().isTensor()) continue;  // e.g. metadata entries
    // clone(): tensors in a state dict may be views of one shared storage.
    out.emplace(name, entry.value().toTensor().contiguous().clone());
  }
  return out;
}

TensorMap read_model_weights(const std::string& dir, std::string* which) {
  // A checkpoint records its files' hashes: a damaged copy is refused here,
  // by every subcommand that loads it, not only by a resuming trainer.
  verify_if_checkpoint(dir);
  const std::string st = join_path(dir, "model.safetensors");
  const std::string bin = join_path(dir, "pytorch_model.bin");
  if (path_exists(st)) {
    if (which) *which = st;
    return read_safetensors(st);
  }
  if (path_exists(bin)) {
    if (which) *which = bin;
    return read_torch_pickle(bin);
  }
  // Sharded checkpoints (the hub's large models): every file of the index,
  // merged; each tensor the index names must be found exactly once.
  for (const char* weights : {"model.safetensors", "pytorch_model.bin"}) {
    size_t named = 0;
    const std::vector<std::string> files = sharded_weight_files(dir, weights, &named);
    if (files.empty()) continue;
    TensorMap all;
    for (const auto& f : files) {
      FID_CHECK(path_exists(f), join_path(dir, std::string(weights) + ".index.json"), " names ", f,
                ", which is missing: the download is incomplete; download the model again");
      TensorMap part = std::string(weights) == "model.safetensors" ? read_safetensors(f) : read_torch_pickle(f);
      for (auto& [k, t] : part) {
        FID_CHECK(all.emplace(k, t).second, "tensor '", k, "' is in more than one shard of ", dir);
      }
    }
    FID_CHECK(all.size() == named, dir, ": the shards hold ", all.size(), " tensors, the index names ",
              named, "; download the model again");
    if (which) *which = join_path(dir, std::string(weights) + ".index.json");
    return all;
  }
  FID_THROW("model directory ", dir,
            " holds neither model.safetensors nor pytorch_model.bin (nor a sharded index of either); "
            "pass a Hugging Face model directory (or create one with `fid init-model`)");
}

}  // namespace fid::model
