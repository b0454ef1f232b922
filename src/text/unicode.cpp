#include "text/unicode.h"

#include <utf8proc.h>

namespace fid::text {
namespace {

const utf8proc_property_t* props(char32_t c) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(c <= 0x10FFFF ? c : 0xFFFD));
}

// Word_Break MidLetter, MidNumLet and Single_Quote characters: with the
// categories below they make up Case_Ignorable, which decides final sigma.
bool is_word_break_mid(char32_t c) {
  switch (c) {
    case 0x27: case 0x2E: case 0x3A: case 0xB7: case 0x387: case 0x55F: case 0x5F4:
    case 0x2018: case 0x2019: case 0x2024: case 0x2027: case 0xFE13: case 0xFE52:
    case 0xFE55: case 0xFF07: case 0xFF0E: case 0xFF1A:
      return true;
    default:
      return false;
  }
}

bool is_case_ignorable(char32_t c) {
  switch (props(c)->category) {
    case UTF8PROC_CATEGORY_MN: case UTF8PROC_CATEGORY_ME: case UTF8PROC_CATEGORY_CF:
    case UTF8PROC_CATEGORY_LM: case UTF8PROC_CATEGORY_SK:
      return true;
    default:
      return is_word_break_mid(c);
  }
}

// Letters that the squared/negative-squared Latin capitals (Other_Uppercase,
// no case mapping) and the ordinal indicators join: the cased characters
// utf8proc's mappings do not reveal.
bool is_cased(char32_t c) {
  int cat = props(c)->category;
  if (cat == UTF8PROC_CATEGORY_LU || cat == UTF8PROC_CATEGORY_LL || cat == UTF8PROC_CATEGORY_LT)
    return true;
  if (c == 0xAA || c == 0xBA) return true;
  if ((c >= 0x1F130 && c <= 0x1F149) || (c >= 0x1F150 && c <= 0x1F169) ||
      (c >= 0x1F170 && c <= 0x1F189))
    return true;
  auto cp = static_cast<utf8proc_int32_t>(c);
  return utf8proc_tolower(cp) != cp || utf8proc_toupper(cp) != cp;
}

}  // namespace

char32_t utf8_next(std::string_view s, size_t& i) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  unsigned char b0 = p[i];
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  // Lead byte: number of continuation bytes and the range of the first one
  // (Unicode Table 3-7); everything else is ill-formed.
  int need = 0;
  unsigned char lo = 0x80, hi = 0xBF;
  char32_t c = 0;
  if (b0 >= 0xC2 && b0 <= 0xDF) { need = 1; c = b0 & 0x1F; }
  else if (b0 == 0xE0) { need = 2; lo = 0xA0; }
  else if ((b0 >= 0xE1 && b0 <= 0xEC) || b0 == 0xEE || b0 == 0xEF) { need = 2; c = b0 & 0x0F; }
  else if (b0 == 0xED) { need = 2; hi = 0x9F; c = 0x0D; }
  else if (b0 == 0xF0) { need = 3; lo = 0x90; }
  else if (b0 >= 0xF1 && b0 <= 0xF3) { need = 3; c = b0 & 0x07; }
  else if (b0 == 0xF4) { need = 3; hi = 0x8F; c = 4; }
  else {
    ++i;
    return 0xFFFD;
  }
  size_t j = i + 1;
  for (int k = 0; k < need; ++k, ++j) {
    unsigned char lo_k = k == 0 ? lo : 0x80, hi_k = k == 0 ? hi : 0xBF;
    if (j >= n || p[j] < lo_k || p[j] > hi_k) {
      i = j;  // skip the maximal valid prefix only
      return 0xFFFD;
    }
    c = (c << 6) | (p[j] & 0x3F);
  }
  i = j;
  return c;
}

void utf8_decode(std::string_view s, std::u32string& out) {
  size_t i = 0;
  while (i < s.size()) {
    auto b = static_cast<unsigned char>(s[i]);
    if (b < 0x80) {
      out.push_back(b);
      ++i;
    } else {
      out.push_back(utf8_next(s, i));
    }
  }
}

std::u32string utf8_decode(std::string_view s) {
  std::u32string out;
  out.reserve(s.size());
  utf8_decode(s, out);
  return out;
}

void utf8_append(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

std::string utf8_encode(std::u32string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char32_t c : s) utf8_append(out, c);
  return out;
}

bool is_valid_utf8(std::string_view s, size_t* bad_offset) {
  size_t i = 0;
  while (i < s.size()) {
    size_t at = i;
    char32_t c = utf8_next(s, i);
    // A decoded U+FFFD is an error unless the input spelled it (EF BF BD).
    if (c == 0xFFFD && !(i - at == 3 && s.compare(at, 3, "\xEF\xBF\xBD") == 0)) {
      if (bad_offset != nullptr) *bad_offset = at;
      return false;
    }
  }
  return true;
}

int category(char32_t c) { return props(c)->category; }

