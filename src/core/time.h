#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace pharos::core {

// The wall clock as Unix microseconds, the unit every stored timestamp uses.
std::int64_t unixMicrosNow();

// "2026-11-26T21:10:41.123Z" (UTC, milliseconds).
std::string formatIso8601(std::chrono::system_clock::time_point at);

// "2026-11-26T21:10:41.123456Z" (UTC, always six fractional digits) from Unix microseconds.
std::string formatIso8601Micros(std::int64_t micros);

}  // namespace pharos::core
