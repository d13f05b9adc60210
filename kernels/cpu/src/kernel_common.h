// Headers and constants every ISA build of kernel_impl.inc needs; included before the ISA namespace opens.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "attention.h"

namespace lv {
// 2^f on [-0.5, 0.5]: Taylor coefficients (ln 2)^k / k!, degree 7 (error < 1e-8, below float rounding).
constexpr float kExp2C1 = 0.6931471805599453f;
constexpr float kExp2C2 = 0.2402265069591007f;
constexpr float kExp2C3 = 0.05550410866482158f;
constexpr float kExp2C4 = 0.009618129107628477f;
constexpr float kExp2C5 = 0.0013333558146428443f;
constexpr float kExp2C6 = 0.00015403530393381608f;
constexpr float kExp2C7 = 1.525273380405984e-05f;
}  // namespace lv
