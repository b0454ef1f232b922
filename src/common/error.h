// Errors are exceptions carrying the failed condition, the place and the
// context; each subcommand's entry catches them and aborts the MPI job so that
// peers never hang in a collective.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace fid {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

namespace detail {
template <typename... Args>
std::string concat(Args&&... args) {
  std::ostringstream os;
  (os << ... << std::forward<Args>(args));
  return os.str();
}
[[noreturn]] void fail(const char* file, int line, const char* cond, const std::string& msg);
}  // namespace detail

}  // namespace fid

// FID_CHECK(cond, parts...): throws fid::Error with the parts streamed together.
#define FID_CHECK(cond, ...)                                                   \
  do {                                                                         \
    if (!(cond)) ::fid::detail::fail(__FILE__, __LINE__, #cond,                \
                                     ::fid::detail::concat(__VA_ARGS__));      \
  } while (0)

#define FID_CHECK_EQ(a, b, ...)                                                \
  do {                                                                         \
    const auto& fid_a_ = (a);                                                  \
    const auto& fid_b_ = (b);                                                  \
    if (!(fid_a_ == fid_b_))                                                   \
      ::fid::detail::fail(__FILE__, __LINE__, #a " == " #b,                    \
                          ::fid::detail::concat(__VA_ARGS__, " (", fid_a_,     \
                                                " vs ", fid_b_, ")"));         \
  } while (0)

// FID_THROW(parts...): unconditional error.
#define FID_THROW(...) \
  ::fid::detail::fail(__FILE__, __LINE__, nullptr, ::fid::detail::concat(__VA_ARGS__))
