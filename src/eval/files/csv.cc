// CSV dataset files (format in dataset_file.h): an RFC 4180 scanner, the header's column meanings,
// and the writer.
#include <fmt/format.h>

#include <boost/json/serialize.hpp>
#include <map>
#include <set>

#include "eval/files/dataset_file.h"
#include "eval/files/row_fields.h"

namespace pharos::eval {

using namespace files;
namespace json = boost::json;

namespace {

struct Record {
  std::size_t line = 0;  // where the record starts
  std::vector<std::string> cells;
};

// Splits CSV text into records. After a malformed record it resumes at the next line, so one bad
// row costs one row. Line numbers count LF bytes (CRLF is one line end; a lone CR is data).
class Scanner {
 public:
  explicit Scanner(std::string_view text) : text_(text) {}

  enum class Step { kRecord, kError, kEnd };

  Step next(Record& record, RowError& error) {
    skipEmptyLines();
    if (pos_ == text_.size()) return Step::kEnd;
    record.line = line_;
    record.cells.clear();
    while (true) {
      std::string& cell = record.cells.emplace_back();
      const std::size_t column = record.cells.size();
      if (peek() == '"') {
        const std::size_t opened = line_;
        ++pos_;
        while (true) {
          const std::size_t quote = text_.find('"', pos_);
          if (quote == std::string_view::npos) {
            error = {record.line,
                     fmt::format("unterminated quoted field (column {}, opened on line {})", column,
                                 opened)};
            pos_ = text_.size();
            return Step::kError;
          }
          appendCounting(cell, text_.substr(pos_, quote - pos_));
          pos_ = quote + 1;
          if (peek() != '"') break;
          cell += '"';  // "" inside quotes is one quote
          ++pos_;
        }
        if (!atFieldEnd()) {
          error = {record.line,
                   fmt::format("unexpected character after the closing quote of column {} (a quote "
                               "inside a quoted field is written \"\")",
                               column)};
          skipLine();
          return Step::kError;
        }
      } else {
        while (pos_ < text_.size() && !atFieldEnd()) {
          if (text_[pos_] == '"') {
            error = {record.line,
                     fmt::format("a quote inside unquoted column {} (quote the whole field and "
                                 "write the quote as \"\")",
                                 column)};
            skipLine();
            return Step::kError;
          }
          cell += text_[pos_++];
        }
      }
      // At a comma, a line end or the end of the text.
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      endLine();
      return Step::kRecord;
    }
  }

