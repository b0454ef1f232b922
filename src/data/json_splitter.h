// Splits a FiD dataset file (a JSON list or JSON lines) into its top-level
// elements without parsing them, reading through a fixed buffer so that memory
// does not grow with the file: a multi-GB list is never held whole.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "data/file_io.h"
#include "data/example.h"

namespace fid::data {

// Bytes readable past every element (simdjson reads up to 64 bytes ahead).
inline constexpr size_t kElementPadding = 64;

// One top-level element, a view into the splitter's buffer, valid until the
// next call to next(); `capacity` counts the readable bytes from `data`.
struct Element {
  const char* data = nullptr;
  size_t size = 0;
  size_t capacity = 0;
  int64_t offset = 0;  // byte offset in the file
  int64_t index = 0;   // 0-based example index
  int64_t line = 0;    // 1-based line where the element starts; 0 when not counted
};

class ElementSplitter {
 public:
  ElementSplitter(const std::string& path, size_t buffer_bytes);
  ElementSplitter(const ElementSplitter&) = delete;
  ElementSplitter& operator=(const ElementSplitter&) = delete;

  // The next element; false after the last one (the file's tail is checked).
  bool next(Element& out);

  DatasetFormat format() const { return format_; }
  const std::string& path() const { return in_.path(); }
  // 1-based line of a byte offset. It reads the file again up to there: it is
  // meant for error messages only, so the common path counts no newlines.
  int64_t line_of(int64_t offset) const { return line_of_offset(path(), offset); }
  // "'path': example N (line L)" for messages about an element.
  std::string where(const Element& e) const;

 private:
  enum class State { kArrayFirst, kArrayNext, kLines, kDone };
  // Detects the format from the first non-space character.
  void start();
  // Skips whitespace from the scan position (reading more as needed); false at end of file.
  bool skip_space(bool count_lines);
  char peek() const { return in_.buf()[in_.pos]; }
  [[noreturn]] void fail_at(size_t pos, const std::string& what) const;
  bool next_array_element(Element& out);
  bool next_line(Element& out);
  bool take_object(Element& out);

  BufferedFile in_;
  int64_t line_ = 1;     // current line, counted in JSON lines mode only
  int64_t index_ = 0;
  State state_ = State::kDone;
  DatasetFormat format_ = DatasetFormat::kJsonLines;
};

}  // namespace fid::data
