// A directory that records its own files: every file's size and content
// hash, written beside them (a checkpoint's trainer_state.json), checked by
// every reader of the directory. A flipped byte or a truncated copy is then
// an error naming the file, wherever the directory is loaded.
#pragma once
#include <nlohmann/json.hpp>
#include <set>
#include <string>

namespace fid {

// The state file of a checkpoint directory (its "files" entry is the table)
// and its tensors (optimizer, RNG), which only a resuming trainer reads.
inline constexpr const char* kCheckpointStateFile = "trainer_state.json";
inline constexpr const char* kCheckpointTensorsFile = "trainer_state.pt";

// FNV-1a 64 of the file's bytes, as 16 hex digits.
std::string hash_file(const std::string& path);

// {relative path: {"bytes": n, "fnv64": hex}} for every regular file under
// `dir` but the ones named in `skip`.
nlohmann::json make_file_table(const std::string& dir, const std::set<std::string>& skip);

// Checks size, then hash, of every file of `table` under `dir` but those in
// `skip`; throws naming the first file that is missing, resized or changed.
void verify_file_table(const std::string& dir, const nlohmann::json& table,
                       const std::set<std::string>& skip = {});

// When `dir` is a checkpoint (it has kCheckpointStateFile with a file
// table), verifies its files, the trainer-only tensors aside; else nothing.
void verify_if_checkpoint(const std::string& dir);

}  // namespace fid
