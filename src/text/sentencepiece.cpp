#include "text/sentencepiece.h"

#include <dlfcn.h>
#include <unistd.h>

#include <atomic>
#include <climits>
#include <cstdlib>
#include <mutex>
#include <unordered_map>

#include "common/error.h"
#include "common/files.h"
#include "text/spm_api.h"

#ifndef FID_SPM_BUILD_PATH
#define FID_SPM_BUILD_PATH ""
#endif

namespace fid::text {
namespace {

// The function table of libfid_spm, resolved once per process.
struct SpmApi {
  std::string path;
  decltype(&fid_spm_last_error) last_error;
  decltype(&fid_spm_load_file) load_file;
  decltype(&fid_spm_load_bytes) load_bytes;
  decltype(&fid_spm_free_model) free_model;
  decltype(&fid_spm_piece_size) piece_size;
  decltype(&fid_spm_id_to_piece) id_to_piece;
  decltype(&fid_spm_piece_to_id) piece_to_id;
  decltype(&fid_spm_piece_type) piece_type;
  decltype(&fid_spm_encode_ids) encode_ids;
  decltype(&fid_spm_encode_pieces) encode_pieces;
  decltype(&fid_spm_decode_pieces) decode_pieces;
  decltype(&fid_spm_train) train;
};

std::string executable_dir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "";
  return parent_path(std::string(buf, static_cast<size_t>(n)));
}

template <typename T>
void resolve(void* lib, const std::string& path, const char* name, T& fn) {
  fn = reinterpret_cast<T>(dlsym(lib, name));
  FID_CHECK(fn != nullptr, path, " lacks ", name, ": a libfid_spm from another build? Rebuild, or ",
            "point FID_SPM_LIBRARY at this build's lib/libfid_spm.so");
}

SpmApi load_api() {
  std::vector<std::string> candidates;
  if (const char* env = std::getenv("FID_SPM_LIBRARY"); env != nullptr && *env != '\0') {
    candidates.emplace_back(env);
  } else {
    std::string exe = executable_dir();
    if (!exe.empty()) {
      candidates.push_back(exe + "/../lib/libfid_spm.so");
      candidates.push_back(exe + "/libfid_spm.so");
    }
    if (*FID_SPM_BUILD_PATH != '\0') candidates.emplace_back(FID_SPM_BUILD_PATH);
    candidates.emplace_back("libfid_spm.so");
  }
  std::string tried;
  for (const std::string& path : candidates) {
    bool bare = path.find('/') == std::string::npos;
    if (!bare && !path_exists(path)) {
      tried += "\n  " + path + " (absent)";
      continue;
    }
    // DEEPBIND: sentencepiece must bind to its own protobuf-lite, never to
    // the libprotobuf that LibTorch has already put in the global scope.
    void* lib = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    if (lib == nullptr) {
      tried += "\n  " + path + " (" + dlerror() + ")";
      continue;
    }
    SpmApi api;
    api.path = path;
    decltype(&fid_spm_api_version) version = nullptr;
    resolve(lib, path, "fid_spm_api_version", version);
    FID_CHECK(version() == FID_SPM_API_VERSION, path, " has API version ", version(),
              ", this program needs ", FID_SPM_API_VERSION, ": rebuild, or point FID_SPM_LIBRARY at ",
              "the libfid_spm.so of this build");
    resolve(lib, path, "fid_spm_last_error", api.last_error);
    resolve(lib, path, "fid_spm_load_file", api.load_file);
    resolve(lib, path, "fid_spm_load_bytes", api.load_bytes);
    resolve(lib, path, "fid_spm_free_model", api.free_model);
    resolve(lib, path, "fid_spm_piece_size", api.piece_size);
    resolve(lib, path, "fid_spm_id_to_piece", api.id_to_piece);
    resolve(lib, path, "fid_spm_piece_to_id", api.piece_to_id);
    resolve(lib, path, "fid_spm_piece_type", api.piece_type);
    resolve(lib, path, "fid_spm_encode_ids", api.encode_ids);
    resolve(lib, path, "fid_spm_encode_pieces", api.encode_pieces);
    resolve(lib, path, "fid_spm_decode_pieces", api.decode_pieces);
    resolve(lib, path, "fid_spm_train", api.train);
    return api;
  }
  FID_THROW("cannot load libfid_spm.so (the sentencepiece library of fid); tried:", tried,
            "\nBuild the fid_spm target, or set FID_SPM_LIBRARY to its path");
}

const SpmApi& api() {
  // A failed load is retried on the next call (the error is thrown each time).
  static std::mutex mutex;
  static std::unique_ptr<SpmApi> loaded;
  std::lock_guard<std::mutex> lock(mutex);
  if (!loaded) loaded = std::make_unique<SpmApi>(load_api());
  return *loaded;
}

}  // namespace

std::string spm_library_path() { return api().path; }

