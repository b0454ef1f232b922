// libfid_spm: the only code of ours that links sentencepiece (see spm_api.h
// for why). Every entry point catches everything: an exception must never
// cross the C boundary into a process that dlopen'ed us.
#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <dlfcn.h>

#include <cstring>
#include <exception>
#include <iostream>
#include <mutex>
#include <new>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "text/spm_api.h"

#define FID_SPM_EXPORT extern "C" __attribute__((visibility("default")))

struct fid_spm_model {
  sentencepiece::SentencePieceProcessor sp;
};

namespace {

thread_local std::string g_last_error;

void set_error(std::string message) { g_last_error = std::move(message); }

template <typename F>
auto guarded(F&& f, decltype(f()) on_error) -> decltype(f()) {
  try {
    return f();
  } catch (const std::exception& e) {
    set_error(std::string("sentencepiece: ") + e.what());
  } catch (...) {
    set_error("sentencepiece: unknown exception");
  }
  return on_error;
}

bool check(const sentencepiece::util::Status& status) {
  if (status.ok()) return true;
  set_error(status.ToString());
  return false;
}

// Feeds the caller's sentences to the trainer.
class CallbackIterator : public sentencepiece::SentenceIterator {
 public:
  CallbackIterator(fid_spm_next_sentence next, void* ctx) : next_(next), ctx_(ctx) { Next(); }
  bool done() const override { return done_; }
  void Next() override {
    const char* text = nullptr;
    size_t len = 0;
    int rc = next_(ctx_, &text, &len);
    if (rc == 1) {
      value_.assign(text, len);
    } else {
      done_ = true;
      if (rc < 0) failed_ = true;
    }
  }
  const std::string& value() const override { return value_; }
  sentencepiece::util::Status status() const override {
    if (!failed_) return sentencepiece::util::Status();
    return sentencepiece::util::Status(sentencepiece::util::StatusCode::kDataLoss,
                                       "reading the training sentences failed");
  }

 private:
  fid_spm_next_sentence next_;
  void* ctx_;
  std::string value_;
  bool done_ = false;
  bool failed_ = false;
};

// Under RTLD_DEEPBIND, sentencepiece's references to std::cerr / std::cout
// bind to libstdc++'s own definitions. When the executable uses the streams it
// holds copy relocations of them, and only those copies are ever constructed:
// libstdc++'s originals stay raw storage, and sentencepiece's first log line
// crashes. Construct the originals as streams sharing the executable's
// buffers (our own &std::cerr is the original: we are bound the same way).
void repair_standard_streams() {
  static std::once_flag once;
  std::call_once(once, [] {
    void* program = dlopen(nullptr, RTLD_NOW);
    if (program == nullptr) return;
    auto repair = [&](std::ostream& original, const char* symbol) {
      auto* live = static_cast<std::ostream*>(dlsym(program, symbol));
      if (live == nullptr || live == &original) return;  // no copy: already constructed
      new (&original) std::ostream(live->rdbuf());
      original.flags(live->flags());
      original.tie(live->tie());
    };
    repair(std::cout, "_ZSt4cout");
    repair(std::cerr, "_ZSt4cerr");
    repair(std::clog, "_ZSt4clog");
    dlclose(program);
  });
}

}  // namespace

FID_SPM_EXPORT int fid_spm_api_version(void) {
  repair_standard_streams();  // the loader calls this first
  return FID_SPM_API_VERSION;
}

FID_SPM_EXPORT const char* fid_spm_last_error(void) { return g_last_error.c_str(); }

FID_SPM_EXPORT fid_spm_model* fid_spm_load_file(const char* path) {
  return guarded(
      [&]() -> fid_spm_model* {
        auto model = std::make_unique<fid_spm_model>();
        if (!check(model->sp.Load(path))) return nullptr;
        return model.release();
      },
      nullptr);
}

FID_SPM_EXPORT fid_spm_model* fid_spm_load_bytes(const char* data, size_t size) {
  return guarded(
      [&]() -> fid_spm_model* {
        auto model = std::make_unique<fid_spm_model>();
        if (!check(model->sp.LoadFromSerializedProto(std::string_view(data, size)))) return nullptr;
        return model.release();
      },
      nullptr);
}

