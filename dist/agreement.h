// Ranks that must run the same thing check it before their first collective.
// A rank started with another --lr trains a diverging replica; one with
// another --total_steps leaves its peers waiting in an all-reduce forever.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "common/run_lock.h"
#include "dist/communicator.h"

namespace fid::dist {

// Every rank passes its key -> value map (`what` names them in the error,
// e.g. "command-line options"). Returns when all ranks passed the same map;
// otherwise every rank throws the same fid::Error: which ranks differ from
// rank 0, and each key whose value differs between rank 0 and the first of them.
// Collective: call it on every rank at the same point.
void check_ranks_agree(Communicator& comm, const std::string& what,
                       const std::map<std::string, std::string>& values);

// Rank 0 takes the job's RunLock on `dir` (see common/run_lock.h); every
// rank learns whether it got it and, if not, throws the same error, so that
// no rank touches the other job's files. Returns the lock on rank 0 (held
// until it is destroyed), null elsewhere. Collective.
std::unique_ptr<RunLock> take_run_lock(Communicator& comm, const std::string& dir, const std::string& what,
                                       const std::string& part = "");

// The differences between two maps as "key: a vs b" lines, keys in order,
// a key missing on one side shown as "(not given)".
std::string map_differences(const std::map<std::string, std::string>& a,
                            const std::map<std::string, std::string>& b, const std::string& a_name,
                            const std::string& b_name);

}  // namespace fid::dist
