// The terms BM25 indexes and queries: lower-cased runs of letters, numbers and
// marks ([\p{L}\p{N}\p{M}]+) of the NFD text — has_answer's word class
// without its single-character punctuation tokens.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace fid::text {

// Appends the terms of `text` to `out`.
void word_terms(std::string_view text, std::vector<std::string>& out);

}  // namespace fid::text
