// Parsing the JSON that clients send as runs. Boost.JSON refuses nesting past 32 levels by
// default, which real traces exceed (LangGraph state, nested tool calls); one deep value must not
// make a whole batch unreadable.
#pragma once

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <string_view>

namespace pharos::tracing {

inline constexpr std::size_t kMaxRunJsonDepth = 512;

inline boost::json::value parseRunJsonText(std::string_view text, boost::system::error_code& ec) {
  boost::json::parse_options options;
  options.max_depth = kMaxRunJsonDepth;
  return boost::json::parse(text, ec, {}, options);
}

}  // namespace pharos::tracing
