// How items are dealt to ranks: rank r of W owns items i with i % W == r, in
// order (the seed's evaluation split, and ours for questions everywhere).
// Every place that splits or reassembles per-rank items goes through here,
// so that the two directions cannot disagree.
#pragma once
#include <cstdint>
#include <vector>

namespace fid {

inline bool owns_item(int64_t item, int rank, int world) { return item % world == rank; }

// The index of rank `rank`'s j-th item.
inline int64_t owned_item(int64_t j, int rank, int world) { return j * world + rank; }

// Rank `rank`'s items of n, in order.
inline std::vector<int64_t> owned_items(int64_t n, int rank, int world) {
  std::vector<int64_t> out;
  for (int64_t i = rank; i < n; i += world) out.push_back(i);
  return out;
}

}  // namespace fid
