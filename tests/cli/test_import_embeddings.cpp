// `fid import-embeddings`: FiD's passage embedding files, written here as
// FiD's generate_passage_embeddings.py writes them (python3 and numpy:
// `pickle.dump((ids, embeddings), f)`, one file per --shard_id), become HDF5
// shards and a manifest holding the same vectors in the same rows, on one or
// two ranks; `retrieve` searches them; wrong files are refused naming them.
#include <gtest/gtest.h>

#include <cstring>

#include "common/files.h"
#include "data/example_reader.h"
#include "sharding/embedding_shard.h"
#include "sharding/manifest.h"
#include "support/workspace.h"

namespace fid::testing {
namespace {

// FiD's script: passages in file order, shard k of n holds the k-th block
// (the last one the rest), ids as the TSV gives them (str), the model's
// float16 output as a numpy array; argv: passages, prefix, shards, dtype,
// protocol. expected.bin gets every vector as float32, in file order.
const char* kWriter = R"(
import csv, pickle, sys
import numpy as np
passages, prefix, n, dtype, protocol = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
with open(passages) as f:
    rows = [r for r in csv.reader(f, delimiter='\t')][1:]
rng = np.random.default_rng(7)
emb = rng.standard_normal((len(rows), 16)).astype(dtype)
emb.astype(np.float32).tofile(prefix + 'expected.bin')
size = len(rows) // n
for k in range(n):
    end = len(rows) if k == n - 1 else (k + 1) * size
    ids = [r[0] for r in rows[k * size:end]]
    with open(prefix + 'passages_%02d' % k, 'wb') as f:
        if protocol:
            pickle.dump((ids, emb[k * size:end]), f, protocol=protocol)
        else:
            pickle.dump((ids, emb[k * size:end]), f)
)";

class ImportWorkspace : public Workspace {
 public:
  ImportWorkspace() : Workspace("fid-import") {
    synth_data(60);
    write_text(path("write_fid_embeddings.py"), kWriter);
  }
  // FiD's files under <dir>/ (3 float16 files with pickle's default protocol, or as given).
  void fid_files(const std::string& dir, int shards, const std::string& dtype, int protocol) const {
    make_directories(path(dir));
    // Debian's python3 (python3-numpy, installed by launch/setup.sh), not one a PATH puts first.
    run_ok("/usr/bin/python3 " + path("write_fid_embeddings.py") + " " + passages() + " " + path(dir) + "/ " +
           std::to_string(shards) + " " + dtype + " " + std::to_string(protocol));
  }
  std::vector<float> expected(const std::string& dir) const {
    const std::string raw = read_file(path(dir + "/expected.bin"));
    std::vector<float> v(raw.size() / 4);
    std::memcpy(v.data(), raw.data(), raw.size());
    return v;
  }
};

ImportWorkspace& ws() {
  static ImportWorkspace w;
  return w;
}

// Rows and vectors of an import, from its manifest, in row order.
void expect_imported(const std::string& manifest_path, const std::vector<float>& want, int shards,
                     sharding::EmbeddingDtype dtype) {
  sharding::Manifest m = sharding::load_manifest(manifest_path);
  EXPECT_EQ(m.shard_count, shards);
  EXPECT_EQ(m.dtype, dtype);
  EXPECT_EQ(m.dim, 16);
  std::vector<int64_t> ids;
  std::vector<float> got;
  for (const auto& s : m.shards) {
    sharding::EmbeddingShardReader r(m.shard_path(s));
    r.verify();
    auto i = r.read_all_ids();
    auto v = r.read_all_vectors();
    ids.insert(ids.end(), i.begin(), i.end());
    got.insert(got.end(), v.begin(), v.end());
  }
  ASSERT_EQ(ids.size() * 16, want.size());
  for (size_t k = 0; k < ids.size(); ++k) ASSERT_EQ(ids[k], static_cast<int64_t>(k));
  EXPECT_EQ(got, want);  // float16 -> float16 and float32 -> float32: bit for bit
}

TEST(ImportEmbeddings, FidPicklesBecomeShardsWithTheSameVectorsOnOneAndTwoRanks) {
  auto& w = ws();
  w.fid_files("fid16", 3, "float16", 0);  // pickle's default protocol, as FiD calls it
  for (int np : {1, 2}) {
    const std::string out = "emb16_" + std::to_string(np) + "/";
    w.fid_ok(np, "import-embeddings --embeddings '" + w.path("fid16/passages_*") + "' --passages " + w.passages() +
                     " --output_path " + w.path(out));
    expect_imported(w.path(out + "manifest.json"), w.expected("fid16"), 3, sharding::EmbeddingDtype::kFloat16);
  }
  // float32 files written with protocol 5 (numpy's out-of-band-capable form, in band).
  w.fid_files("fid32", 2, "float32", 5);
  w.fid_ok(2, "import-embeddings --embeddings '" + w.path("fid32/passages_*") + "' --passages " + w.passages() +
                  " --output_path " + w.path("emb32/"));
  expect_imported(w.path("emb32/manifest.json"), w.expected("fid32"), 2, sharding::EmbeddingDtype::kFloat32);

  // retrieve searches the imported shards with a retriever of their width.
  w.tiny_retriever("ret", 16, 3, "--apply_question_mask --apply_passage_mask");
  w.fid_ok(1, "retrieve --model_path " + w.path("ret") + " --passages " + w.passages() + " --data " +
                  w.path("data/dev.json") + " --passages_embeddings " + w.path("emb16_2/manifest.json") +
                  " --output_path " + w.path("retrieved.json") + " --n-docs 5");
  auto r = data::read_examples(w.path("retrieved.json"));
  ASSERT_FALSE(r.empty());
  EXPECT_EQ(r[0].ctxs.size(), 5u);
}

TEST(ImportEmbeddings, WrongFilesAreRefusedNamingThem) {
  auto& w = ws();
  w.fid_files("bad", 3, "float16", 0);
  // Two of three files: the rows of the third are in none.
  std::string out = w.fid_fails(1, "import-embeddings --embeddings '" + w.path("bad/passages_0[01]") +
                                       "' --passages " + w.passages() + " --output_path " + w.path("part/"));
  EXPECT_NE(out.find("of --passages are in none of the files"), std::string::npos) << out;
  EXPECT_FALSE(path_exists(w.path("part/manifest.json")));
  // A truncated file.
  const std::string whole = read_file(w.path("bad/passages_01"));
  write_text(w.path("bad/passages_01"), whole.substr(0, whole.size() / 2));
  out = w.fid_fails(1, "import-embeddings --embeddings '" + w.path("bad/passages_*") + "' --passages " +
                           w.passages() + " --output_path " + w.path("trunc/"));
  EXPECT_NE(out.find(w.path("bad/passages_01")), std::string::npos) << out;
  EXPECT_NE(out.find("truncated"), std::string::npos) << out;
  // Embeddings of another passages file: the first id is not in it.
  write_text(w.path("other.tsv"), "id\ttext\ttitle\nx1\tsome text\tSome title\n");
  out = w.fid_fails(1, "import-embeddings --embeddings '" + w.path("bad/passages_00") + "' --passages " +
                           w.path("other.tsv") + " --output_path " + w.path("other/"));
  EXPECT_NE(out.find("is not in --passages"), std::string::npos) << out;
}

}  // namespace
}  // namespace fid::testing
