#!/usr/bin/python3
"""The Python peer's reader step (peer_reader_step.py, FiD's wrapping of
transformers' T5) with its model calls under PyTorch's CPU autocast in bfloat16:
what a FiD user on a CPU with native bf16 (AVX512-BF16 / AMX) gets by wrapping
the forward pass in `torch.autocast("cpu", dtype=torch.bfloat16)`, the way
PyTorch's AMP guide says (backward and the optimizer outside it). The like-for-
like peer of bench_reader's "train bf16" and "generate bf16".

  peer_reader_autocast.py --peer_dir DIR [peer_reader_step.py's flags]

DIR holds peer_reader_step.py and peer_common.py (default: $PEER_DIR, else
../shared/peer beside the checkout). Everything but the autocast is that script's:
its workload, timing, matmul reference (float32, outside autocast) and its
"PEER mode=..." line; the table names say bf16. A benchmark, never run in CI.
"""
import os
import sys


def take_peer_dir(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    d = os.environ.get("PEER_DIR", os.path.join(here, "..", "..", "..", "..", "shared", "peer"))
    rest = []
    it = iter(argv)
    for a in it:
        if a == "--peer_dir":
            d = next(it, None)
            if d is None:
                sys.exit("--peer_dir needs a folder")
        elif a.startswith("--peer_dir="):
            d = a.split("=", 1)[1]
        else:
            rest.append(a)
    if not os.path.isfile(os.path.join(d, "peer_reader_step.py")):
        sys.exit(f"--peer_dir {d}: no peer_reader_step.py there (give the folder of the Python peer)")
    return os.path.abspath(d), rest


class Renamed:
    """stdout with the peer's table names saying what ran."""

    def __init__(self, out):
        self.out = out

    def write(self, s):
        return self.out.write(s.replace("fp32 (peer)", "bf16 (peer)"))

    def flush(self):
        self.out.flush()


def main():
    peer_dir, rest = take_peer_dir(sys.argv[1:])
    sys.argv = [os.path.join(peer_dir, "peer_reader_step.py")] + rest
    sys.path.insert(0, peer_dir)
    import peer_reader_step as prs  # parses the flags and imports torch with the wait policy set

    torch = prs.torch
    forward, generate = prs.FiDT5.forward, prs.FiDT5.generate

    def forward_bf16(self, *a, **k):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return forward(self, *a, **k)

    def generate_bf16(self, *a, **k):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return generate(self, *a, **k)

    prs.FiDT5.forward, prs.FiDT5.generate = forward_bf16, generate_bf16
    print("peer under torch.autocast('cpu', dtype=torch.bfloat16) around FiDT5.forward and generate")
    sys.stdout = Renamed(sys.stdout)
    prs.main()


if __name__ == "__main__":
    main()
