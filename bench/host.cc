// Host-side helpers shared by the targets: test data and machine facts.
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <vector>
#include <fstream>
#include <string>

#include "targets.h"

namespace bench {

uint16_t half_from_float(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const int32_t exp = (int32_t)((x >> 23) & 0xff) - 127 + 15;
  uint32_t mant = x & 0x7fffffu;
  if (exp >= 31) return (uint16_t)(sign | 0x7c00u);  // overflow (the pattern never gets here)
  if (exp <= 0) return (uint16_t)sign;               // underflow to zero: no denormals in the data
  uint32_t h = sign | ((uint32_t)exp << 10) | (mant >> 13);
  const uint32_t rest = mant & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (h & 1u))) ++h;  // round to nearest even
  return (uint16_t)h;
}

uint16_t bf16_from_float(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  x += 0x7fffu + ((x >> 16) & 1u);  // round to nearest even (the pattern has no NaN)
  return (uint16_t)(x >> 16);
}

namespace {

void generate(void* dst, uint64_t count, vkbn_dtype dtype, uint32_t seed) {
  uint32_t s = seed * 2654435761u + 12345u;
  for (uint64_t i = 0; i < count; ++i) {
    s = s * 1664525u + 1013904223u;
    const float v = (float)(s >> 8) * (6.0f / 16777216.0f) - 3.0f;
    if (dtype == VKBN_DTYPE_F16) {
      static_cast<uint16_t*>(dst)[i] = half_from_float(v);
    } else if (dtype == VKBN_DTYPE_BF16) {
      static_cast<uint16_t*>(dst)[i] = bf16_from_float(v);
    } else {
      static_cast<float*>(dst)[i] = v;
    }
  }
}

// Generated once per (type, seed) and copied from then on: generating a
// 1 GiB tensor element by element would cost more than timing it.
constexpr uint64_t kPatternBytes = 4u << 20;

}  // namespace

void fill_pattern(void* dst, uint64_t count, vkbn_dtype dtype, uint32_t seed) {
  static std::map<std::pair<int, uint32_t>, std::vector<unsigned char>> cache;
  std::vector<unsigned char>& pattern = cache[{(int)dtype, seed}];
  const uint32_t esize = vkbn_dtype_size(dtype);
  if (pattern.empty()) {
    pattern.resize(kPatternBytes);
    generate(pattern.data(), kPatternBytes / esize, dtype, seed);
  }
  unsigned char* out = static_cast<unsigned char*>(dst);
  for (uint64_t done = 0, bytes = count * esize; done < bytes; done += kPatternBytes)
    std::memcpy(out + done, pattern.data(), std::min(kPatternBytes, bytes - done));
}

uint64_t host_memory_bytes() {
  long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  return pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  std::string line;
  while (std::getline(f, line)) {
    if (line.rfind("model name", 0) == 0) {
      size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "CPU";
}

uint64_t cpu_last_level_cache_bytes() {
  uint64_t best = 0;
  for (int i = 0; i < 8; ++i) {
    std::ifstream f("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(i) + "/size");
    std::string size;
    if (!(f >> size) || size.empty()) continue;
    uint64_t v = std::stoull(size);
    char unit = size.back();
    if (unit == 'K') v <<= 10;
    if (unit == 'M') v <<= 20;
    if (v > best) best = v;
  }
  return best;
}

}  // namespace bench
