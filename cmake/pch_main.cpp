// Owner of the precompiled <torch/torch.h> that LibTorch executables reuse.
int main() { return 0; }
