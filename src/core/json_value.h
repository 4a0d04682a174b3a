// Small bridges from C++ values to boost::json used wherever API objects are built.
#pragma once

#include <boost/json/value.hpp>
#include <optional>

namespace pharos::core {

// The value, or JSON null when there is none (absent optional fields of API objects).
template <class T>
boost::json::value optionalJson(const std::optional<T>& value) {
  return value ? boost::json::value(*value) : boost::json::value(nullptr);
}

}  // namespace pharos::core