const char* category_name(char32_t c) {
  return utf8proc_category_string(static_cast<utf8proc_int32_t>(c <= 0x10FFFF ? c : 0xFFFD));
}

bool is_letter(char32_t c) {
  int cat = category(c);
  return cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_LO;
}
bool is_mark(char32_t c) {
  int cat = category(c);
  return cat >= UTF8PROC_CATEGORY_MN && cat <= UTF8PROC_CATEGORY_ME;
}
bool is_number(char32_t c) {
  int cat = category(c);
  return cat >= UTF8PROC_CATEGORY_ND && cat <= UTF8PROC_CATEGORY_NO;
}
bool is_separator(char32_t c) {
  int cat = category(c);
  return cat >= UTF8PROC_CATEGORY_ZS && cat <= UTF8PROC_CATEGORY_ZP;
}
bool is_other(char32_t c) {
  int cat = category(c);
  return cat == UTF8PROC_CATEGORY_CN || (cat >= UTF8PROC_CATEGORY_CC && cat <= UTF8PROC_CATEGORY_CO);
}
bool is_punctuation_category(char32_t c) {
  int cat = category(c);
  return cat >= UTF8PROC_CATEGORY_PC && cat <= UTF8PROC_CATEGORY_PO;
}
bool is_nonspacing_mark(char32_t c) { return category(c) == UTF8PROC_CATEGORY_MN; }

bool is_python_space(char32_t c) {
  if (c < 0x80) return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20);
  const utf8proc_property_t* p = props(c);
  return p->category == UTF8PROC_CATEGORY_ZS || p->bidi_class == UTF8PROC_BIDI_CLASS_WS ||
         p->bidi_class == UTF8PROC_BIDI_CLASS_B || p->bidi_class == UTF8PROC_BIDI_CLASS_S;
}

bool is_regex_word(char32_t c) {
  if (c < 0x80) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
  }
  int cat = category(c);
  if ((cat >= UTF8PROC_CATEGORY_LU && cat <= UTF8PROC_CATEGORY_ME) || cat == UTF8PROC_CATEGORY_ND ||
      cat == UTF8PROC_CATEGORY_NL || cat == UTF8PROC_CATEGORY_PC)
    return true;
  if (c == 0x200C || c == 0x200D) return true;
  // Circled and squared Latin letters: symbols with the Alphabetic property.
  return (c >= 0x24B6 && c <= 0x24E9) || (c >= 0x1F130 && c <= 0x1F149) ||
         (c >= 0x1F150 && c <= 0x1F169) || (c >= 0x1F170 && c <= 0x1F189);
}

void python_lower_char(char32_t c, std::u32string& out) {
  if (c < 0x80) {
    out.push_back(c >= 'A' && c <= 'Z' ? c + 32 : c);
  } else if (c == 0x130) {
    out.push_back(U'i');  // the one unconditional multi-character lowercase mapping
    out.push_back(0x307);
  } else {
    out.push_back(static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(c))));
  }
}

void python_lower(std::u32string_view s, std::u32string& out) {
  for (size_t i = 0; i < s.size(); ++i) {
    char32_t c = s[i];
    if (c != 0x3A3) {
      python_lower_char(c, out);
      continue;
    }
    // Final_Sigma: cased (case-ignorable)* Σ !((case-ignorable)* cased).
    size_t j = i;
    char32_t prev = 0;
    bool found = false;
    while (j > 0) {
      prev = s[--j];
      if (!is_case_ignorable(prev)) {
        found = true;
        break;
      }
    }
    bool final_sigma = found && is_cased(prev);
    if (final_sigma) {
      for (size_t k = i + 1; k < s.size(); ++k) {
        if (!is_case_ignorable(s[k])) {
          final_sigma = !is_cased(s[k]);
          break;
        }
      }
    }
    out.push_back(final_sigma ? 0x3C2 : 0x3C3);
  }
}

void nfd(std::u32string_view s, std::u32string& out) {
  size_t start = out.size();
  bool reorder = false;
  utf8proc_int32_t buf[32];
  for (char32_t c : s) {
    if (c < 0xC0) {
      out.push_back(c);
      continue;
    }
    int boundclass = 0;
    utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 32,
                                                 UTF8PROC_DECOMPOSE, &boundclass);
    if (n <= 0 || n > 32) {
      out.push_back(c);
      continue;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      out.push_back(static_cast<char32_t>(buf[k]));
      if (props(static_cast<char32_t>(buf[k]))->combining_class != 0) reorder = true;
    }
  }
  if (!reorder) return;
  // Canonical ordering: a stable sort of each run of combining marks by class.
  size_t pos = start;
  while (pos + 1 < out.size()) {
    int c1 = props(out[pos])->combining_class;
    int c2 = props(out[pos + 1])->combining_class;
    if (c1 > c2 && c2 > 0) {
      std::swap(out[pos], out[pos + 1]);
      if (pos > start) --pos;
    } else {
      ++pos;
    }
  }
}

}  // namespace fid::text
