// bfloat16 bit arithmetic for the fused CPU kernels (t5_kernels.cpp,
// dropout_kernels.cpp). bfloat16 is the upper half of a float32: widening is
// a shift; narrowing rounds to nearest even with NaN kept quiet (0x7fc0), as
// c10::BFloat16's constructor does, spelled as integer arithmetic so that
// loops using it vectorise. Macros, not functions: a target clone
// (FID_KERNEL) cannot inline a default-target helper.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>

#define FID_BF16_TO_F32(b) __builtin_bit_cast(float, static_cast<uint32_t>(b) << 16)
#define FID_F32_TO_BF16(f, out_b)                                                  \
  do {                                                                             \
    const uint32_t u_ = __builtin_bit_cast(uint32_t, (f));                         \
    uint32_t r_ = (u_ + 0x7fffu + ((u_ >> 16) & 1u)) >> 16;                        \
    const uint32_t nan_ = static_cast<uint32_t>((u_ & 0x7fffffffu) > 0x7f800000u); \
    r_ ^= (r_ ^ 0x7fc0u) & (0u - nan_);                                            \
    out_b = static_cast<uint16_t>(r_);                                             \
  } while (0)

namespace fid::model {

inline bool is_bf16(const at::Tensor& t) { return t.scalar_type() == at::kBFloat16; }
// A contiguous bfloat16 tensor's elements as their bits.
inline uint16_t* bf16_ptr(const at::Tensor& t) { return reinterpret_cast<uint16_t*>(t.data_ptr<at::BFloat16>()); }

}  // namespace fid::model
