// Request bodies arrive gzip- or deflate-encoded from the LangSmith and OpenTelemetry clients.
// Inflation is bounded: a body that would inflate past the limit (a gzip bomb) stops at the
// limit with kTooLarge instead of exhausting memory.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace pharos::http {

enum class ContentCoding { kIdentity, kGzip, kDeflate };

// Parses a Content-Encoding header value; kInvalidArgument names an unsupported coding.
core::Result<ContentCoding> parseContentCoding(std::string_view header);

// Inflates `encoded` (gzip, or zlib-wrapped deflate; concatenated gzip members are accepted).
// kTooLarge past `max_output` bytes; kInvalidArgument for corrupt or truncated data.
core::Result<std::string> inflate(std::string_view encoded, ContentCoding coding,
                                  std::size_t max_output);

}  // namespace pharos::http
