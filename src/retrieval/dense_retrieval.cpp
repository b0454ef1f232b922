#include "retrieval/dense_retrieval.h"

#include "common/error.h"
#include "common/files.h"

namespace fid::retrieval {

sharding::Manifest load_checked_embeddings(const std::string& manifest_or_glob,
                                           const std::string& passages_path,
                                           int64_t passages_rows, const std::string& flag) {
  sharding::Manifest m = sharding::load_embeddings(manifest_or_glob);
  const std::string fp = file_fingerprint(passages_path);
  FID_CHECK(m.passages_fingerprint == fp, flag, " '", manifest_or_glob,
            "' holds embeddings of another passages file (fingerprint ", m.passages_fingerprint,
            ") than --passages '", passages_path, "' (", fp,
            "): give the passages file they were embedded from, or embed this one");
  if (m.is_subset()) {
    FID_CHECK(m.subset_of_rows == passages_rows, flag, " '", manifest_or_glob,
              "' is a subset of a passages file of ", m.subset_of_rows, " rows but --passages '",
              passages_path, "' has ", passages_rows, " rows");
  } else {
    // A glob may leave out shards (a warning says so); rows beyond the file never.
    FID_CHECK(m.total_rows <= passages_rows, flag, " '", manifest_or_glob, "' covers ",
              m.total_rows, " rows but --passages '", passages_path, "' has ", passages_rows,
              " rows");
  }
  return m;
}

}  // namespace fid::retrieval
