// FID_KERNEL: compile a loop twice, for AVX2 and for plain x86-64, and pick
// the clone at load time by CPU feature. The build targets plain x86-64 so
// that one binary runs on every cluster node; the loops marked with it are
// written so that GCC vectorises them. ("arch=haswell" would dispatch on the
// CPU model, and AMD CPUs with AVX2 would get the SSE2 clone.)
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define FID_KERNEL __attribute__((target_clones("avx2", "default")))
#else
#define FID_KERNEL
#endif
