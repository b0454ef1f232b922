#include "dist/agreement.h"

#include <set>
#include <sstream>
#include <vector>

#include "common/error.h"

namespace fid::dist {
namespace {

// key \0 value \0 ... : values may hold any byte but NUL.
std::string encode(const std::map<std::string, std::string>& m) {
  std::string out;
  for (const auto& [k, v] : m) out += k + '\0' + v + '\0';
  return out;
}

std::map<std::string, std::string> decode(const std::string& bytes) {
  std::map<std::string, std::string> m;
  size_t pos = 0;
  while (pos < bytes.size()) {
    const size_t k_end = bytes.find('\0', pos);
    const size_t v_end = bytes.find('\0', k_end + 1);
    FID_CHECK(k_end != std::string::npos && v_end != std::string::npos,
              "malformed agreement payload from a peer rank");
    m[bytes.substr(pos, k_end - pos)] = bytes.substr(k_end + 1, v_end - k_end - 1);
    pos = v_end + 1;
  }
  return m;
}

std::string shown(const std::map<std::string, std::string>& m, const std::string& key) {
  auto it = m.find(key);
  return it == m.end() ? "(not given)" : "'" + it->second + "'";
}

}  // namespace

std::string map_differences(const std::map<std::string, std::string>& a,
                            const std::map<std::string, std::string>& b, const std::string& a_name,
                            const std::string& b_name) {
  std::set<std::string> keys;
  for (const auto& kv : a) keys.insert(kv.first);
  for (const auto& kv : b) keys.insert(kv.first);
  std::ostringstream out;
  for (const std::string& k : keys) {
    const std::string va = shown(a, k), vb = shown(b, k);
    if (va != vb) out << "\n  " << k << ": " << a_name << " " << va << ", " << b_name << " " << vb;
  }
  return out.str();
}

void check_ranks_agree(Communicator& comm, const std::string& what,
                       const std::map<std::string, std::string>& values) {
  if (comm.size() == 1) return;
  const std::vector<std::string> all = comm.all_gather_bytes(encode(values));
  const std::map<std::string, std::string> root = decode(all[0]);
  std::vector<int> differing;
  std::map<std::string, std::string> theirs;  // the first differing rank's
  for (int r = 1; r < comm.size(); ++r) {
    auto m = decode(all[static_cast<size_t>(r)]);
    if (m == root) continue;
    if (differing.empty()) theirs = std::move(m);
    differing.push_back(r);
  }
  if (differing.empty()) return;
  const int rank = differing.front();
  std::string ranks;
  for (size_t i = 0; i < differing.size() && i < 10; ++i)
    ranks += (i ? ", " : "") + std::to_string(differing[i]);
  if (differing.size() > 10) ranks += ", ...";
  FID_THROW("the ranks were started with different ", what, " (", differing.size() == 1 ? "rank " : "ranks ",
            ranks, " against rank 0); every rank must run the same command. Rank 0 against rank ",
            rank, ":", map_differences(root, theirs, "rank 0", "rank " + std::to_string(rank)));
}

std::unique_ptr<RunLock> take_run_lock(Communicator& comm, const std::string& dir, const std::string& what,
                                       const std::string& part) {
  std::unique_ptr<RunLock> lock;
  std::string error;
  if (comm.rank() == 0) {
    try {
      lock = std::make_unique<RunLock>(dir, what, part);
    } catch (const std::exception& e) {
      error = e.what();
    }
  }
  comm.broadcast_bytes(error, 0);
  if (!error.empty()) throw Error(error);
  return lock;
}

}  // namespace fid::dist
