// Being asked to stop: a scheduler warns a job before it preempts it or its
// time runs out (SLURM: SIGTERM, or SIGUSR1 with --signal=USR1@120; FiD
// requeues on SIGUSR1). A trainer that installs the handlers agrees with its
// peers at the next step boundary, saves a checkpoint and throws Preempted;
// `fid` then exits with kPreemptedExit, which the batch scripts requeue.
#pragma once
#include "common/error.h"

namespace fid {

// EX_TEMPFAIL: stopped on request with its state saved; run it again.
inline constexpr int kPreemptedExit = 75;

class Preempted : public Error {
 public:
  using Error::Error;
};

// SIGTERM and SIGUSR1 set the request instead of ending the process; a
// second one restores the default action and ends it.
void install_stop_handlers();
// True once a handled signal arrived; the signal's name, or "".
bool stop_requested();
const char* stop_signal_name();

}  // namespace fid
