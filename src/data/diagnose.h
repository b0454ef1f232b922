// Helpers that turn a failed check on a data file into a precise message:
// where the first invalid UTF-8 byte is, and which JSON field holds it.
#pragma once
#include <cstddef>
#include <string>

namespace fid::data {

// SIMD validation of a whole span (simdjson's validator): the fast path.
bool valid_utf8(const char* data, size_t size);
// Offset of the first byte that is not part of valid UTF-8 (overlong forms,
// surrogates and code points above U+10FFFF included), or `size` when valid.
size_t first_invalid_utf8(const char* data, size_t size);
// The field path ("ctxs[2].text", "answers[0]", "question") of the value that
// contains byte `offset` of a JSON object's text; "(top level)" outside any field.
std::string json_path_at(const char* data, size_t size, size_t offset);
// A printable excerpt: up to `max` bytes of text with control and non-ASCII
// bytes shown as \xNN, for quoting bad input in messages.
std::string excerpt(const char* data, size_t size, size_t max = 40);

}  // namespace fid::data
