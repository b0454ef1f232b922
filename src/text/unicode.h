// Unicode helpers with the semantics of the Python reference code: UTF-8
// decoding with U+FFFD replacement, str.isspace(), str.lower() (full mapping,
// final sigma), unicodedata.normalize('NFD'), and the `regex` module's \w.
// Character properties come from utf8proc.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace fid::text {

// Decodes UTF-8. Each maximal ill-formed subpart becomes one U+FFFD, as
// Python's bytes.decode('utf-8', 'replace') does, so no input ever throws.
void utf8_decode(std::string_view s, std::u32string& out);
// Decodes the character at byte i and advances i past it (or past the
// ill-formed subpart, returning U+FFFD). Requires i < s.size().
char32_t utf8_next(std::string_view s, size_t& i);
std::u32string utf8_decode(std::string_view s);
void utf8_append(std::string& out, char32_t c);
std::string utf8_encode(std::u32string_view s);
// True when s is well-formed UTF-8; else *bad_offset is the first bad byte.
bool is_valid_utf8(std::string_view s, size_t* bad_offset = nullptr);

// utf8proc general category (UTF8PROC_CATEGORY_*); 0 (Cn) outside Unicode.
int category(char32_t c);
// Two-letter category as in unicodedata.category(): "Lu", "Mn", ...
const char* category_name(char32_t c);
bool is_letter(char32_t c);       // L*
bool is_mark(char32_t c);         // M*
bool is_number(char32_t c);       // N*
bool is_separator(char32_t c);    // Z*
bool is_other(char32_t c);        // C* (unassigned included)
bool is_punctuation_category(char32_t c);  // P*
bool is_nonspacing_mark(char32_t c);       // Mn

// str.isspace(): bidirectional class WS, B or S, or category Zs.
bool is_python_space(char32_t c);
// \w of the `regex` module: Alphabetic, marks, Nd, Pc, ZWNJ/ZWJ.
bool is_regex_word(char32_t c);

// str.lower() of the whole string (appends to out): full mappings (İ gives
// "i̇") and the final-sigma rule, which looks at the neighbours in `s`.
void python_lower(std::u32string_view s, std::u32string& out);
// str.lower() of a single character taken alone (no final sigma).
void python_lower_char(char32_t c, std::u32string& out);

// Canonical decomposition with canonical ordering (NFD), appended to out.
void nfd(std::u32string_view s, std::u32string& out);

}  // namespace fid::text
