// File helpers: whole-file reads with errors that name the file, atomic
// writes (temporary name, fsync, rename) so that no reader ever sees a
// half-written file under its final name, and cheap file fingerprints.
#pragma once
#include <cstdint>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace fid {

std::string read_file(const std::string& path);
// Writes `data` to path.tmp.<pid>, fsyncs, renames over `path`, fsyncs the directory.
void write_file_atomic(const std::string& path, const std::string& data);
bool path_exists(const std::string& path);
bool is_directory(const std::string& path);
int64_t file_size(const std::string& path);
void make_directories(const std::string& path);
std::string join_path(const std::string& a, const std::string& b);
std::string parent_path(const std::string& path);
// fsync a file or directory by path.
void fsync_path(const std::string& path);
void rename_durable(const std::string& from, const std::string& to);

// A fingerprint that changes when the content changes: size plus a 64-bit
// FNV-1a hash of the first and last MiB (reading 21M passages to fingerprint
// them would cost minutes).
std::string file_fingerprint(const std::string& path);

nlohmann::json read_json_file(const std::string& path);
void write_json_atomic(const std::string& path, const nlohmann::json& value, int indent = 2);

uint64_t fnv1a64(const void* data, size_t n, uint64_t seed = 1469598103934665603ULL);

}  // namespace fid
