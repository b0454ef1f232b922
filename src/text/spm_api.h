// The narrow C interface of libfid_spm, our shared library around
// sentencepiece. sentencepiece carries its own protobuf-lite and exports its
// symbols; LibTorch loads libprotobuf.so.32; both in one executable crash at
// start. So nothing of ours links sentencepiece except libfid_spm, which
// fid_text opens with dlopen(RTLD_LOCAL | RTLD_DEEPBIND) and calls only through
// this table of plain C functions.
#pragma once
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// Bumped whenever a signature below changes; the loader refuses a mismatch.
#define FID_SPM_API_VERSION 1

typedef struct fid_spm_model fid_spm_model;

// Called by training for each sentence: returns 1 and sets *text/*len while
// sentences remain, 0 at the end, -1 on error (training then fails).
typedef int (*fid_spm_next_sentence)(void* ctx, const char** text, size_t* len);

int fid_spm_api_version(void);
// Message of the last failed call on this thread ("" when none).
const char* fid_spm_last_error(void);

// NULL on failure (see fid_spm_last_error).
fid_spm_model* fid_spm_load_file(const char* path);
fid_spm_model* fid_spm_load_bytes(const char* data, size_t size);
void fid_spm_free_model(fid_spm_model* model);

int fid_spm_piece_size(const fid_spm_model* model);
// Piece text of `id` (pointer into the model, valid while it lives); NULL when
// id is out of range.
const char* fid_spm_id_to_piece(const fid_spm_model* model, int id, size_t* len);
int fid_spm_piece_to_id(const fid_spm_model* model, const char* piece, size_t len);
// 1 for control pieces (<pad>, </s>), 2 for unknown, 3 for unused, 0 otherwise.
int fid_spm_piece_type(const fid_spm_model* model, int id);

// Encodes text into ids. Returns the number of ids (written up to `cap`; call
// again with a larger buffer when the result exceeds it), -1 on error.
long fid_spm_encode_ids(const fid_spm_model* model, const char* text, size_t len,
                        int32_t* ids, size_t cap);
// Encodes text into surface pieces: their bytes concatenated into `bytes` and
// each piece's end offset in `ends`. Returns the number of pieces and sets
// *bytes_needed; nothing beyond a capacity is written, call again with larger
// buffers when a need exceeds it. -1 on error.
long fid_spm_encode_pieces(const fid_spm_model* model, const char* text, size_t len,
                           char* bytes, size_t bytes_cap, size_t* bytes_needed,
                           size_t* ends, size_t ends_cap);
// sentencepiece's detokenisation of a piece sequence. Returns the text length
// (written up to `cap`), -1 on error.
long fid_spm_decode_pieces(const fid_spm_model* model, const char* const* pieces,
                           const size_t* lens, size_t n, char* out, size_t cap);

// Trains a model from `n` key/value options (sentencepiece's flag names,
// without dashes) and the sentences `next` yields (or from the `input` option
// when next is NULL). On success returns 0 and hands the serialized model to
// `sink`. -1 on error.
typedef void (*fid_spm_model_sink)(void* ctx, const char* data, size_t size);
int fid_spm_train(const char* const* keys, const char* const* values, size_t n,
                  fid_spm_next_sentence next, void* next_ctx, fid_spm_model_sink sink,
                  void* sink_ctx);

#ifdef __cplusplus
}
#endif
