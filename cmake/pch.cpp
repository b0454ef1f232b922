// Owner of the precompiled <torch/torch.h> that LibTorch targets reuse.
namespace fid { int pch_anchor() { return 0; } }
