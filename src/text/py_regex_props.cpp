// Character properties and case folding for PyRegex, after the `regex`
// module's Unicode tables. General categories and case mappings come from
// utf8proc; scripts from a table of the common scripts (Unicode 14, the
// version of the reference fixtures), generated from Perl's Unicode::UCD.
// Approximations (documented where they are made): Alphabetic, Uppercase and
// Lowercase are derived from general categories plus the letter-like symbols
// (circled letters, Roman numerals), not from PropList.txt; blocks and other
// scripts are unknown properties, so a pattern naming one does not compile.
#include <utf8proc.h>

#include <algorithm>
#include <string>
#include <vector>

#include "text/py_regex_impl.h"
#include "text/py_regex_scripts.h"
#include "text/unicode.h"

namespace fid::text::regex_detail {
namespace {

constexpr uint32_t bit(int cat) { return 1u << cat; }
constexpr uint32_t kLetters = bit(UTF8PROC_CATEGORY_LU) | bit(UTF8PROC_CATEGORY_LL) |
                              bit(UTF8PROC_CATEGORY_LT) | bit(UTF8PROC_CATEGORY_LM) |
                              bit(UTF8PROC_CATEGORY_LO);
constexpr uint32_t kCased = bit(UTF8PROC_CATEGORY_LU) | bit(UTF8PROC_CATEGORY_LL) |
                            bit(UTF8PROC_CATEGORY_LT);
constexpr uint32_t kMarks =
    bit(UTF8PROC_CATEGORY_MN) | bit(UTF8PROC_CATEGORY_MC) | bit(UTF8PROC_CATEGORY_ME);
constexpr uint32_t kNumbers =
    bit(UTF8PROC_CATEGORY_ND) | bit(UTF8PROC_CATEGORY_NL) | bit(UTF8PROC_CATEGORY_NO);
constexpr uint32_t kPunct = bit(UTF8PROC_CATEGORY_PC) | bit(UTF8PROC_CATEGORY_PD) |
                            bit(UTF8PROC_CATEGORY_PS) | bit(UTF8PROC_CATEGORY_PE) |
                            bit(UTF8PROC_CATEGORY_PI) | bit(UTF8PROC_CATEGORY_PF) |
                            bit(UTF8PROC_CATEGORY_PO);
constexpr uint32_t kSymbols = bit(UTF8PROC_CATEGORY_SM) | bit(UTF8PROC_CATEGORY_SC) |
                              bit(UTF8PROC_CATEGORY_SK) | bit(UTF8PROC_CATEGORY_SO);
constexpr uint32_t kSeparators =
    bit(UTF8PROC_CATEGORY_ZS) | bit(UTF8PROC_CATEGORY_ZL) | bit(UTF8PROC_CATEGORY_ZP);
constexpr uint32_t kOthers = bit(UTF8PROC_CATEGORY_CN) | bit(UTF8PROC_CATEGORY_CC) |
                             bit(UTF8PROC_CATEGORY_CF) | bit(UTF8PROC_CATEGORY_CS) |
                             bit(UTF8PROC_CATEGORY_CO);

struct Named {
  const char* name;  // standardised: upper case, no ' ', '_' or '-'
  PropKind kind;
  uint32_t value;
};

// General category values, short and long names (PropertyValueAliases.txt).
const Named kCategories[] = {
    {"L", PropKind::kCategoryMask, kLetters},
    {"LETTER", PropKind::kCategoryMask, kLetters},
    {"LC", PropKind::kCategoryMask, kCased},
    {"L&", PropKind::kCategoryMask, kCased},
    {"CASEDLETTER", PropKind::kCategoryMask, kCased},
    {"LU", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LU)},
    {"UPPERCASELETTER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LU)},
    {"LL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LL)},
    {"LOWERCASELETTER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LL)},
    {"LT", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LT)},
    {"TITLECASELETTER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LT)},
    {"LM", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LM)},
    {"MODIFIERLETTER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LM)},
    {"LO", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LO)},
    {"OTHERLETTER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_LO)},
    {"M", PropKind::kCategoryMask, kMarks},
    {"MARK", PropKind::kCategoryMask, kMarks},
    {"COMBININGMARK", PropKind::kCategoryMask, kMarks},
    {"MN", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_MN)},
    {"NONSPACINGMARK", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_MN)},
    {"MC", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_MC)},
    {"SPACINGMARK", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_MC)},
    {"ME", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ME)},
    {"ENCLOSINGMARK", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ME)},
    {"N", PropKind::kCategoryMask, kNumbers},
    {"NUMBER", PropKind::kCategoryMask, kNumbers},
    {"ND", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ND)},
    {"DECIMALNUMBER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ND)},
    {"DIGIT", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ND)},
    {"NL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_NL)},
    {"LETTERNUMBER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_NL)},
    {"NO", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_NO)},
    {"OTHERNUMBER", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_NO)},
    {"P", PropKind::kCategoryMask, kPunct},
    {"PUNCTUATION", PropKind::kCategoryMask, kPunct},
    {"PUNCT", PropKind::kCategoryMask, kPunct},
    {"PC", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PC)},
    {"CONNECTORPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PC)},
    {"PD", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PD)},
    {"DASHPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PD)},
    {"PS", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PS)},
    {"OPENPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PS)},
    {"PE", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PE)},
    {"CLOSEPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PE)},
    {"PI", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PI)},
    {"INITIALPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PI)},
    {"PF", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PF)},
    {"FINALPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PF)},
    {"PO", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PO)},
    {"OTHERPUNCTUATION", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_PO)},
    {"S", PropKind::kCategoryMask, kSymbols},
    {"SYMBOL", PropKind::kCategoryMask, kSymbols},
    {"SM", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SM)},
    {"MATHSYMBOL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SM)},
    {"SC", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SC)},
    {"CURRENCYSYMBOL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SC)},
    {"SK", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SK)},
    {"MODIFIERSYMBOL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SK)},
    {"SO", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SO)},
    {"OTHERSYMBOL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_SO)},
    {"Z", PropKind::kCategoryMask, kSeparators},
    {"SEPARATOR", PropKind::kCategoryMask, kSeparators},
    {"ZS", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ZS)},
    {"SPACESEPARATOR", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ZS)},
    {"ZL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ZL)},
    {"LINESEPARATOR", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ZL)},
    {"ZP", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ZP)},
    {"PARAGRAPHSEPARATOR", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_ZP)},
    {"C", PropKind::kCategoryMask, kOthers},
    {"OTHER", PropKind::kCategoryMask, kOthers},
    {"CC", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CC)},
    {"CONTROL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CC)},
    {"CNTRL", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CC)},
    {"CF", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CF)},
    {"FORMAT", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CF)},
    {"CS", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CS)},
    {"SURROGATE", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CS)},
    {"CO", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CO)},
    {"PRIVATEUSE", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CO)},
    {"CN", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CN)},
    {"UNASSIGNED", PropKind::kCategoryMask, bit(UTF8PROC_CATEGORY_CN)},
    {"ASSIGNED", PropKind::kCategoryMask, ~bit(UTF8PROC_CATEGORY_CN)},
};

