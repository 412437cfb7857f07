#include "mishnet/cfg.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "core/text.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

// Darknet ignores all whitespace inside a line ("anchors = 10,13,  16,30").
std::string strip_spaces(const std::string& s) {
  std::string out;
  for (char ch : s)
    if (!std::isspace(static_cast<unsigned char>(ch))) out += ch;
  return out;
}

std::vector<std::string> split_commas(const std::string& s) {
  std::vector<std::string> parts;
  std::string cur;
  for (char ch : s) {
    if (ch == ',') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur += ch;
    }
  }
  parts.push_back(cur);
  // A trailing comma ("layers=-1,") is common in the wild and harmless.
  if (parts.size() > 1 && parts.back().empty()) parts.pop_back();
  return parts;
}

bool parse_int(const std::string& s, int& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < -2147483647L || v > 2147483647L) return false;
  out = static_cast<int>(v);
  return true;
}

bool parse_float(const std::string& s, float& out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  out = static_cast<float>(v);
  return true;
}

}  // namespace

std::string canonical_section_name(const std::string& name) {
  if (name == "conv") return "convolutional";
  if (name == "max") return "maxpool";
  if (name == "avg") return "avgpool";
  if (name == "conn") return "connected";
  if (name == "soft") return "softmax";
  if (name == "network") return "net";
  return name;
}

const CfgOption* CfgSection::find(const std::string& key) const {
  for (const auto& o : options)
    if (o.key == key) return &o;
  return nullptr;
}

bool CfgSection::has(const std::string& key) const { return find(key) != nullptr; }

void CfgSection::accept(const std::string& key) const {
  if (auto* o = find(key)) o->used = true;
}

void CfgSection::fail_key(const std::string& key, const std::string& message) const {
  const CfgOption* o = find(key);
  fail_at(file, o ? o->line : line, "[", raw_type, "] ", key.empty() ? "" : "'" + key + "': ",
          message);
}

int CfgSection::get_int(const std::string& key, int fallback) const {
  const CfgOption* o = find(key);
  if (!o) return fallback;
  o->used = true;
  int v = 0;
  if (!parse_int(o->value, v)) {
    // Darknet reads integers with atoi; accept "1.0"-style values only when integral.
    float f = 0;
    if (parse_float(o->value, f) && std::floor(f) == f && std::fabs(f) < 2e9f) return int(f);
    fail_key(key, "expected an integer, got '" + o->value + "'");
  }
  return v;
}

int CfgSection::require_int(const std::string& key) const {
  if (!has(key)) fail_at(file, line, "[", raw_type, "] missing required key '", key, "'");
  return get_int(key, 0);
}

float CfgSection::get_float(const std::string& key, float fallback) const {
  const CfgOption* o = find(key);
  if (!o) return fallback;
  o->used = true;
  float v = 0;
  if (!parse_float(o->value, v)) fail_key(key, "expected a number, got '" + o->value + "'");
  return v;
}

std::string CfgSection::get_string(const std::string& key, const std::string& fallback) const {
  const CfgOption* o = find(key);
  if (!o) return fallback;
  o->used = true;
  return o->value;
}

bool CfgSection::get_bool(const std::string& key, bool fallback) const {
  if (!has(key)) return fallback;
  int v = get_int(key, 0);
  if (v != 0 && v != 1) fail_key(key, "expected 0 or 1, got '" + find(key)->value + "'");
  return v != 0;
}

std::vector<int> CfgSection::get_ints(const std::string& key) const {
  std::vector<int> out;
  const CfgOption* o = find(key);
  if (!o) return out;
  o->used = true;
  for (const auto& part : split_commas(o->value)) {
    int v = 0;
    if (!parse_int(part, v))
      fail_key(key, "expected a comma-separated list of integers, got '" + o->value + "'");
    out.push_back(v);
  }
  return out;
}

std::vector<float> CfgSection::get_floats(const std::string& key) const {
  std::vector<float> out;
  const CfgOption* o = find(key);
  if (!o) return out;
  o->used = true;
  for (const auto& part : split_commas(o->value)) {
    float v = 0;
    if (!parse_float(part, v))
      fail_key(key, "expected a comma-separated list of numbers, got '" + o->value + "'");
    out.push_back(v);
  }
  return out;
}

std::vector<const CfgOption*> CfgSection::unused() const {
  std::vector<const CfgOption*> out;
  for (const auto& o : options)
    if (!o.used) out.push_back(&o);
  return out;
}

Cfg parse_cfg_text(const std::string& text, const std::string& name) {
  Cfg cfg;
  cfg.path = name;
  std::istringstream in(text);
  std::string raw;
  int line_no = 0;
  while (std::getline(in, raw)) {
    ++line_no;
    if (!raw.empty() && raw.back() == '\r') raw.pop_back();
    std::string line = trim(raw);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line[0] == '[') {
      if (line.back() != ']') fail_at(name, line_no, "section header '", line, "' lacks a closing ']'");
      CfgSection s;
      s.raw_type = trim(line.substr(1, line.size() - 2));
      if (s.raw_type.empty()) fail_at(name, line_no, "empty section name '[]'");
      s.type = canonical_section_name(s.raw_type);
      s.file = name;
      s.line = line_no;
      cfg.sections.push_back(std::move(s));
      continue;
    }
    size_t eq = line.find('=');
    if (eq == std::string::npos)
      fail_at(name, line_no, "expected 'key=value' or '[section]', got '", line, "'");
    if (cfg.sections.empty())
      fail_at(name, line_no, "option '", line, "' appears before the first [section]");
    // Inline comments after a value ("size=3 # kernel") are tolerated as Darknet does not,
    // but users write them; a '#' never occurs inside a valid value.
    std::string value_part = line.substr(eq + 1);
    size_t hash = value_part.find('#');
    if (hash != std::string::npos) value_part = value_part.substr(0, hash);
    CfgOption opt;
    opt.key = strip_spaces(line.substr(0, eq));
    opt.value = strip_spaces(value_part);
    opt.line = line_no;
    if (opt.key.empty()) fail_at(name, line_no, "option with an empty key: '", line, "'");
    CfgSection& sec = cfg.sections.back();
    if (sec.find(opt.key))
      sec.duplicates.push_back(std::move(opt));
    else
      sec.options.push_back(std::move(opt));
  }
  if (cfg.sections.empty()) fail_at(name, line_no > 0 ? line_no : 1, "no sections: not a cfg file");
  if (cfg.sections[0].type != "net")
    fail_at(name, cfg.sections[0].line, "the first section must be [net] or [network], got [",
            cfg.sections[0].raw_type, "]");
  return cfg;
}

Cfg parse_cfg_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) fail(path, ": cannot open cfg file");
  std::stringstream ss;
  ss << f.rdbuf();
  return parse_cfg_text(ss.str(), path);
}

}  // namespace mishnet