 private:
  int peek() const { return pos_ < text_.size() ? static_cast<unsigned char>(text_[pos_]) : -1; }
  bool atLineEnd() const {
    return peek() == '\n' || (peek() == '\r' && pos_ + 1 < text_.size() && text_[pos_ + 1] == '\n');
  }
  bool atFieldEnd() const { return pos_ == text_.size() || peek() == ',' || atLineEnd(); }
  // Consumes the line end at pos_ (if any).
  void endLine() {
    if (peek() == '\r') ++pos_;
    if (peek() == '\n') {
      ++pos_;
      ++line_;
    }
  }
  void skipEmptyLines() {
    while (atLineEnd()) endLine();
  }
  void skipLine() {
    const std::size_t newline = text_.find('\n', pos_);
    if (newline == std::string_view::npos) {
      pos_ = text_.size();
    } else {
      pos_ = newline + 1;
      ++line_;
    }
  }
  void appendCounting(std::string& cell, std::string_view part) {
    for (char c : part) line_ += c == '\n' ? 1 : 0;
    cell += part;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  std::size_t line_ = 1;
};

enum class Section { kInputs, kOutputs, kMetadata };

struct Column {
  enum class Kind { kId, kSplit, kField } kind = Kind::kField;
  Section section = Section::kInputs;
  std::string key;
  bool json = false;
  std::string name;  // as in the header, for messages
};

constexpr std::string_view kJsonSuffix = ":json";

std::string sectionName(Section section) {
  switch (section) {
    case Section::kInputs:
      return "inputs";
    case Section::kOutputs:
      return "outputs";
    default:
      return "metadata";
  }
}

// The header's columns, or a message saying why the header is unusable.
std::optional<std::vector<Column>> readHeader(const Record& header, const KeyMapping& mapping,
                                              std::string& error) {
  std::vector<Column> columns;
  std::map<std::string, std::string> seen;  // field identity -> the column name that gave it
  std::set<std::string> mapped;             // mapping keys that have a column
  for (std::size_t i = 0; i < header.cells.size(); ++i) {
    const std::string& name = header.cells[i];
    if (!isUtf8(name)) {
      error = fmt::format("the name of column {} is not valid UTF-8", i + 1);
      return std::nullopt;
    }
    if (name.empty()) {
      error = fmt::format("column {} has an empty name", i + 1);
      return std::nullopt;
    }
    Column column;
    column.name = name;
    std::string_view base = name;
    if (base.ends_with(kJsonSuffix)) {
      column.json = true;
      base.remove_suffix(kJsonSuffix.size());
    }
    const bool isOutputKey = contains(mapping.output_keys, base);
    if (isOutputKey || contains(mapping.input_keys, base)) {
      column.section = isOutputKey ? Section::kOutputs : Section::kInputs;
      column.key = base;
      mapped.insert(column.key);
    } else if (name == "id") {
      column.kind = Column::Kind::kId;
    } else if (name == "split") {
      column.kind = Column::Kind::kSplit;
    } else if (base.starts_with("inputs.")) {
      column.key = base.substr(7);
    } else if (base.starts_with("outputs.")) {
      column.section = Section::kOutputs;
      column.key = base.substr(8);
    } else if (base.starts_with("metadata.")) {
      column.section = Section::kMetadata;
      column.key = base.substr(9);
    } else if (!mapping.empty()) {
      column.key = base;  // unlisted plain columns are inputs
    } else {
      error = fmt::format(
          "column {} is not inputs.<key>, outputs.<key>, metadata.<key>, id or split (plain column "
          "names need input/output keys)",
          quoted(name));
      return std::nullopt;
    }
    std::string identity = column.kind == Column::Kind::kId ? "id"
                           : column.kind == Column::Kind::kSplit
                               ? "split"
                               : sectionName(column.section) + "." + column.key;
    if (auto [at, fresh] = seen.emplace(identity, name); !fresh) {
      error = fmt::format("columns {} and {} both give {}", quoted(at->second), quoted(name),
                          quoted(identity));
      return std::nullopt;
    }
    columns.push_back(std::move(column));
  }
  for (const auto* keys : {&mapping.input_keys, &mapping.output_keys}) {
    for (const auto& key : *keys) {
      if (!mapped.contains(key)) {
        error = fmt::format("{} key {} is not a column of the header",
                            keys == &mapping.input_keys ? "input" : "output", quoted(key));
        return std::nullopt;
      }
    }
  }
  return columns;
}

bool readCell(const Column& column, const std::string& cell, ExampleRow& row, std::string& error) {
  switch (column.kind) {
    case Column::Kind::kId:
      if (cell.empty()) return true;
      row.id = normaliseId(cell, error);
      return row.id.has_value();
    case Column::Kind::kSplit: {
      if (!isUtf8(cell)) {
        error = "column \"split\" is not valid UTF-8";
        return false;
      }
      std::string_view rest = cell;
      while (true) {
        const std::size_t semicolon = rest.find(';');
        const std::string_view part = rest.substr(0, semicolon);
        if (part.find_first_not_of(" \t\r\n\f\v") != std::string_view::npos &&
            !addSplit(part, row.splits, error)) {
          return false;
        }
        if (semicolon == std::string_view::npos) return true;
        rest.remove_prefix(semicolon + 1);
      }
    }
    case Column::Kind::kField:
      break;
  }
  json::object& target = column.section == Section::kInputs    ? row.inputs
                         : column.section == Section::kOutputs ? row.outputs
                                                               : row.metadata;
  if (!column.json) {
    if (!isUtf8(cell)) {
      error = fmt::format("column {} is not valid UTF-8", quoted(column.name));
      return false;
    }
    target[column.key] = cell;
    return true;
  }
  if (cell.empty()) return true;  // no such field in this row
  std::string parseError;
  auto value = parseJson(cell, parseError);
  if (!value) {
    error = fmt::format("column {}: {}", quoted(column.name), parseError);
    return false;
  }
  target[column.key] = std::move(*value);
  return true;
}

// One CSV field, quoted when it has to be.
void appendField(std::string& out, std::string_view field) {
  if (field.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += field;
    return;
  }
  out += '"';
  for (char c : field) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

}  // namespace

ReadResult readCsv(std::string_view text, const KeyMapping& mapping) {
  ReadResult result;
  if (std::string problem = checkMapping(mapping); !problem.empty()) {
    result.errors.push_back({0, std::move(problem)});
    return result;
  }
  Scanner scanner(stripBom(text));
  Record record;
  RowError error;
  switch (scanner.next(record, error)) {
    case Scanner::Step::kEnd:
      result.errors.push_back({1, "no header row (the first line names the columns)"});
      return result;
    case Scanner::Step::kError:
      error.message = "header: " + error.message;
      result.errors.push_back(std::move(error));
      return result;
    case Scanner::Step::kRecord:
      break;
  }
  std::string problem;
  const auto columns = readHeader(record, mapping, problem);
  if (!columns) {
    result.errors.push_back({record.line, "header: " + problem});
    return result;
  }
  while (true) {
    const Scanner::Step step = scanner.next(record, error);
    if (step == Scanner::Step::kEnd) break;
    if (step == Scanner::Step::kError) {
      result.errors.push_back(std::move(error));
      continue;
    }
    if (record.cells.size() != columns->size()) {
      result.errors.push_back({record.line, fmt::format("{} cells, the header has {} columns",
                                                        record.cells.size(), columns->size())});
      continue;
    }
    ExampleRow row;
    row.line = record.line;
    bool ok = true;
    for (std::size_t i = 0; ok && i < columns->size(); ++i) {
      ok = readCell((*columns)[i], record.cells[i], row, problem);
    }
    if (ok) {
      problem = checkDepth(row);
      ok = problem.empty();
    }
    if (ok) {
      result.rows.push_back(std::move(row));
    } else {
      result.errors.push_back({record.line, std::move(problem)});
    }
  }
  return result;
}

std::string writeCsv(const std::vector<ExportedExample>& examples) {
  struct KeyInfo {
    std::size_t count = 0;
    bool allStrings = true;
  };
  // std::map: columns come out sorted bytewise.
  std::map<std::string, KeyInfo> keys[3];
  auto sectionOf = [](const ExportedExample& example, std::size_t s) -> const json::object& {
    return s == 0 ? example.inputs : s == 1 ? example.outputs : example.metadata;
  };
  for (const auto& example : examples) {
    for (std::size_t s = 0; s < 3; ++s) {
      for (const auto& member : sectionOf(example, s)) {
        KeyInfo& info = keys[s][std::string(member.key())];
        ++info.count;
        info.allStrings = info.allStrings && member.value().is_string();
      }
    }
  }
  // A plain column must be able to say "this row has no such field" and "this value is not a
  // string", and it cannot: those columns are :json.
  auto plain = [&](const std::string& key, const KeyInfo& info) {
    return info.allStrings && info.count == examples.size() && !key.ends_with(kJsonSuffix);
  };

  std::string out = "id";
  constexpr std::string_view kPrefixes[3] = {"inputs.", "outputs.", "metadata."};
  for (std::size_t s = 0; s < 3; ++s) {
    for (const auto& [key, info] : keys[s]) {
      out += ',';
      std::string name = std::string(kPrefixes[s]) + key;
      if (!plain(key, info)) name += kJsonSuffix;
      appendField(out, name);
    }
  }
  out += ",split\r\n";

  for (const auto& example : examples) {
    appendField(out, example.id);
    for (std::size_t s = 0; s < 3; ++s) {
      const json::object& object = sectionOf(example, s);
      for (const auto& [key, info] : keys[s]) {
        out += ',';
        const json::value* value = object.if_contains(key);
        if (plain(key, info)) {
          appendField(out, value->get_string());
        } else if (value != nullptr) {
          appendField(out, json::serialize(*value));
        }
      }
    }
    out += ',';
    std::string splits;
    for (const auto& split : example.splits) {
      if (!splits.empty()) splits += ';';
      splits += split;
    }
    appendField(out, splits);
    out += "\r\n";
  }
  return out;
}

}  // namespace pharos::eval
