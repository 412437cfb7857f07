#include "mishnet/data_file.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include "core/text.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

// Keys Darknet's commands read from .data files (detector, classifier, captcha/tag tools).
const char* const kKnownKeys[] = {"classes", "train",  "valid",  "test",   "names",     "labels",
                                  "backup",  "eval",   "top",    "results", "map",      "leaves",
                                  "difficult", "train_labels", "valid_labels", "prefix"};

std::string read_text(const std::string& path, const char* what) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) fail(path, ": cannot open ", what, ": no such file");
  if (std::filesystem::is_directory(path, ec)) fail(path, ": cannot open ", what, ": it is a directory");
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open ", what);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

}  // namespace

DataFile DataFile::parse_text(const std::string& text, const std::string& name) {
  DataFile d;
  d.path_ = name;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::string s = trim(raw);
    if (s.empty() || s[0] == '#' || s[0] == ';') continue;
    size_t eq = s.find('=');
    if (eq == std::string::npos) fail_at(name, line, "expected 'key=value', got '", s, "'");
    Option o{trim(s.substr(0, eq)), trim(s.substr(eq + 1)), line};
    if (o.key.empty()) fail_at(name, line, "missing key before '='");
    if (const Option* first = d.find(o.key))
      fail_at(name, line, "duplicate key '", o.key, "' (first set on line ", first->line, ")");
    if (std::find(std::begin(kKnownKeys), std::end(kKnownKeys), o.key) == std::end(kKnownKeys))
      std::cerr << "warning: " << name << ':' << line << ": key '" << o.key
                << "' is not a known .data key, ignored\n";
    d.options_.push_back(std::move(o));
  }
  return d;
}

DataFile DataFile::parse_file(const std::string& path) {
  return parse_text(read_text(path, "data file"), path);
}

const DataFile::Option* DataFile::find(const std::string& key) const {
  for (const Option& o : options_)
    if (o.key == key) return &o;
  return nullptr;
}

std::string DataFile::get_string(const std::string& key, const std::string& fallback) const {
  const Option* o = find(key);
  return o ? o->value : fallback;
}

int DataFile::get_int(const std::string& key, int fallback) const {
  const Option* o = find(key);
  if (!o) return fallback;
  try {
    size_t used = 0;
    int v = std::stoi(o->value, &used);
    if (used == o->value.size()) return v;
  } catch (const std::exception&) {
  }
  fail_at(path_, o->line, "key '", key, "': expected an integer, got '", o->value, "'");
}

std::string DataFile::existing_file(const std::string& key) const {
  const Option* o = find(key);
  if (!o) fail(path_, ": no '", key, "' key");
  if (o->value.empty()) fail_at(path_, o->line, key, " file is empty (no path after '=')");
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path p(o->value);
  if (fs::exists(p, ec)) return p.string();
  if (p.is_relative()) {
    fs::path beside = fs::path(path_).parent_path() / p;
    if (fs::exists(beside, ec)) return beside.string();
  }
  fail_at(path_, o->line, key, " file '", o->value, "' does not exist");
}

std::vector<std::string> DataFile::class_names() const {
  return read_names_file(existing_file(has("names") || !has("labels") ? "names" : "labels"));
}

std::vector<std::string> read_names_file(const std::string& path) {
  std::string text = read_text(path, "names file");
  std::vector<std::string> names;
  std::vector<int> lines;
  std::istringstream in(text);
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    names.push_back(trim(raw));
    lines.push_back(line);
  }
  while (!names.empty() && names.back().empty()) names.pop_back();
  if (names.empty()) fail(path, ": the names file has no names");
  // A blank line in the middle would shift every later class by one: refuse it.
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i].empty()) fail_at(path, lines[i], "blank line in a names file (one class name per line)");
  return names;
}

}  // namespace mishnet
