// Questions as dense vectors for search: each rank encodes its own share
// (common/round_robin.h) with the retriever, on the device and in the dtype
// the passages were embedded with (runtime/placement.h).
#pragma once
#include <cstdint>
#include <vector>

#include "data/example.h"
#include "dist/communicator.h"
#include "runtime/loaded_retriever.h"
#include "runtime/placement.h"

namespace fid::runtime {

// This rank's questions, in order, as (n_mine, D) float32 rows. Moves the
// model to `placement`'s device and dtype, in eval mode.
std::vector<float> encode_owned_questions(dist::Communicator& comm, LoadedRetriever& retriever,
                                          const std::vector<data::Example>& questions,
                                          int64_t batch_size, const Placement& placement);

}  // namespace fid::runtime
