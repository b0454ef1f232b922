# Sourced by the side-by-side scripts of this folder: the Python peer's folder
# (this one) and interpreter, the thread environment both sides run under (idle
# OpenMP and OpenBLAS workers sleep, as bench_reader sets for its children), and
# helpers.
#   need_native_bf16 WHY  exits 2 where the CPU has no native bf16 products
#   need_peer             exits 2 where setup_peer.sh has not fetched the peer's sources
#   kv LINE KEY           the value of KEY=value in LINE
#   median V...           the median of numbers
#   ratio A B             A / B, two decimals
peer_dir="$root/tests/bench/peers"
py=${PEER_PYTHON:-/usr/bin/python3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
need_native_bf16() {
  grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && return
  echo "this CPU has no native bf16 (avx512_bf16 / amx_bf16): $1" >&2
  exit 2
}
need_peer() {
  local vendor=${PEER_VENDOR:-/tmp/peer/vendor}
  [ -d "$vendor/transformers-4.28.1/src" ] && [ -d "$vendor/huggingface_hub-0.14.1/src" ] && return
  echo "no transformers 4.28.1 / huggingface_hub 0.14.1 under $vendor: run tests/bench/peers/setup_peer.sh" >&2
  exit 2
}
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
