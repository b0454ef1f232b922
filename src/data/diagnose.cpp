#include "data/diagnose.h"

#include <simdjson.h>

#include <cstdint>
#include <cstdio>
#include <vector>

namespace fid::data {

bool valid_utf8(const char* data, size_t size) { return simdjson::validate_utf8(data, size); }

size_t first_invalid_utf8(const char* data, size_t size) {
  const auto* s = reinterpret_cast<const unsigned char*>(data);
  size_t i = 0;
  while (i < size) {
    const unsigned c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 4;
      cp = c & 0x07;
    } else {
      return i;  // a continuation byte or 0xF8..0xFF cannot start a character
    }
    if (i + n > size) return i;
    for (size_t k = 1; k < n; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return i;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    static const uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return i;
    i += n;
  }
  return size;
}

namespace {

struct Frame {
  bool object;
  bool expect_key;
  std::string key;
  int64_t index;
};

std::string render(const std::vector<Frame>& stack, bool in_key) {
  std::string path;
  // The outermost frame is the example object itself: its fields are roots.
  for (size_t d = 1; d <= stack.size(); ++d) {
    const Frame& f = stack[d - 1];
    if (f.object) {
      if (f.expect_key && d == stack.size()) break;  // between fields: the object is the place
      if (!path.empty()) path += '.';
      path += f.key;
    } else {
      path += "[" + std::to_string(f.index) + "]";
    }
  }
  if (in_key) path += path.empty() ? "(a field name)" : " (a field name)";
  return path.empty() ? "(top level)" : path;
}

}  // namespace

std::string json_path_at(const char* data, size_t size, size_t offset) {
  std::vector<Frame> stack;
  size_t i = 0;
  while (i < size) {
    const char c = data[i];
    if (c == '"') {
      size_t j = i + 1;
      while (j < size && data[j] != '"') j += data[j] == '\\' ? 2 : 1;
      const bool is_key = !stack.empty() && stack.back().object && stack.back().expect_key;
      if (offset >= i && offset <= j) return render(stack, is_key);
      if (is_key) {
        stack.back().key.assign(data + i + 1, j - i - 1);
        stack.back().expect_key = false;
      }
      i = j + 1;
      continue;
    }
    if (i >= offset) return render(stack, false);
    switch (c) {
      case '{':
        stack.push_back({true, true, {}, 0});
        break;
      case '[':
        stack.push_back({false, false, {}, 0});
        break;
      case '}':
      case ']':
        if (!stack.empty()) stack.pop_back();
        break;
      case ',':
        if (!stack.empty()) {
          if (stack.back().object) {
            stack.back().expect_key = true;
          } else {
            ++stack.back().index;
          }
        }
        break;
      default:
        break;
    }
    ++i;
  }
  return render(stack, false);
}

std::string excerpt(const char* data, size_t size, size_t max) {
  std::string out;
  for (size_t i = 0; i < size && i < max; ++i) {
    const auto c = static_cast<unsigned char>(data[i]);
    if (c < 0x20 || c >= 0x7F) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (size > max) out += "...";
  return out;
}

}  // namespace fid::data
