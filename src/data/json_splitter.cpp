#include "data/json_splitter.h"

#include <cstring>

#include "common/error.h"
#include "data/diagnose.h"

namespace fid::data {
namespace {

constexpr size_t kNpos = static_cast<size_t>(-1);

bool is_space(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// One past the brace that closes the object opening at p[start], or kNpos
// when the data ends first. Strings are skipped with memchr: passage texts
// are most of a FiD file, so this is where the splitter spends its time.
size_t scan_object(const char* p, size_t start, size_t end) {
  int64_t depth = 0;
  size_t i = start;
  while (i < end) {
    const char c = p[i];
    if (c == '"') {
      size_t j = i + 1;
      for (;;) {
        const void* q = std::memchr(p + j, '"', end - j);
        if (q == nullptr) return kNpos;
        const size_t k = static_cast<size_t>(static_cast<const char*>(q) - p);
        size_t b = k;
        while (b > i + 1 && p[b - 1] == '\\') --b;
        j = k + 1;
        if (((k - b) & 1u) == 0) break;  // an even run of backslashes: the quote is real
      }
      i = j;
      continue;
    }
    if (c == '{' || c == '[') {
      ++depth;
    } else if (c == '}' || c == ']') {
      if (--depth == 0) return i + 1;
    }
    ++i;
  }
  return kNpos;
}

}  // namespace

ElementSplitter::ElementSplitter(const std::string& path, size_t buffer_bytes)
    : in_(path, "dataset", buffer_bytes, kElementPadding) {
  start();
}

bool ElementSplitter::skip_space(bool count_lines) {
  for (;;) {
    const char* p = in_.buf();
    size_t i = in_.pos;
    const size_t end = in_.size();
    while (i < end && is_space(p[i])) {
      if (count_lines && p[i] == '\n') ++line_;
      ++i;
    }
    in_.pos = i;
    if (i < end) return true;
    if (!in_.refill(i)) return false;
  }
}

std::string ElementSplitter::where(const Element& e) const {
  const int64_t line = e.line > 0 ? e.line : line_of(e.offset);
  return detail::concat("'", path(), "': example ", e.index, " (line ", line, ")");
}

void ElementSplitter::fail_at(size_t pos, const std::string& what) const {
  FID_THROW("'", path(), "' line ", line_of(in_.offset_of(pos)), ": ", what);
}

bool ElementSplitter::take_object(Element& out) {
  // The scan position is at '{'; find its end, reading more while it is open.
  size_t stop;
  while ((stop = scan_object(in_.buf(), in_.pos, in_.size())) == kNpos) {
    if (!in_.refill(in_.pos)) {
      const char* data = in_.buf() + in_.pos;
      const size_t size = in_.size() - in_.pos;
      fail_at(in_.pos, detail::concat("example ", index_, " is not closed: the file ends inside it, in field '",
                                      json_path_at(data, size, size),
                                      "' (truncated or invalid JSON; regenerate the file)"));
    }
  }
  out.data = in_.buf() + in_.pos;
  out.size = stop - in_.pos;
  out.capacity = in_.capacity() - in_.pos;
  out.offset = in_.offset_of(in_.pos);
  out.index = index_++;
  in_.pos = stop;
  return true;
}

bool ElementSplitter::next_array_element(Element& out) {
  if (state_ == State::kArrayNext) {
    if (!skip_space(false)) {
      fail_at(in_.pos, "the JSON list is not closed: expected ',' or ']' at the end of the file "
                    "(truncated or invalid JSON; regenerate the file)");
    }
    if (peek() == ']') {
      ++in_.pos;
      if (skip_space(false)) fail_at(in_.pos, "unexpected content after the closing ']' of the list");
      state_ = State::kDone;
      return false;
    }
    if (peek() != ',') {
      fail_at(in_.pos, detail::concat("expected ',' or ']' after example ", index_ - 1, ", found '",
                                   peek(), "' (invalid JSON)"));
    }
    ++in_.pos;
    if (!skip_space(false)) fail_at(in_.pos, "the JSON list ends after a ',' (truncated or invalid JSON)");
  } else {  // kArrayFirst
    if (!skip_space(false)) fail_at(in_.pos, "the JSON list is not closed (truncated or invalid JSON)");
    if (peek() == ']') {
      ++in_.pos;
      if (skip_space(false)) fail_at(in_.pos, "unexpected content after the closing ']' of the list");
      state_ = State::kDone;
      return false;
    }
  }
  if (peek() != '{') {
    fail_at(in_.pos, detail::concat("example ", index_, " is not a JSON object (found '", peek(),
                                 "'); each element of the list must be an {...} example"));
  }
  state_ = State::kArrayNext;
  out.line = 0;
  return take_object(out);
}

bool ElementSplitter::next_line(Element& out) {
  if (!skip_space(true)) {
    state_ = State::kDone;
    return false;
  }
  if (peek() != '{') {
    FID_THROW("'", path(), "' line ", line_, ": example ", index_, " is not a JSON object (found '",
              peek(), "'); each line of a JSON lines file must hold one {...} example");
  }
  const void* nl;
  while ((nl = std::memchr(in_.buf() + in_.pos, '\n', in_.size() - in_.pos)) == nullptr) {
    if (!in_.refill(in_.pos)) break;
  }
  const char* p = in_.buf();
  const size_t stop = nl ? static_cast<size_t>(static_cast<const char*>(nl) - p) : in_.size();
  size_t last = stop;
  while (last > in_.pos && is_space(p[last - 1])) --last;
  out.data = p + in_.pos;
  out.size = last - in_.pos;
  out.capacity = in_.capacity() - in_.pos;
  out.offset = in_.offset_of(in_.pos);
  out.index = index_++;
  out.line = line_;
  in_.pos = stop;  // the newline itself is counted by the next skip_space
  return true;
}

bool ElementSplitter::next(Element& out) {
  switch (state_) {
    case State::kArrayFirst:
    case State::kArrayNext:
      return next_array_element(out);
    case State::kLines:
      return next_line(out);
    default:
      return false;
  }
}

void ElementSplitter::start() {
  in_.refill(0);
  // A UTF-8 byte order mark is not JSON but some editors write one.
  if (in_.size() >= 3 && std::memcmp(in_.buf(), "\xEF\xBB\xBF", 3) == 0) in_.pos = 3;
  if (!skip_space(true)) {
    state_ = State::kDone;  // an empty file holds no examples
    return;
  }
  if (peek() == '[') {
    format_ = DatasetFormat::kJsonArray;
    state_ = State::kArrayFirst;
    ++in_.pos;
  } else if (peek() == '{') {
    format_ = DatasetFormat::kJsonLines;
    state_ = State::kLines;
  } else {
    FID_THROW("'", path(), "' line ", line_, ": a dataset must start with '[' (a JSON list) or '{' ",
              "(JSON lines), found '", peek(), "' (is this a FiD dataset file?)");
  }
}

}  // namespace fid::data