// Script values: long name and ISO 15924 code, index into kScriptRanges.
const Named kScripts[] = {
    {"LATIN", PropKind::kScript, 0},     {"LATN", PropKind::kScript, 0},
    {"GREEK", PropKind::kScript, 1},     {"GREK", PropKind::kScript, 1},
    {"CYRILLIC", PropKind::kScript, 2},  {"CYRL", PropKind::kScript, 2},
    {"ARMENIAN", PropKind::kScript, 3},  {"ARMN", PropKind::kScript, 3},
    {"HEBREW", PropKind::kScript, 4},    {"HEBR", PropKind::kScript, 4},
    {"ARABIC", PropKind::kScript, 5},    {"ARAB", PropKind::kScript, 5},
    {"DEVANAGARI", PropKind::kScript, 6}, {"DEVA", PropKind::kScript, 6},
    {"THAI", PropKind::kScript, 7},      {"GEORGIAN", PropKind::kScript, 8},
    {"GEOR", PropKind::kScript, 8},      {"HANGUL", PropKind::kScript, 9},
    {"HANG", PropKind::kScript, 9},      {"HIRAGANA", PropKind::kScript, 10},
    {"HIRA", PropKind::kScript, 10},     {"KATAKANA", PropKind::kScript, 11},
    {"KANA", PropKind::kScript, 11},     {"HAN", PropKind::kScript, 12},
    {"HANI", PropKind::kScript, 12},
};