SentencePieceModel::SentencePieceModel(fid_spm_model* handle, std::string name)
    : handle_(handle), name_(std::move(name)) {
  piece_size_ = api().piece_size(handle_);
  piece_type_.resize(static_cast<size_t>(piece_size_));
  bool inner_space = false;
  for (int i = 0; i < piece_size_; ++i) {
    piece_type_[static_cast<size_t>(i)] = static_cast<uint8_t>(api().piece_type(handle_, i));
    if (piece_type_[static_cast<size_t>(i)] != 0) continue;
    std::string_view p = id_to_piece(i);
    // "▁" (U+2581) anywhere but at the start: pieces may span words.
    size_t at = p.find("\xE2\x96\x81", 1);
    inner_space = inner_space || at != std::string_view::npos;
  }
  std::vector<std::string> probe = encode_pieces("a");
  bool dummy_prefix = !probe.empty() && probe[0].compare(0, 3, "\xE2\x96\x81") == 0;
  word_split_exact_ = !inner_space && dummy_prefix;
  static std::atomic<uint64_t> next_key{1};
  cache_key_ = next_key++;
}

SentencePieceModel SentencePieceModel::load(const std::string& path) {
  FID_CHECK(path_exists(path), "sentencepiece model ", path,
            " does not exist: give the model directory holding spiece.model");
  FID_CHECK(!is_directory(path), "sentencepiece model ", path, " is a directory, not a .model file");
  fid_spm_model* handle = api().load_file(path.c_str());
  FID_CHECK(handle != nullptr, "cannot load sentencepiece model ", path, ": ", api().last_error(),
            " (is it a sentencepiece .model file, complete and uncorrupted?)");
  return SentencePieceModel(handle, path);
}

SentencePieceModel SentencePieceModel::from_bytes(std::string_view serialized,
                                                  const std::string& name) {
  fid_spm_model* handle = api().load_bytes(serialized.data(), serialized.size());
  FID_CHECK(handle != nullptr, "cannot load sentencepiece model ", name, ": ", api().last_error());
  return SentencePieceModel(handle, name);
}

SentencePieceModel::SentencePieceModel(SentencePieceModel&& other) noexcept { *this = std::move(other); }

SentencePieceModel& SentencePieceModel::operator=(SentencePieceModel&& other) noexcept {
  if (this != &other) {
    if (handle_ != nullptr) api().free_model(handle_);
    handle_ = other.handle_;
    other.handle_ = nullptr;
    name_ = std::move(other.name_);
    piece_size_ = other.piece_size_;
    piece_type_ = std::move(other.piece_type_);
    word_split_exact_ = other.word_split_exact_;
    cache_key_ = other.cache_key_;
  }
  return *this;
}

SentencePieceModel::~SentencePieceModel() {
  if (handle_ != nullptr) api().free_model(handle_);
}

std::string_view SentencePieceModel::id_to_piece(int id) const {
  size_t len = 0;
  const char* p = api().id_to_piece(handle_, id, &len);
  FID_CHECK(p != nullptr, "id ", id, " is outside the ", piece_size_, " pieces of ", name_);
  return std::string_view(p, len);
}

int SentencePieceModel::piece_to_id(std::string_view piece) const {
  return api().piece_to_id(handle_, piece.data(), piece.size());
}

bool SentencePieceModel::is_control(int id) const {
  return id >= 0 && id < piece_size_ && piece_type_[static_cast<size_t>(id)] == 1;
}

bool SentencePieceModel::is_unknown(int id) const {
  return id >= 0 && id < piece_size_ && piece_type_[static_cast<size_t>(id)] == 2;
}

void SentencePieceModel::encode(std::string_view text, std::vector<int32_t>& out) const {
  size_t base = out.size();
  // A piece covers at least one byte (the dummy prefix adds one): len + 2 is
  // almost always enough, so one call suffices.
  out.resize(base + text.size() + 2);
  long n = api().encode_ids(handle_, text.data(), text.size(), out.data() + base, text.size() + 2);
  FID_CHECK(n >= 0, "sentencepiece encoding failed with ", name_, ": ", api().last_error());
  if (static_cast<size_t>(n) > text.size() + 2) {
    out.resize(base + static_cast<size_t>(n));
    n = api().encode_ids(handle_, text.data(), text.size(), out.data() + base, static_cast<size_t>(n));
    FID_CHECK(n >= 0, "sentencepiece encoding failed with ", name_, ": ", api().last_error());
  }
  out.resize(base + static_cast<size_t>(n));
}

