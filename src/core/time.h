#pragma once

#include <chrono>
#include <string>

namespace pharos::core {

// "2026-11-26T21:10:41.123Z" (UTC, milliseconds).
std::string formatIso8601(std::chrono::system_clock::time_point at);

}  // namespace pharos::core