// Binary properties (usable bare, with an "Is" prefix, or as name=Yes/No).
const Named kBinary[] = {
    {"ANY", PropKind::kAny, 0},
    {"ALPHA", PropKind::kAlphabetic, 0},
    {"ALPHABETIC", PropKind::kAlphabetic, 0},
    {"WHITESPACE", PropKind::kWhiteSpace, 0},
    {"WSPACE", PropKind::kWhiteSpace, 0},
    {"SPACE", PropKind::kWhiteSpace, 0},
    {"WORD", PropKind::kWord, 0},
    {"BLANK", PropKind::kBlank, 0},
    {"HORIZSPACE", PropKind::kBlank, 0},
    {"H", PropKind::kBlank, 0},
    {"VERTSPACE", PropKind::kVertSpace, 0},
    {"V", PropKind::kVertSpace, 0},
    {"UPPER", PropKind::kUppercase, 0},
    {"UPPERCASE", PropKind::kUppercase, 0},
    {"LOWER", PropKind::kLowercase, 0},
    {"LOWERCASE", PropKind::kLowercase, 0},
    {"GRAPH", PropKind::kGraph, 0},
    {"PRINT", PropKind::kPrint, 0},
    {"XDIGIT", PropKind::kXDigit, 0},
    {"POSIXDIGIT", PropKind::kPosixDigit, 0},
    {"POSIXALNUM", PropKind::kPosixAlnum, 0},
    {"POSIXPUNCT", PropKind::kPosixPunct, 0},
    {"POSIXXDIGIT", PropKind::kPosixXDigit, 0},
};

std::string standardise(std::u32string_view name) {
  std::string out;
  for (char32_t c : name) {
    if (c == ' ' || c == '_' || c == '-') continue;
    out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : static_cast<char>(c));
  }
  return out;
}

template <size_t N>
const Named* find(const Named (&table)[N], const std::string& name) {
  for (const Named& n : table)
    if (name == n.name) return &n;
  return nullptr;
}

bool set_from(const Named* n, bool positive, Property& out) {
  if (n == nullptr) return false;
  out = Property{n->kind, n->value, positive};
  return true;
}

bool in(char32_t c, char32_t lo, char32_t hi) { return c >= lo && c <= hi; }

// Circled and parenthesised letters: symbols (So) with Alphabetic and case.
bool is_letter_symbol_upper(char32_t c) {
  return in(c, 0x24B6, 0x24CF) || in(c, 0x1F130, 0x1F149) || in(c, 0x1F150, 0x1F169) ||
         in(c, 0x1F170, 0x1F189) || in(c, 0x2160, 0x216F);
}
bool is_letter_symbol_lower(char32_t c) { return in(c, 0x24D0, 0x24E9) || in(c, 0x2170, 0x217F); }

bool is_alphabetic(char32_t c) {
  int cat = category(c);
  return (bit(cat) & kLetters) != 0 || cat == UTF8PROC_CATEGORY_NL || c == 0x345 ||
         is_letter_symbol_upper(c) || is_letter_symbol_lower(c);
}

bool in_script(char32_t c, uint32_t script) {
  // The table lists each script's ranges together and in order.
  const ScriptRange* first = std::begin(kScriptRanges);
  const ScriptRange* last = std::end(kScriptRanges);
  first = std::find_if(first, last, [&](const ScriptRange& r) { return r.script == static_cast<int>(script); });
  for (; first != last && first->script == static_cast<int>(script) && first->lo <= c; ++first)
    if (c <= first->hi) return true;
  return false;
}

