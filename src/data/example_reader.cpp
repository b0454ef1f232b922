#include "data/example_reader.h"

#include <simdjson.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/round_robin.h"
#include "data/diagnose.h"
#include "data/json_splitter.h"

namespace fid::data {
namespace sj = simdjson;
namespace dom = simdjson::dom;
static_assert(kElementPadding >= sj::SIMDJSON_PADDING, "the splitter must leave simdjson's padding");

namespace {

const char* type_name(dom::element_type t) {
  switch (t) {
    case dom::element_type::ARRAY: return "a list";
    case dom::element_type::OBJECT: return "an object";
    case dom::element_type::INT64:
    case dom::element_type::UINT64:
    case dom::element_type::DOUBLE: return "a number";
    case dom::element_type::STRING: return "a string";
    case dom::element_type::BOOL: return "a boolean";
    case dom::element_type::NULL_VALUE: return "null";
  }
  return "an unknown value";
}

bool is_number(dom::element_type t) {
  return t == dom::element_type::INT64 || t == dom::element_type::UINT64 ||
         t == dom::element_type::DOUBLE;
}

// Names a field without building a string unless an error needs it:
// {"ctxs", 3, "text"} is ctxs[3].text, {nullptr, -1, "question"} is question.
struct FieldRef {
  const char* list = nullptr;
  int64_t index = -1;
  const char* name = nullptr;
  std::string str() const {
    std::string s = list ? list : "";
    if (list && index >= 0) s += "[" + std::to_string(index) + "]";
    if (name) s += (s.empty() ? "" : ".") + std::string(name);
    return s;
  }
};

// Parses one element into an Example. simdjson's DOM parser is used per
// element (its kernels are chosen at run time; the On Demand front end would
// be compiled for the baseline CPU); the DOM of one example is small and
// reused. Every failure names the file, the example, its line and the field.
class ExampleParser {
 public:
  ExampleParser(const ElementSplitter& splitter, const ReaderOptions& options)
      : splitter_(splitter), opt_(options) {}

  void parse(const Element& e, Example& ex) {
    e_ = &e;
    dom::element doc;
    if (auto err = parser_.parse(e.data, e.size, false).get(doc)) json_fail(err);
    dom::object obj;
    if (doc.get(obj)) fail({}, "is not a JSON object");
    bool has_question = false, has_id = false;
    ex.has_target = false;
    ex.target.clear();
    ex.answers.clear();
    size_t n_ctxs = 0;
    for (dom::key_value_pair kv : obj) {
      const std::string_view key = kv.key;
      if (key == "question") {
        read_string(kv.value, {nullptr, -1, "question"}, ex.question);
        has_question = true;
      } else if (key == "id") {
        has_id = read_id(kv.value, {nullptr, -1, "id"}, ex.id);
      } else if (key == "target") {
        if (!kv.value.is_null()) {
          read_string(kv.value, {nullptr, -1, "target"}, ex.target);
          ex.has_target = true;
        }
      } else if (key == "answers") {
        read_answers(kv.value, ex);
      } else if (key == "ctxs") {
        n_ctxs = read_ctxs(kv.value, ex);
      }
    }
    if (!has_question) fail({nullptr, -1, "question"}, "is missing: every example needs a question");
    if (!has_id) ex.id = std::to_string(e.index);
    ex.ctxs.resize(n_ctxs);
    if (opt_.require_ctxs && ex.ctxs.empty()) {
      fail({nullptr, -1, "ctxs"}, "is missing or empty: this step needs retrieved passages "
                                  "(run `fid retrieve` or `fid bm25` to add them)");
    }
    finish_ctxs(ex);
  }

 private:
  [[noreturn]] void fail(const FieldRef& f, const std::string& what) const {
    const std::string name = f.str();
    if (name.empty()) FID_THROW(splitter_.where(*e_), ": ", what);
    FID_THROW(splitter_.where(*e_), ": field '", name, "' ", what);
  }

