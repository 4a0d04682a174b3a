#include "store/sqlite/statement_helpers.h"

#include <fmt/format.h>

#include <boost/json/serialize.hpp>

namespace pharos::store::sqlite {

Sql& Sql::andEqual(std::string_view column, const std::optional<std::string>& value) {
  if (!value) return *this;
  text += fmt::format(" AND {} = ?", column);
  params.emplace_back(*value);
  return *this;
}

Sql& Sql::andContains(std::string_view column, const std::optional<std::string>& value) {
  if (!value) return *this;
  text += fmt::format(" AND instr(lower({}), lower(?)) > 0", column);
  params.emplace_back(*value);
  return *this;
}

Sql& Sql::page(std::size_t limit, std::size_t offset) {
  text += " LIMIT ? OFFSET ?";
  params.emplace_back(static_cast<std::int64_t>(limit));
  params.emplace_back(static_cast<std::int64_t>(offset));
  return *this;
}

core::Result<Statement> prepare(Connection& connection, const Sql& sql) {
  auto s = connection.prepare(sql.text);
  if (!s) return std::move(s).error();
  s->bindAll(sql.params);
  return s;
}

Statement& bindJsonOrNull(Statement& s, int index, const boost::json::value& value) {
  if (value.is_null()) return s.bindNull(index);
  return s.bindText(index, boost::json::serialize(value));
}

}  // namespace pharos::store::sqlite
