// Helpers the SQLite-backed stores share on top of Statement: statements whose SQL grows with
// their parameters (IN lists, optional conditions), walking the rows of a query, and JSON values
// in nullable TEXT columns. The SQL text still holds only constants and `?` placeholders; every
// value travels as a bound parameter.
#pragma once

#include <boost/json/value.hpp>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/result.h"
#include "store/sqlite/database.h"

namespace pharos::store::sqlite {

// "(?, ?, ...)" with one placeholder per value; the values are appended to `params`. An empty
// list is "()", which SQLite accepts and which matches nothing.
template <class T>
std::string inList(std::vector<SqlValue>& params, const std::vector<T>& values) {
  std::string sql = "(";
  for (std::size_t i = 0; i < values.size(); ++i) {
    sql += i == 0 ? "?" : ", ?";
    params.emplace_back(values[i]);
  }
  sql += ")";
  return sql;
}

// Appends " AND <column> IN (?, ?, ...)"; `column` is a caller constant.
template <class T>
void appendIn(std::string& sql, std::vector<SqlValue>& params, std::string_view column,
              const std::vector<T>& values) {
  sql += " AND ";
  sql += column;
  sql += " IN ";
  sql += inList(params, values);
}

// SQL text together with the values of its `?` placeholders, in text order.
struct Sql {
  std::string text;
  std::vector<SqlValue> params;

  Sql& add(std::string_view fragment) {
    text += fragment;
    return *this;
  }
  Sql& bind(SqlValue value) {
    params.push_back(std::move(value));
    return *this;
  }
  // "(?, ?, ...)" with one parameter per value.
  template <class T>
  Sql& in(const std::vector<T>& values) {
    text += inList(params, values);
    return *this;
  }
  // The optional conditions of a list query; each adds nothing when its value is absent (or the
  // list empty), so that an unset filter does not filter. `column` is a caller constant.
  // " AND <column> IN (?, ...)"
  template <class T>
  Sql& andIn(std::string_view column, const std::vector<T>& values) {
    if (!values.empty()) appendIn(text, params, column, values);
    return *this;
  }
  // " AND <column> = ?"
  Sql& andEqual(std::string_view column, const std::optional<std::string>& value);
  // " AND instr(lower(<column>), lower(?)) > 0": an ASCII case-insensitive substring test.
  Sql& andContains(std::string_view column, const std::optional<std::string>& value);
  // " LIMIT ? OFFSET ?"
  Sql& page(std::size_t limit, std::size_t offset);
  Sql& append(const Sql& other) {
    text += other.text;
    params.insert(params.end(), other.params.begin(), other.params.end());
    return *this;
  }
};

// Prepares `sql` with every parameter bound.
core::Result<Statement> prepare(Connection& connection, const Sql& sql);

// Calls `row(statement)` for every row; `row` returns void or a Status that stops the walk.
template <class F>
core::Status eachRow(Statement& s, F&& row) {
  for (;;) {
    auto more = s.step();
    if (!more) return std::move(more).error();
    if (!*more) return {};
    if constexpr (std::is_void_v<std::invoke_result_t<F&, Statement&>>) {
      row(s);
    } else {
      if (core::Status st = row(s); !st) return st;
    }
  }
}

template <class F>
core::Status eachRow(Connection& connection, const Sql& sql, F&& row) {
  auto s = prepare(connection, sql);
  if (!s) return std::move(s).error();
  return eachRow(*s, std::forward<F>(row));
}

// A JSON value as a nullable TEXT column: JSON null is NULL, anything else its serialisation.
Statement& bindJsonOrNull(Statement& s, int index, const boost::json::value& value);

}  // namespace pharos::store::sqlite