  // simdjson says what is wrong but not where: the failure path re-reads the
  // element to find the offending byte and so the field that holds it.
  [[noreturn]] void json_fail(sj::error_code err) const {
    const char* data = e_->data;
    const size_t size = e_->size;
    if (err == sj::UTF8_ERROR || err == sj::UNESCAPED_CHARS) {
      const size_t at = first_invalid_utf8(data, size);
      if (at < size) {
        char hex[8];
        std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned char>(data[at]));
        FID_THROW(splitter_.where(*e_), ": field '", json_path_at(data, size, at),
                  "' holds invalid UTF-8 (byte ", hex, " at offset ", at,
                  " of the example); the dataset must be UTF-8 encoded");
      }
    }
    size_t at = size;
    std::string detail;
    try {
      const auto parsed = nlohmann::json::parse(data, data + size);
      (void)parsed;
    } catch (const nlohmann::json::parse_error& pe) {
      at = pe.byte > 0 ? std::min(pe.byte - 1, size) : 0;
      detail = pe.what();
    } catch (const nlohmann::json::exception& je) {
      detail = je.what();
    }
    FID_THROW(splitter_.where(*e_), ": field '", json_path_at(data, size, at),
              "' is not valid JSON: ", sj::error_message(err),
              detail.empty() ? "" : " (" + detail + ")", "; is the file truncated or corrupted?");
  }

  void read_string(dom::element v, const FieldRef& f, std::string& out) const {
    std::string_view s;
    if (v.get(s)) fail(f, detail::concat("must be a string, got ", type_name(v.type())));
    out.assign(s.data(), s.size());
  }

  // Ids are strings or integers; integers are kept as their decimal text.
  bool read_id(dom::element v, const FieldRef& f, std::string& out) const {
    const dom::element_type t = v.type();
    if (t == dom::element_type::NULL_VALUE) return false;
    if (t == dom::element_type::STRING) {
      read_string(v, f, out);
    } else if (t == dom::element_type::INT64) {
      out = std::to_string(int64_t(v));
    } else if (t == dom::element_type::UINT64) {
      out = std::to_string(uint64_t(v));
    } else {
      fail(f, detail::concat("must be a string or an integer, got ", type_name(t)));
    }
    return true;
  }

  void read_answers(dom::element v, Example& ex) const {
    const FieldRef f{nullptr, -1, "answers"};
    if (v.is_null()) return;
    dom::array arr;
    if (v.get(arr)) fail(f, detail::concat("must be a list of strings, got ", type_name(v.type())));
    int64_t i = 0;
    for (dom::element item : arr) {
      ex.answers.emplace_back();
      read_string(item, {"answers", i++, nullptr}, ex.answers.back());
    }
  }

  // A score is a number, or a numeric string as DPR writes it.
  void read_score(dom::element v, const FieldRef& f, Context& c) const {
    const dom::element_type t = v.type();
    if (t == dom::element_type::NULL_VALUE) return;
    if (is_number(t)) {
      c.score = double(v);
    } else if (t == dom::element_type::STRING) {
      std::string_view s = v;
      while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
      while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
      auto r = std::from_chars(s.data(), s.data() + s.size(), c.score);
      if (s.empty() || r.ec != std::errc() || r.ptr != s.data() + s.size()) {
        fail(f, detail::concat("is \"", excerpt(s.data(), s.size()), "\", which is not a number"));
      }
    } else {
      fail(f, detail::concat("must be a number or a numeric string, got ", type_name(t)));
    }
    c.has_score = true;
  }

  void read_context(dom::element v, int64_t i, Context& c) const {
    dom::object obj;
    if (v.get(obj)) fail({"ctxs", i, nullptr}, detail::concat("must be an object, got ", type_name(v.type())));
    c.id.clear();
    c.has_score = false;
    c.score = 0.0;
    c.hasanswer = -1;
    c.score_origin.clear();
    bool has_title = false, has_text = false;
    for (dom::key_value_pair kv : obj) {
      const std::string_view key = kv.key;
      if (key == "text") {
        read_string(kv.value, {"ctxs", i, "text"}, c.text);
        has_text = true;
      } else if (key == "title") {
        read_string(kv.value, {"ctxs", i, "title"}, c.title);
        has_title = true;
      } else if (key == "id") {
        read_id(kv.value, {"ctxs", i, "id"}, c.id);
      } else if (key == "score") {
        read_score(kv.value, {"ctxs", i, "score"}, c);
      } else if (key == kScoreOriginField) {
        if (!kv.value.is_null()) read_string(kv.value, {"ctxs", i, kScoreOriginField}, c.score_origin);
      } else if (key == "hasanswer") {
        if (kv.value.is_null()) continue;
        bool b;
        if (kv.value.get(b)) {
          fail({"ctxs", i, "hasanswer"},
               detail::concat("must be true or false, got ", type_name(kv.value.type())));
        }
        c.hasanswer = b ? 1 : 0;
      }
    }
    if (!has_text) fail({"ctxs", i, "text"}, "is missing: every passage needs a text");
    if (!has_title) fail({"ctxs", i, "title"}, "is missing: every passage needs a title");
  }

