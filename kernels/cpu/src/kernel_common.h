// Headers and constants every ISA build of kernel_impl.inc needs; included before the ISA namespace opens.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "attention.h"

// Register tiles must be inlined into their loops: called, their accumulator arrays go through the stack.
#if defined(_MSC_VER)
#define LV_ALWAYS_INLINE __forceinline
#else
#define LV_ALWAYS_INLINE inline __attribute__((always_inline))
#endif

namespace lv {
// 2^f on [-0.5, 0.5]: degree-6 minimax polynomial for the relative error (1.9e-9; evaluated in float32 the
// result is within 1.1e-7 of 2^f, i.e. float rounding). Fitted by iteratively reweighted least squares.
constexpr float kExp2C1 = 0.6931471824645996f;
constexpr float kExp2C2 = 0.24022646248340607f;
constexpr float kExp2C3 = 0.05550328642129898f;
constexpr float kExp2C4 = 0.009618489071726799f;
constexpr float kExp2C5 = 0.0013399929739534855f;
constexpr float kExp2C6 = 0.0001534579205326736f;
}  // namespace lv
