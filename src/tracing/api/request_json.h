// Reading LangSmith-style JSON requests: typed access to body members (absent and null are the
// same), UUID path parameters, counts in query strings. Every error names the member at fault.
// Shared by the runs, feedback and evaluation routes.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "http/message.h"

namespace pharos::tracing {

core::Result<boost::json::value> parseBody(const http::Request& request);
core::Result<boost::json::object> parseObjectBody(const http::Request& request);

// Where the caller reached us, for links in responses (attachment downloads).
std::string baseUrl(const http::Request& request);

std::string lowerUuid(std::string_view text);
core::Result<std::string> uuidParam(const http::Request& request, std::string_view name);

// The member, or nullptr when it is absent or null.
const boost::json::value* present(const boost::json::object& body, std::string_view key);
core::Result<std::optional<std::string>> optionalString(const boost::json::object& body,
                                                        std::string_view key);
core::Result<std::optional<std::string>> optionalUuid(const boost::json::object& body,
                                                      std::string_view key);
core::Result<std::optional<bool>> optionalBool(const boost::json::object& body,
                                               std::string_view key);
// A string or an array of strings (the JS SDK sends some list keys as scalars).
core::Result<std::vector<std::string>> stringList(const boost::json::object& body,
                                                  std::string_view key);
core::Result<std::vector<std::string>> uuidList(const boost::json::object& body,
                                                std::string_view key);
// An ISO-8601 string or epoch milliseconds, as Unix microseconds.
core::Result<std::optional<std::int64_t>> optionalTime(const boost::json::object& body,
                                                       std::string_view key);
// A whole number from 1 to `max`.
core::Result<std::optional<std::size_t>> optionalCount(const boost::json::object& body,
                                                       std::string_view key, std::size_t max);
// A query parameter holding a whole number from 0 to `max`.
core::Result<std::optional<std::size_t>> queryCount(const http::Request& request,
                                                    std::string_view key, std::size_t max);

}  // namespace pharos::tracing