  // Parses the ctxs into ex.ctxs (reusing its strings); returns how many.
  size_t read_ctxs(dom::element v, Example& ex) const {
    const FieldRef f{nullptr, -1, "ctxs"};
    if (v.is_null()) return 0;
    dom::array arr;
    if (v.get(arr)) fail(f, detail::concat("must be a list of passages, got ", type_name(v.type())));
    // Without sorting, passages past n_context are not converted.
    const bool cut = opt_.n_context >= 0 && !opt_.sort_by_score;
    size_t n = 0;
    for (dom::element item : arr) {
      if (cut && static_cast<int64_t>(n) >= opt_.n_context) break;
      if (n == ex.ctxs.size()) ex.ctxs.emplace_back();
      read_context(item, static_cast<int64_t>(n), ex.ctxs[n]);
      ++n;
    }
    return n;
  }

  void finish_ctxs(Example& ex) const {
    auto& ctxs = ex.ctxs;
    if (opt_.sort_by_score && !ctxs.empty() && ctxs[0].has_score) {
      // Stable, highest first, like Python's sort(reverse=True); unscored last.
      std::stable_sort(ctxs.begin(), ctxs.end(), [](const Context& a, const Context& b) {
        if (a.has_score != b.has_score) return a.has_score;
        return a.has_score && a.score > b.score;
      });
    }
    if (opt_.n_context >= 0 && static_cast<int64_t>(ctxs.size()) > opt_.n_context) {
      ctxs.resize(static_cast<size_t>(opt_.n_context));
    }
  }

  const ElementSplitter& splitter_;
  const ReaderOptions& opt_;
  dom::parser parser_;
  const Element* e_ = nullptr;
};

}  // namespace

struct ExampleReader::Impl {
  Impl(const std::string& path, ReaderOptions options)
      : opt(std::move(options)), splitter(path, opt.buffer_bytes), parser(splitter, opt) {}
  ReaderOptions opt;
  ElementSplitter splitter;
  ExampleParser parser;
  int64_t index = -1;
};

ExampleReader::ExampleReader(const std::string& path, ReaderOptions options) {
  FID_CHECK(options.shard_world >= 1 && options.shard_rank >= 0 &&
                options.shard_rank < options.shard_world,
            "reading '", path, "': shard ", options.shard_rank, " of ", options.shard_world,
            " is not a valid shard (need 0 <= rank < world)");
  impl_ = std::make_unique<Impl>(path, std::move(options));
}

ExampleReader::~ExampleReader() = default;
ExampleReader::ExampleReader(ExampleReader&&) noexcept = default;
ExampleReader& ExampleReader::operator=(ExampleReader&&) noexcept = default;

bool ExampleReader::next(Example& ex) {
  Element e;
  const int world = impl_->opt.shard_world;
  while (impl_->splitter.next(e)) {
    if (!owns_item(e.index, impl_->opt.shard_rank, world)) continue;
    impl_->parser.parse(e, ex);
    if (impl_->opt.keep_raw) {
      ex.raw.assign(e.data, e.size);
    } else {
      ex.raw.clear();
    }
    impl_->index = e.index;
    return true;
  }
  return false;
}

int64_t ExampleReader::index() const { return impl_->index; }
DatasetFormat ExampleReader::format() const { return impl_->splitter.format(); }
const std::string& ExampleReader::path() const { return impl_->splitter.path(); }

void parse_example_element(const ElementSplitter& splitter, const Element& element,
                           const ReaderOptions& options, Example& ex) {
  ExampleParser parser(splitter, options);
  parser.parse(element, ex);
  ex.raw.clear();
  if (options.keep_raw) ex.raw.assign(element.data, element.size);
}

int64_t count_examples(const std::string& path) {
  ElementSplitter splitter(path, 8u << 20);
  Element e;
  int64_t n = 0;
  while (splitter.next(e)) ++n;
  return n;
}

std::vector<Example> read_examples(const std::string& path, const ReaderOptions& options) {
  ExampleReader reader(path, options);
  std::vector<Example> out;
  Example ex;
  while (reader.next(ex)) out.push_back(std::move(ex));
  return out;
}

}  // namespace fid::data
