#include "support/workspace.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "common/files.h"

namespace fid::testing {

std::string run_ok(const std::string& command) {
  std::string out;
  EXPECT_EQ(run_command(command, &out), 0) << command << "\n" << out;
  return out;
}

std::string run_fails(const std::string& command) {
  std::string out;
  EXPECT_NE(run_command(command, &out), 0) << command << "\n" << out;
  return out;
}

Background::Background(const std::string& cmd, const std::string& log) : log_(log) {
  pid_ = fork();
  if (pid_ == 0) {
    setpgid(0, 0);  // its own group: a kill reaches the ranks of mpiexec too
    execl("/bin/sh", "sh", "-c", ("exec env " + cmd + " > " + log + " 2>&1").c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
}

Background::~Background() {
  if (pid_ > 0 && !done_) {
    kill(-pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

std::string Background::log() const { return path_exists(log_) ? read_file(log_) : std::string(); }

bool Background::wait_for_log(const std::string& text, double timeout_s) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  while (std::chrono::steady_clock::now() < end) {
    if (log().find(text) != std::string::npos) return true;
    if (exited(0)) return log().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool Background::exited(double timeout_s) {
  if (done_) return true;
  const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  do {
    int st = 0;
    if (waitpid(pid_, &st, WNOHANG) == pid_) {
      done_ = true;
      status_ = st;
      return true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < end);
  return false;
}

Workspace::Workspace(const std::string& tag) : dir_(tag) {}

std::string Workspace::fid_command(int np, const std::string& args) const {
  return mpi_launch(np) + fid_binary() + " " + args + " --threads 1";
}

int Workspace::fid(int np, const std::string& args, std::string* out) const {
  return run_command(fid_command(np, args), out);
}

std::string Workspace::fid_ok(int np, const std::string& args) const { return run_ok(fid_command(np, args)); }

std::string Workspace::fid_fails(int np, const std::string& args) const {
  return run_fails(fid_command(np, args));
}

void Workspace::synth_data(int people, const std::string& out_dir) const {
  fid_ok(1, "synth-data --people " + std::to_string(people) + " --output_dir " + path(out_dir));
}

void Workspace::tiny_t5(const std::string& name, int seed) const {
  fid_ok(1, "init-model --arch t5 --tokenizer " + fixtures_dir() +
                "/t5_tokenizer/spiece.model --d_model 32 --num_layers 2 --num_heads 4 --d_ff 64 --seed " +
                std::to_string(seed) + " --output_dir " + path(name));
}

void Workspace::tiny_retriever(const std::string& name, int dim, int seed, const std::string& flags) const {
  fid_ok(1, "init-model --arch retriever --tokenizer " + fixtures_dir() +
                "/t5_tokenizer/spiece.model --hidden_size 32 --num_hidden_layers 2 "
                "--num_attention_heads 4 --intermediate_size 64 --indexing_dimension " +
                std::to_string(dim) + " " + flags + " --seed " + std::to_string(seed) +
                " --output_dir " + path(name));
}

std::vector<data::Passage> Workspace::read_passages(const std::string& tsv) {
  data::PassageReader reader(tsv);
  std::vector<data::Passage> all;
  data::Passage p;
  while (reader.next(p)) all.push_back(p);
  return all;
}

}  // namespace fid::testing
