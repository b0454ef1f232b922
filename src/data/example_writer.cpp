#include "data/example_writer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "data/diagnose.h"

namespace fid::data {
namespace {

void append_number(std::string& out, double v, const char* what) {
  FID_CHECK(std::isfinite(v), what, " is ", v, ": JSON has no NaN or infinity");
  char tmp[32];
  auto r = std::to_chars(tmp, tmp + sizeof tmp, v);  // shortest text that reads back exactly
  out.append(tmp, r.ptr);
}

void append_checked(std::string& out, std::string_view s, const Example& ex, const char* field,
                    int64_t index = -1) {
  if (!append_json_string(out, s)) {
    std::string name = field;
    if (index >= 0) name = "ctxs[" + std::to_string(index) + "]." + name;
    FID_THROW("example '", ex.id, "': field '", name, "' is not valid UTF-8 (byte ",
              first_invalid_utf8(s.data(), s.size()), " of \"", excerpt(s.data(), s.size()),
              "\"); fix the text before writing it");
  }
}

}  // namespace

bool append_json_string(std::string& out, std::string_view s) {
  if (!valid_utf8(s.data(), s.size())) return false;
  out.push_back('"');
  size_t run = 0;  // start of the pending span that needs no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default: {
        char hex[8];
        std::snprintf(hex, sizeof hex, "\\u%04x", c);
        out += hex;
      }
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
  return true;
}

std::string example_to_json(const Example& ex) {
  std::string out;
  out.reserve(256 + ex.ctxs.size() * 700);
  out += "{\"id\":";
  append_checked(out, ex.id, ex, "id");
  out += ",\"question\":";
  append_checked(out, ex.question, ex, "question");
  if (ex.has_target) {
    out += ",\"target\":";
    append_checked(out, ex.target, ex, "target");
  }
  out += ",\"answers\":[";
  for (size_t i = 0; i < ex.answers.size(); ++i) {
    if (i) out += ',';
    append_checked(out, ex.answers[i], ex, "answers");
  }
  out += "],\"ctxs\":[";
  for (size_t i = 0; i < ex.ctxs.size(); ++i) {
    const Context& c = ex.ctxs[i];
    const auto j = static_cast<int64_t>(i);
    out += i ? ",{\"id\":" : "{\"id\":";
    append_checked(out, c.id, ex, "id", j);
    out += ",\"title\":";
    append_checked(out, c.title, ex, "title", j);
    out += ",\"text\":";
    append_checked(out, c.text, ex, "text", j);
    if (c.has_score) {
      out += ",\"score\":";
      append_number(out, c.score, "a ctx score");
    }
    if (!c.score_origin.empty()) {
      out += ",\"score_origin\":";
      append_checked(out, c.score_origin, ex, kScoreOriginField, j);
    }
    if (c.hasanswer >= 0) out += c.hasanswer ? ",\"hasanswer\":true" : ",\"hasanswer\":false";
    out += '}';
  }
  out += "]}";
  return out;
}

namespace {

double json_score(const nlohmann::ordered_json& ctx) {
  const auto& s = ctx.at("score");
  return s.is_string() ? std::stod(s.get<std::string>()) : s.get<double>();
}

}  // namespace

std::string with_reader_scores(std::string_view raw, const std::vector<double>& scores) {
  // ordered_json keeps the fields in their file order; nlohmann::json would sort them.
  nlohmann::ordered_json j;
  try {
    j = nlohmann::ordered_json::parse(raw.begin(), raw.end());
  } catch (const nlohmann::json::exception& e) {
    FID_THROW("cannot write reader scores: the example's JSON is invalid (", e.what(), ")");
  }
  FID_CHECK(j.is_object(), "cannot write reader scores: the example is not a JSON object");
  auto it = j.find("ctxs");
  const size_t n_ctxs = (it != j.end() && it->is_array()) ? it->size() : 0;
  const std::string id = j.contains("id") ? j["id"].dump() : "(no id)";
  FID_CHECK(scores.size() <= n_ctxs, "cannot write reader scores of example ", id, ": ",
            scores.size(), " scores for ", n_ctxs, " ctxs");
  if (n_ctxs == 0) return j.dump();
  std::vector<nlohmann::ordered_json> ctxs(it->begin(), it->end());
  for (size_t k = 0; k < ctxs.size(); ++k) {
    FID_CHECK(ctxs[k].is_object(), "cannot write reader scores of example ", id, ": ctxs[", k,
              "] is not an object");
  }
  // The reader read the ctxs as the seed's Dataset orders them: a stable
  // sort by score, highest first, when the first ctx has a score.
  if (ctxs[0].contains("score") && !ctxs[0]["score"].is_null()) {
    std::stable_sort(ctxs.begin(), ctxs.end(), [](const auto& a, const auto& b) {
      const bool sa = a.contains("score") && !a["score"].is_null();
      const bool sb = b.contains("score") && !b["score"].is_null();
      if (sa != sb) return sa;
      return sa && json_score(a) > json_score(b);
    });
  }
  // Only the passages the reader scored are kept: a ranking that mixed reader
  // scores with the retrieval scores of unread passages would train the
  // retriever on passages the reader never saw.
  ctxs.resize(scores.size());
  for (size_t k = 0; k < scores.size(); ++k) {
    FID_CHECK(std::isfinite(scores[k]), "reader score of ctx ", k, " of example ", id, " is ",
              scores[k], ": JSON has no NaN or infinity");
    auto& ctx = ctxs[k];
    if (ctx.contains("score") && !ctx["score"].is_null()) {
      ctx[kRetrievalScoreField] = json_score(ctx);
    }
    ctx["score"] = scores[k];
    ctx[kScoreOriginField] = kReaderScoreOrigin;
  }
  *it = nlohmann::ordered_json(ctxs);
  return j.dump();
}

ExampleWriter::ExampleWriter(const std::string& path, DatasetFormat format)
    : out_(path), format_(format) {
  if (format_ == DatasetFormat::kJsonArray) out_.buffer() += "[";
}

void ExampleWriter::begin_element() {
  FID_CHECK(!out_.committed(), "writing to '", out_.path(), "' after close()");
  if (format_ == DatasetFormat::kJsonArray) out_.buffer() += count_ ? ",\n" : "\n";
}

void ExampleWriter::end_element() {
  if (format_ == DatasetFormat::kJsonLines) out_.buffer() += '\n';
  ++count_;
  out_.maybe_flush();
}

void ExampleWriter::write(const Example& ex) {
  begin_element();
  out_.buffer() += example_to_json(ex);
  end_element();
}

void ExampleWriter::write_raw(std::string_view json) {
  begin_element();
  if (format_ == DatasetFormat::kJsonLines && json.find('\n') != std::string_view::npos) {
    out_.buffer() += nlohmann::ordered_json::parse(json.begin(), json.end()).dump();
  } else {
    out_.buffer().append(json.data(), json.size());
  }
  end_element();
}

void ExampleWriter::close() {
  if (out_.committed()) return;
  if (format_ == DatasetFormat::kJsonArray) out_.buffer() += count_ ? "\n]\n" : "]\n";
  out_.commit();
}

void write_examples(const std::string& path, const std::vector<Example>& examples,
                    DatasetFormat format) {
  ExampleWriter writer(path, format);
  for (const auto& ex : examples) writer.write(ex);
  writer.close();
}

}  // namespace fid::data
