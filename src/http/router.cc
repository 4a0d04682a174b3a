#include "http/router.h"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace pharos::http {

struct Router::Node {
  std::map<std::string, std::unique_ptr<Node>, std::less<>> literals;
  std::unique_ptr<Node> parameter;
  std::string parameter_name;
  std::map<Verb, std::unique_ptr<Route>> routes;
};

namespace {

// Splits "/a/b/" into {"a","b"}; empty segments in the middle are kept so "/a//b" stays distinct.
std::vector<std::string_view> splitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  if (path.empty()) return segments;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = path.find('/', start);
    segments.push_back(path.substr(start, slash - start));
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return segments;
}

// "{name}" with a name of letters, digits and '_'. Throws on any other use of braces.
bool isParameter(std::string_view segment) {
  if (segment.find_first_of("{}") == std::string_view::npos) return false;
  const bool wrapped = segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
  const std::string_view name = wrapped ? segment.substr(1, segment.size() - 2) : segment;
  const bool valid_name = wrapped && std::all_of(name.begin(), name.end(), [](unsigned char c) {
                            return std::isalnum(c) || c == '_';
                          });
  if (!valid_name) {
    throw std::invalid_argument("malformed route segment \"" + std::string(segment) +
                                "\": a parameter is {name} with letters, digits or '_'");
  }
  return true;
}

}  // namespace

Router::Router() : root_(std::make_unique<Node>()) {}
Router::~Router() = default;

void Router::add(Verb method, std::string_view pattern, Handler handler, RouteOptions options) {
  if (pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument("route pattern must start with '/': " + std::string(pattern));
  }
  Node* node = root_.get();
  for (std::string_view segment : splitPath(pattern)) {
    if (isParameter(segment)) {
      std::string name(segment.substr(1, segment.size() - 2));
      if (!node->parameter) {
        node->parameter = std::make_unique<Node>();
        node->parameter_name = name;
      } else if (node->parameter_name != name) {
        throw std::invalid_argument("route " + std::string(pattern) + " names parameter {" + name +
                                    "} where another route has {" + node->parameter_name + "}");
      }
      node = node->parameter.get();
    } else {
      auto& child = node->literals[std::string(segment)];
      if (!child) child = std::make_unique<Node>();
      node = child.get();
    }
  }
  auto& slot = node->routes[method];
  if (slot) {
    throw std::invalid_argument("duplicate route " + std::string(beast::http::to_string(method)) +
                                " " + std::string(pattern));
  }
  slot = std::make_unique<Route>(
      Route{method, std::string(pattern), std::move(handler), std::move(options)});
}

Router::Match Router::match(Verb method, std::string_view path) const {
  Match result;
  std::vector<std::pair<std::string, std::string>> params;
  // Depth-first with backtracking, literals first; the tree is shallow and narrow.
  const std::vector<std::string_view> segments = splitPath(path);
  auto walk = [&](auto& self, const Node* node, std::size_t depth) -> const Node* {
    if (depth == segments.size()) return node->routes.empty() ? nullptr : node;
    if (auto it = node->literals.find(segments[depth]); it != node->literals.end()) {
      if (const Node* found = self(self, it->second.get(), depth + 1)) return found;
    }
    if (node->parameter && !segments[depth].empty()) {
      params.emplace_back(node->parameter_name, std::string(segments[depth]));
      if (const Node* found = self(self, node->parameter.get(), depth + 1)) return found;
      params.pop_back();
    }
    return nullptr;
  };
  const Node* node = walk(walk, root_.get(), 0);
  if (!node) return result;

  auto it = node->routes.find(method);
  if (it == node->routes.end() && method == Verb::head) it = node->routes.find(Verb::get);
  if (it != node->routes.end()) {
    result.route = it->second.get();
    result.params = std::move(params);
    return result;
  }
  for (const auto& [verb, route] : node->routes) result.allowed.push_back(verb);
  if (node->routes.contains(Verb::get)) result.allowed.push_back(Verb::head);
  return result;
}

}  // namespace pharos::http