bool has_property_raw(PropKind kind, uint32_t value, char32_t c) {
  const int cat = category(c);
  switch (kind) {
    case PropKind::kCategoryMask: return (bit(cat) & value) != 0;
    case PropKind::kScript: return in_script(c, value);
    case PropKind::kAny: return true;
    case PropKind::kAlphabetic: return is_alphabetic(c);
    case PropKind::kWhiteSpace: return is_white_space(c);
    case PropKind::kWord: return is_word_char(c);
    case PropKind::kBlank: return c == '\t' || cat == UTF8PROC_CATEGORY_ZS;
    case PropKind::kVertSpace: return in(c, 0x0A, 0x0D) || c == 0x85 || c == 0x2028 || c == 0x2029;
    case PropKind::kUppercase: return cat == UTF8PROC_CATEGORY_LU || is_letter_symbol_upper(c);
    case PropKind::kLowercase: return cat == UTF8PROC_CATEGORY_LL || is_letter_symbol_lower(c);
    case PropKind::kGraph:
      return cat != UTF8PROC_CATEGORY_CN && cat != UTF8PROC_CATEGORY_CC &&
             cat != UTF8PROC_CATEGORY_CS && !is_white_space(c);
    case PropKind::kPrint:
      return (has_property_raw(PropKind::kGraph, 0, c) || has_property_raw(PropKind::kBlank, 0, c)) &&
             cat != UTF8PROC_CATEGORY_CC;
    case PropKind::kXDigit:
      return cat == UTF8PROC_CATEGORY_ND || has_property_raw(PropKind::kPosixXDigit, 0, c) ||
             in(c, 0xFF21, 0xFF26) || in(c, 0xFF41, 0xFF46);
    case PropKind::kPosixDigit: return in(c, '0', '9');
    case PropKind::kPosixAlnum: return is_alphabetic(c) || in(c, '0', '9');
    case PropKind::kPosixPunct: return (bit(cat) & (kPunct | kSymbols)) != 0 && !is_alphabetic(c);
    case PropKind::kPosixXDigit: return in(c, '0', '9') || in(c, 'A', 'F') || in(c, 'a', 'f');
  }
  return false;
}

// Characters whose simple fold is not reached from the fold by the upper,
// title or lower mapping (CaseFolding.txt C/S entries onto another letter).
const char32_t kFoldExtras[] = {0x00B5, 0x017F, 0x0345, 0x03C2, 0x03D0, 0x03D1, 0x03D5,
                                0x03D6, 0x03F0, 0x03F1, 0x03F4, 0x03F5, 0x1C80, 0x1C81,
                                0x1C82, 0x1C83, 0x1C84, 0x1C85, 0x1C86, 0x1C87, 0x1C88,
                                0x1E9B, 0x1E9E, 0x1FBE, 0x2126, 0x212A, 0x212B};

// The module's case table links the dotted capital and the dotless small i to
// the ASCII letter their lower / upper case mapping gives, one way each:
// İ~i and ı~I, though neither folds with the other ASCII letter.
char32_t turkic_partner(char32_t c) {
  switch (c) {
    case 0x130: return 'i';
    case 0x131: return 'I';
    case 'i': return 0x130;
    case 'I': return 0x131;
    default: return 0;
  }
}

}  // namespace

bool is_word_char(char32_t c) { return is_regex_word(c); }

