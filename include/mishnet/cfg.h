// Darknet .cfg files: INI-like sections of key=value options, parsed strictly.
//
// Every getter marks its key as used; after a layer is built, keys nobody read are reported
// (an error in strict mode, a warning with --lenient), which is how misspelt keys are caught.
#pragma once
#include <string>
#include <vector>

namespace mishnet {

struct CfgOption {
  std::string key;
  std::string value;
  int line = 0;
  mutable bool used = false;
};

class CfgSection {
 public:
  std::string type;       // canonical name: aliases ([conv], [max], ...) already resolved
  std::string raw_type;   // as written in the file
  std::string file;
  int line = 0;           // line of the [section] header
  std::vector<CfgOption> options;
  // Repeated keys (the first occurrence wins, as in Darknet); reported by the network builder,
  // fatal unless lenient.
  std::vector<CfgOption> duplicates;

  bool has(const std::string& key) const;
  const CfgOption* find(const std::string& key) const;

  int get_int(const std::string& key, int fallback) const;
  int require_int(const std::string& key) const;
  float get_float(const std::string& key, float fallback) const;
  std::string get_string(const std::string& key, const std::string& fallback) const;
  std::vector<int> get_ints(const std::string& key) const;      // empty when absent
  std::vector<float> get_floats(const std::string& key) const;  // empty when absent
  bool get_bool(const std::string& key, bool fallback) const;   // 0/1

  // Marks a key used without reading it (keys a layer accepts but ignores by design).
  void accept(const std::string& key) const;
  std::vector<const CfgOption*> unused() const;

  // Throws "file:line: [type] key 'k': message" for the line of that key (or of the header).
  [[noreturn]] void fail_key(const std::string& key, const std::string& message) const;
};

struct Cfg {
  std::string path;
  std::vector<CfgSection> sections;  // sections[0] is [net]
};

// Canonical section name for an alias ("conv" -> "convolutional"); unknown names pass through.
std::string canonical_section_name(const std::string& name);

Cfg parse_cfg_text(const std::string& text, const std::string& name);
Cfg parse_cfg_file(const std::string& path);

}  // namespace mishnet