void SentencePieceModel::encode_cached(std::string_view text, std::vector<int32_t>& out) const {
  if (!word_split_exact_) {
    encode(text, out);
    return;
  }
  // Per-thread cache of word -> ids, emptied when it grows too large.
  struct Cache {
    uint64_t key = 0;
    std::unordered_map<std::string, std::vector<int32_t>> words;
  };
  thread_local Cache cache;
  if (cache.key != cache_key_ || cache.words.size() > (1u << 18)) {
    cache.words.clear();
    cache.key = cache_key_;
  }
  thread_local std::string word;
  // Words end at a single ASCII space between two other bytes; runs of
  // spaces and the text's ends stay inside a word for sentencepiece to see.
  size_t start = 0;
  auto flush = [&](size_t end) {
    std::string_view w = text.substr(start, end - start);
    if (w.size() > 48) {
      encode(w, out);
      return;
    }
    word.assign(w);
    auto it = cache.words.find(word);
    if (it == cache.words.end()) it = cache.words.emplace(word, encode(w)).first;
    out.insert(out.end(), it->second.begin(), it->second.end());
  };
  for (size_t i = 1; i + 1 < text.size(); ++i) {
    if (text[i] == ' ' && text[i - 1] != ' ' && text[i + 1] != ' ') {
      flush(i);
      start = i + 1;
    }
  }
  flush(text.size());
}

std::vector<int32_t> SentencePieceModel::encode(std::string_view text) const {
  std::vector<int32_t> out;
  encode(text, out);
  return out;
}

std::vector<std::string> SentencePieceModel::encode_pieces(std::string_view text) const {
  std::string bytes(text.size() * 2 + 16, '\0');
  std::vector<size_t> ends(text.size() + 2);
  size_t needed = 0;
  long n = 0;
  for (int attempt = 0; attempt < 2; ++attempt) {
    n = api().encode_pieces(handle_, text.data(), text.size(), bytes.data(), bytes.size(), &needed,
                            ends.data(), ends.size());
    FID_CHECK(n >= 0, "sentencepiece encoding failed with ", name_, ": ", api().last_error());
    if (needed <= bytes.size() && static_cast<size_t>(n) <= ends.size()) break;
    bytes.resize(needed);
    ends.resize(static_cast<size_t>(n));
  }
  std::vector<std::string> pieces;
  size_t begin = 0;
  for (long i = 0; i < n; ++i) {
    pieces.emplace_back(bytes.data() + begin, ends[static_cast<size_t>(i)] - begin);
    begin = ends[static_cast<size_t>(i)];
  }
  return pieces;
}

std::string SentencePieceModel::decode_pieces(const std::vector<std::string_view>& pieces) const {
  std::vector<const char*> ptrs;
  std::vector<size_t> lens;
  size_t total = 16;
  for (std::string_view p : pieces) {
    ptrs.push_back(p.data());
    lens.push_back(p.size());
    total += p.size() + 4;  // an unknown piece may decode to " ⁇ "
  }
  std::string out(total, '\0');
  long n = api().decode_pieces(handle_, ptrs.data(), lens.data(), pieces.size(), out.data(), out.size());
  FID_CHECK(n >= 0, "sentencepiece decoding failed with ", name_, ": ", api().last_error());
  if (static_cast<size_t>(n) > out.size()) {
    out.resize(static_cast<size_t>(n));
    n = api().decode_pieces(handle_, ptrs.data(), lens.data(), pieces.size(), out.data(), out.size());
    FID_CHECK(n >= 0, "sentencepiece decoding failed with ", name_, ": ", api().last_error());
  }
  out.resize(static_cast<size_t>(n));
  return out;
}

namespace {
struct TrainFeed {
  const std::function<bool(std::string&)>* next;
  std::string current;
  bool failed = false;
  std::string error;
};

int feed_sentence(void* ctx, const char** text, size_t* len) {
  auto* feed = static_cast<TrainFeed*>(ctx);
  try {
    if (!(*feed->next)(feed->current)) return 0;
  } catch (const std::exception& e) {
    // Exceptions must not unwind through sentencepiece: report and stop.
    feed->failed = true;
    feed->error = e.what();
    return -1;
  }
  *text = feed->current.data();
  *len = feed->current.size();
  return 1;
}

void sink_model(void* ctx, const char* data, size_t size) {
  static_cast<std::string*>(ctx)->assign(data, size);
}
}  // namespace

std::string train_sentencepiece(const std::map<std::string, std::string>& options,
                                const std::function<bool(std::string&)>& next) {
  std::vector<const char*> keys;
  std::vector<const char*> values;
  for (const auto& [k, v] : options) {
    keys.push_back(k.c_str());
    values.push_back(v.c_str());
  }
  TrainFeed feed{&next, {}, false, {}};
  std::string model;
  int rc = api().train(keys.data(), values.data(), keys.size(), next ? feed_sentence : nullptr,
                       &feed, sink_model, &model);
  FID_CHECK(!feed.failed, "reading the training sentences failed: ", feed.error);
  FID_CHECK(rc == 0, "sentencepiece training failed: ", api().last_error());
  FID_CHECK(!model.empty(), "sentencepiece training produced no model");
  return model;
}

}  // namespace fid::text
