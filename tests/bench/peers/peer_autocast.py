#!/usr/bin/python3
"""The Python peer's benchmarks with FiD's model calls under PyTorch's CPU
autocast in bfloat16: what a FiD user on a CPU with native bf16 (AVX512-BF16 /
AMX) gets by wrapping the forward pass in `torch.autocast("cpu",
dtype=torch.bfloat16)`, the way PyTorch's AMP guide says (backward and the
optimizer outside it). The like-for-like peer of our bf16 runs:

  peer_autocast.py reader [peer_reader_step.py's flags]
      FiDT5.forward and FiDT5.generate under autocast: bench_reader's
      "train bf16" and "generate bf16"
  peer_autocast.py embed [peer_embed.py's flags]
      transformers' BertModel.forward under autocast: bench_embed's model
      stage in bf16. FiD's projection and its LayerNorm stay in float32, as
      a user would have to keep them: on torch 1.13's CPU, layer_norm refuses
      the bf16 output of an autocast Linear with float32 weights ("expected
      scalar type BFloat16 but found Float", measured with Retriever.embed_text
      under autocast), the LibTorch bug our bert_layer_norm works around

The peer's scripts are this folder's (see README.md here; setup_peer.sh
first). Everything but the autocast is the peer script's: its workload, timing, matmul reference (float32, outside autocast)
and its machine-readable line; the table names say bf16. A benchmark, never
run in CI.
"""
import os
import sys

# script: (module, the class whose methods run under autocast, those methods)
SCRIPTS = {"reader": ("peer_reader_step", lambda peer: peer.FiDT5, ("forward", "generate")),
           "embed": ("peer_embed", lambda peer: peer.transformers.BertModel, ("forward",))}


class Renamed:
    """stdout with the peer's table names saying what ran."""

    def __init__(self, out):
        self.out = out

    def write(self, s):
        return self.out.write(s.replace("fp32 (peer)", "bf16 (peer)").replace("; float32", "; bfloat16 autocast"))

    def flush(self):
        self.out.flush()


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in SCRIPTS:
        sys.exit(f"usage: {sys.argv[0]} reader|embed [the peer script's flags]")
    module_name, target, methods = SCRIPTS[sys.argv[1]]
    here = os.path.dirname(os.path.abspath(__file__))
    sys.argv = [os.path.join(here, module_name + ".py")] + sys.argv[2:]
    sys.path.insert(0, here)
    peer = __import__(module_name)  # parses the flags and imports torch with the wait policy set
    torch, cls = peer.torch, target(peer)

    def under_autocast(method):
        def run(self, *a, **k):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return method(self, *a, **k)
        return run

    for name in methods:
        setattr(cls, name, under_autocast(getattr(cls, name)))
    print(f"peer under torch.autocast('cpu', dtype=torch.bfloat16) around "
          + " and ".join(f"{cls.__name__}.{m}" for m in methods))
    sys.stdout = Renamed(sys.stdout)
    peer.main()


if __name__ == "__main__":
    main()
