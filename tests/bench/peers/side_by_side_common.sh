# Sourced by the side-by-side scripts of this folder: the Python peer's folder
# and interpreter, the thread environment both sides run under (idle OpenMP and
# OpenBLAS workers sleep, as bench_reader sets for its children), and helpers.
#   need_native_bf16 WHY  exits 2 where the CPU has no native bf16 products
#   need_peer SCRIPT      exits 2 where the peer's folder lacks SCRIPT
#   kv LINE KEY           the value of KEY=value in LINE
#   median V...           the median of numbers
#   ratio A B             A / B, two decimals
peer_dir="${PEER_DIR:-$root/../shared/peer}"
py=${PEER_PYTHON:-/usr/bin/python3}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE} OPENBLAS_THREAD_TIMEOUT=${OPENBLAS_THREAD_TIMEOUT:-4}
need_native_bf16() {
  grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo && return
  echo "this CPU has no native bf16 (avx512_bf16 / amx_bf16): $1" >&2
  exit 2
}
need_peer() {
  [ -f "$peer_dir/$1" ] && return
  echo "no $1 in $peer_dir: set PEER_DIR to the Python peer's folder (see ../shared/peer)" >&2
  exit 2
}
kv() { tr ' ' '\n' <<<"$1" | awk -F= -v k="$2" '$1 == k { print $2; exit }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
