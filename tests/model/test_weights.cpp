// Weights IO: safetensors round trips and corrupt files, the torch pickle
// reader against its safetensors twin, the strict weight store, HF configs.
#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <torch/nn/module.h>

#include <fstream>

#include "common/error.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/weight_store.h"
#include "support/test_util.h"

using namespace fid::model;
using fid::testing::TempDir;
using fid::testing::fixtures_dir;

namespace {

using fid::testing::error_of;

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void spit(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

struct Tiny : torch::nn::Module {
  Tiny() {
    auto layer = register_module("layer", std::make_shared<torch::nn::Module>());
    w = layer->register_parameter("weight", at::zeros({3, 2}));
    b = layer->register_parameter("bias", at::zeros({3}));
    s = register_buffer("scale", at::zeros({1}));
  }
  at::Tensor w, b, s;
};

}  // namespace

TEST(Safetensors, RoundTripAllDtypes) {
  TempDir dir;
  TensorMap in;
  in["a.f32"] = at::randn({4, 5});
  in["b.i64"] = at::arange(7, at::kLong);
  in["c.i32"] = at::arange(3, at::kInt).reshape({3, 1});
  in["d.bool"] = at::tensor({1, 0, 1}).to(at::kBool);
  in["e.scalar"] = at::tensor(2.5f).reshape({});
  write_safetensors(dir.file("x.safetensors"), in);
  TensorMap out = read_safetensors(dir.file("x.safetensors"));
  ASSERT_EQ(out.size(), in.size());
  for (const auto& [k, v] : in) {
    ASSERT_TRUE(out.count(k)) << k;
    EXPECT_EQ(out[k].scalar_type(), v.scalar_type()) << k;
    EXPECT_EQ(out[k].sizes(), v.sizes()) << k;
    EXPECT_TRUE(at::equal(out[k], v)) << k;
  }
  // The data buffer must start 8-byte aligned (HF readers rely on it).
  const std::string bytes = slurp(dir.file("x.safetensors"));
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  EXPECT_EQ((8 + n) % 8, 0u);
  EXPECT_EQ(read_safetensors_metadata(dir.file("x.safetensors")).at("format"), "pt");
}

TEST(Safetensors, HalfAndBFloat16OnDisk) {
  TempDir dir;
  TensorMap in{{"w", at::randn({8, 8})}, {"ids", at::arange(4, at::kLong)}};
  for (auto dt : {at::kHalf, at::kBFloat16}) {
    write_safetensors(dir.file("h.safetensors"), in, dt);
    auto header = read_safetensors_header(dir.file("h.safetensors"));
    EXPECT_EQ(header["w"].dtype, dt == at::kHalf ? "F16" : "BF16");
    EXPECT_EQ(header["ids"].dtype, "I64");  // integers keep their dtype
    TensorMap out = read_safetensors(dir.file("h.safetensors"));
    EXPECT_EQ(out["w"].scalar_type(), dt);
    EXPECT_TRUE(at::equal(out["w"], in["w"].to(dt)));
    EXPECT_TRUE(at::equal(out["ids"], in["ids"]));
  }
}

TEST(Safetensors, TruncatedAndCorruptFilesNameTheFile) {
  TempDir dir;
  const std::string path = dir.file("m.safetensors");
  write_safetensors(path, {{"w", at::randn({16, 16})}});
  const std::string good = slurp(path);

  spit(path, good.substr(0, good.size() - 100));  // data cut short
  std::string err = error_of([&] { read_safetensors(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("truncated"), std::string::npos) << err;

  spit(path, good.substr(0, 5));  // not even a header length
  err = error_of([&] { read_safetensors(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;

  std::string bad = good;
  bad[8] = '#';  // breaks the JSON header
  spit(path, bad);
  err = error_of([&] { read_safetensors(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;
  EXPECT_NE(err.find("JSON"), std::string::npos) << err;

  spit(path, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}");
  err = error_of([&] { read_safetensors(path); });
  EXPECT_NE(err.find(path), std::string::npos) << err;

  err = error_of([&] { read_safetensors(dir.file("absent.safetensors")); });
  EXPECT_NE(err.find("absent.safetensors"), std::string::npos) << err;
}

TEST(TorchPickle, BertBinEqualsItsSafetensors) {
  const std::string bert = fixtures_dir() + "/bert";
  TensorMap st = read_safetensors(bert + "/model.safetensors");
  TensorMap bin = read_torch_pickle(bert + "/pytorch_model.bin");
  ASSERT_EQ(st.size(), bin.size());
  ASSERT_GT(st.size(), 10u);
  for (const auto& [k, v] : st) {
    ASSERT_TRUE(bin.count(k)) << k;
    EXPECT_EQ(bin[k].scalar_type(), v.scalar_type()) << k;
    EXPECT_TRUE(at::equal(bin[k], v)) << k;
  }
}

TEST(TorchPickle, CorruptBinNamesTheFile) {
  TempDir dir;
  const std::string good = slurp(fixtures_dir() + "/bert/pytorch_model.bin");
  spit(dir.file("pytorch_model.bin"), good.substr(0, good.size() / 2));
  std::string err = error_of([&] { read_torch_pickle(dir.file("pytorch_model.bin")); });
  EXPECT_NE(err.find(dir.file("pytorch_model.bin")), std::string::npos) << err;
  spit(dir.file("pytorch_model.bin"), "not a zip file at all");
  err = error_of([&] { read_torch_pickle(dir.file("pytorch_model.bin")); });
  EXPECT_NE(err.find("zip"), std::string::npos) << err;
}

TEST(ModelWeights, PrefersSafetensorsThenBin) {
  TempDir dir;
  std::string which;
  EXPECT_NE(error_of([&] { read_model_weights(dir.path()); }).find(dir.path()), std::string::npos);
  spit(dir.file("pytorch_model.bin"), slurp(fixtures_dir() + "/bert/pytorch_model.bin"));
  TensorMap a = read_model_weights(dir.path(), &which);
  EXPECT_EQ(which, dir.file("pytorch_model.bin"));
  write_safetensors(dir.file("model.safetensors"), {{"only", at::ones({2})}});
  TensorMap b = read_model_weights(dir.path(), &which);
  EXPECT_EQ(which, dir.file("model.safetensors"));
  EXPECT_EQ(b.size(), 1u);
  EXPECT_GT(a.size(), 1u);
}

TEST(WeightStore, LoadsByNameAndCasts) {
  Tiny m;
  TensorMap w{{"layer.weight", at::randn({3, 2}).to(at::kHalf)},
              {"layer.bias", at::randn({3})},
              {"scale", at::full({1}, 3.0)}};
  LoadReport r = load_weights(m, w, "mem");
  EXPECT_EQ(r.loaded, 3);
  EXPECT_EQ(m.w.scalar_type(), at::kFloat);
  EXPECT_TRUE(at::equal(m.w, w["layer.weight"].to(at::kFloat)));
  EXPECT_TRUE(at::equal(m.b, w["layer.bias"]));
  EXPECT_EQ(m.s.item<float>(), 3.0f);
}

TEST(WeightStore, ReportsEveryProblemAtOnce) {
  Tiny m;
  TensorMap w{{"layer.weight", at::randn({2, 3})},  // transposed
              {"layer.extra", at::randn({3})}};
  const std::string err = error_of([&] { load_weights(m, w, "some/model.safetensors"); });
  EXPECT_NE(err.find("some/model.safetensors"), std::string::npos) << err;
  EXPECT_NE(err.find("layer.bias"), std::string::npos) << err;   // missing
  EXPECT_NE(err.find("scale"), std::string::npos) << err;        // missing
  EXPECT_NE(err.find("layer.extra"), std::string::npos) << err;  // unexpected
  EXPECT_NE(err.find("layer.weight: checkpoint [2, 3] vs model [3, 2]"), std::string::npos)
      << err;
  EXPECT_TRUE(at::equal(m.w, at::zeros({3, 2})));  // nothing copied on failure
}

TEST(WeightStore, KeyMapRenamesDropsAndAllowsMissing) {
  Tiny m;
  TensorMap w{{"wrapped.layer.weight", at::ones({3, 2})},
              {"wrapped.layer.bias", at::ones({3})},
              {"tied.copy", at::ones({9})}};
  auto map = [](const std::string& k) -> std::string {
    if (k == "tied.copy") return "";
    return k.substr(std::string("wrapped.").size());
  };
  LoadReport r = load_weights(m, w, "mem", map, [](const std::string& n) { return n == "scale"; });
  EXPECT_EQ(r.loaded, 2);
  ASSERT_EQ(r.dropped.size(), 1u);
  EXPECT_EQ(r.dropped[0], "tied.copy");
  EXPECT_TRUE(at::equal(m.b, at::ones({3})));
  // Two checkpoint keys for one parameter is an error.
  TensorMap dup{{"a", at::ones({3})}, {"b", at::ones({3})}};
  const std::string err = error_of([&] {
    load_weights(m, dup, "mem", [](const std::string&) { return std::string("layer.bias"); },
                 [](const std::string&) { return true; });
  });
  EXPECT_NE(err.find("given twice"), std::string::npos) << err;
}

TEST(WeightStore, UnwrapsFidKeys) {
  EXPECT_EQ(unwrap_fid_key("encoder.encoder.block.11.module.layer.0.SelfAttention.q.weight"),
            "encoder.block.11.layer.0.SelfAttention.q.weight");
  EXPECT_EQ(unwrap_fid_key("encoder.encoder.final_layer_norm.weight"),
            "encoder.final_layer_norm.weight");
  EXPECT_EQ(unwrap_fid_key("encoder.encoder.embed_tokens.weight"), "encoder.embed_tokens.weight");
  EXPECT_EQ(unwrap_fid_key("decoder.block.0.layer.0.SelfAttention.q.weight"),
            "decoder.block.0.layer.0.SelfAttention.q.weight");
  // Every wrapped key of the 3.0.2 FiD fixture becomes a plain T5 name.
  for (const auto& [k, info] : read_safetensors_header(fixtures_dir() + "/t5_v302/model.safetensors")) {
    const std::string u = unwrap_fid_key(k);
    EXPECT_EQ(u.find("module"), std::string::npos) << k;
    EXPECT_EQ(u.find("encoder.encoder"), std::string::npos) << k;
  }
}

TEST(HfConfigTest, TypedFieldsAndErrors) {
  TempDir dir;
  fid::testing::write_text(dir.file("config.json"),
                           R"({"d_model": 64, "eps": 1e-6, "act": "relu", "tie": true, "bad": "x"})");
  HfConfig c = HfConfig::load(dir.path());
  EXPECT_EQ(c.get_int("d_model"), 64);
  EXPECT_DOUBLE_EQ(c.get_double("eps"), 1e-6);
  EXPECT_EQ(c.get_string("act"), "relu");
  EXPECT_TRUE(c.get_bool("tie", false));
  EXPECT_EQ(c.get_int("absent", 7), 7);
  std::string err = error_of([&] { c.get_int("bad"); });
  EXPECT_NE(err.find("'bad'"), std::string::npos) << err;
  EXPECT_NE(err.find("config.json"), std::string::npos) << err;
  err = error_of([&] { c.get_int("num_heads"); });
  EXPECT_NE(err.find("'num_heads'"), std::string::npos) << err;
}