FID_SPM_EXPORT void fid_spm_free_model(fid_spm_model* model) { delete model; }

FID_SPM_EXPORT int fid_spm_piece_size(const fid_spm_model* model) {
  return model->sp.GetPieceSize();
}

FID_SPM_EXPORT const char* fid_spm_id_to_piece(const fid_spm_model* model, int id, size_t* len) {
  if (id < 0 || id >= model->sp.GetPieceSize()) return nullptr;
  const std::string& piece = model->sp.IdToPiece(id);
  *len = piece.size();
  return piece.data();
}

FID_SPM_EXPORT int fid_spm_piece_to_id(const fid_spm_model* model, const char* piece, size_t len) {
  return guarded([&] { return model->sp.PieceToId(std::string_view(piece, len)); }, -1);
}

FID_SPM_EXPORT int fid_spm_piece_type(const fid_spm_model* model, int id) {
  if (id < 0 || id >= model->sp.GetPieceSize()) return -1;
  if (model->sp.IsControl(id)) return 1;
  if (model->sp.IsUnknown(id)) return 2;
  if (model->sp.IsUnused(id)) return 3;
  return 0;
}

FID_SPM_EXPORT long fid_spm_encode_ids(const fid_spm_model* model, const char* text, size_t len,
                                       int32_t* ids, size_t cap) {
  return guarded(
      [&]() -> long {
        thread_local std::vector<int> out;
        out.clear();
        if (!check(model->sp.Encode(std::string_view(text, len), &out))) return -1;
        for (size_t i = 0; i < out.size() && i < cap; ++i) ids[i] = out[i];
        return static_cast<long>(out.size());
      },
      -1L);
}

FID_SPM_EXPORT long fid_spm_encode_pieces(const fid_spm_model* model, const char* text,
                                          size_t len, char* bytes, size_t bytes_cap,
                                          size_t* bytes_needed, size_t* ends, size_t ends_cap) {
  return guarded(
      [&]() -> long {
        std::vector<std::string> pieces;
        if (!check(model->sp.Encode(std::string_view(text, len), &pieces))) return -1;
        size_t offset = 0;
        for (size_t i = 0; i < pieces.size(); ++i) {
          const std::string& p = pieces[i];
          if (offset + p.size() <= bytes_cap) std::memcpy(bytes + offset, p.data(), p.size());
          offset += p.size();
          if (i < ends_cap) ends[i] = offset;
        }
        *bytes_needed = offset;
        return static_cast<long>(pieces.size());
      },
      -1L);
}

FID_SPM_EXPORT long fid_spm_decode_pieces(const fid_spm_model* model, const char* const* pieces,
                                          const size_t* lens, size_t n, char* out, size_t cap) {
  return guarded(
      [&]() -> long {
        std::vector<std::string_view> views;
        views.reserve(n);
        for (size_t i = 0; i < n; ++i) views.emplace_back(pieces[i], lens[i]);
        std::string text;
        if (!check(model->sp.Decode(views, &text))) return -1;
        std::memcpy(out, text.data(), std::min(cap, text.size()));
        return static_cast<long>(text.size());
      },
      -1L);
}

FID_SPM_EXPORT int fid_spm_train(const char* const* keys, const char* const* values, size_t n,
                                 fid_spm_next_sentence next, void* next_ctx,
                                 fid_spm_model_sink sink, void* sink_ctx) {
  return guarded(
      [&]() -> int {
        std::unordered_map<std::string, std::string> kwargs;
        for (size_t i = 0; i < n; ++i) kwargs[keys[i]] = values[i];
        std::unique_ptr<CallbackIterator> it;
        if (next != nullptr) it = std::make_unique<CallbackIterator>(next, next_ctx);
        std::string serialized;
        if (!check(sentencepiece::SentencePieceTrainer::Train(kwargs, it.get(), &serialized)))
          return -1;
        sink(sink_ctx, serialized.data(), serialized.size());
        return 0;
      },
      -1);
}