bool is_white_space(char32_t c) {
  return in(c, 0x09, 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 ||
         in(c, 0x2000, 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F ||
         c == 0x3000;
}

bool lookup_property(std::u32string_view prop, std::u32string_view value, bool posix,
                     Property& out) {
  std::string v = standardise(value);
  if (!prop.empty()) {
    std::string p = standardise(prop);
    if (p == "GC" || p == "GENERALCATEGORY") return set_from(find(kCategories, v), true, out);
    if (p == "SC" || p == "SCRIPT") return set_from(find(kScripts, v), true, out);
    const Named* b = find(kBinary, p);
    if (b == nullptr) return false;
    if (v == "YES" || v == "Y" || v == "TRUE" || v == "T") return set_from(b, true, out);
    if (v == "NO" || v == "N" || v == "FALSE" || v == "F") return set_from(b, false, out);
    return false;
  }
  // [[:alnum:]], [[:digit:]], [[:punct:]] and [[:xdigit:]] have POSIX meanings.
  if (posix && (v == "ALNUM" || v == "DIGIT" || v == "PUNCT" || v == "XDIGIT")) v = "POSIX" + v;
  if (set_from(find(kCategories, v), true, out) || set_from(find(kScripts, v), true, out) ||
      set_from(find(kBinary, v), true, out))
    return true;
  if (v.size() > 2 && v.compare(0, 2, "IS") == 0) {
    std::string rest = v.substr(2);
    return set_from(find(kBinary, rest), true, out) || set_from(find(kScripts, rest), true, out);
  }
  return false;
}

bool has_property(const Property& p, char32_t c, bool ignore_case) {
  bool result;
  const uint32_t cased_letter = kCased;
  if (ignore_case && p.kind == PropKind::kCategoryMask &&
      (p.value == bit(UTF8PROC_CATEGORY_LU) || p.value == bit(UTF8PROC_CATEGORY_LL) ||
       p.value == bit(UTF8PROC_CATEGORY_LT))) {
    result = (bit(category(c)) & cased_letter) != 0;
  } else if (ignore_case && (p.kind == PropKind::kUppercase || p.kind == PropKind::kLowercase)) {
    result = has_property_raw(PropKind::kUppercase, 0, c) ||
             has_property_raw(PropKind::kLowercase, 0, c) || category(c) == UTF8PROC_CATEGORY_LT;
  } else {
    result = has_property_raw(p.kind, p.value, c);
  }
  return result == p.positive;
}

char32_t simple_fold(char32_t c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z' ? c + 32 : c;
  // The dotted and dotless i fold only under the Turkic (T) mappings.
  if (c == 0x130 || c == 0x131) return c;
  auto up = utf8proc_toupper(static_cast<utf8proc_int32_t>(c));
  return static_cast<char32_t>(utf8proc_tolower(up));
}

int case_variants(char32_t c, char32_t out[8]) {
  int n = 0;
  auto add = [&](char32_t x) {
    if (n < 8 && std::find(out, out + n, x) == out + n) out[n++] = x;
  };
  add(c);
  if (const char32_t t = turkic_partner(c)) add(t);
  if (c < 0x80) {  // the common case, without utf8proc
    const char32_t lower = c | 0x20;
    if (lower < 'a' || lower > 'z') return n;
    add(c ^ 0x20);
    if (lower == 'k') add(0x212A);  // KELVIN SIGN
    if (lower == 's') add(0x17F);   // LATIN SMALL LETTER LONG S
    return n;
  }
  const char32_t f = simple_fold(c);
  add(f);
  for (auto m : {utf8proc_toupper(static_cast<utf8proc_int32_t>(f)),
                 utf8proc_totitle(static_cast<utf8proc_int32_t>(f)),
                 utf8proc_tolower(static_cast<utf8proc_int32_t>(f))}) {
    if (simple_fold(static_cast<char32_t>(m)) == f) add(static_cast<char32_t>(m));
  }
  static const std::vector<char32_t> extra_folds = [] {
    std::vector<char32_t> folds;
    for (char32_t x : kFoldExtras) folds.push_back(simple_fold(x));
    return folds;
  }();
  for (size_t i = 0; i < extra_folds.size(); ++i)
    if (extra_folds[i] == f) add(kFoldExtras[i]);
  return n;
}

bool same_char_ignore_case(char32_t a, char32_t b) {
  return a == b || simple_fold(a) == simple_fold(b) || turkic_partner(a) == b;
}

void full_fold(char32_t c, std::u32string& out) {
  utf8proc_int32_t buf[8];
  int boundclass = 0;
  utf8proc_ssize_t n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c), buf, 8,
                                               UTF8PROC_CASEFOLD, &boundclass);
  if (n <= 0 || n > 8) {
    out.push_back(simple_fold(c));
    return;
  }
  for (utf8proc_ssize_t i = 0; i < n; ++i) out.push_back(static_cast<char32_t>(buf[i]));
}

}  // namespace fid::text::regex_detail
