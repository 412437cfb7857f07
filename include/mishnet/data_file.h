// Darknet .data files (key=value: classes, train, valid, names, backup, eval, labels, top, ...)
// and .names files (one class name per line).
#pragma once
#include <string>
#include <vector>

namespace mishnet {

class DataFile {
 public:
  struct Option {
    std::string key;
    std::string value;
    int line = 0;
  };

  // Parses `path`. Blank lines and lines starting with '#' or ';' are skipped; keys and values
  // are trimmed (inner spaces are kept: paths may contain them). A line without '=' and a
  // repeated key are errors naming file:line; unknown keys are warned about on std::cerr.
  static DataFile parse_file(const std::string& path);
  static DataFile parse_text(const std::string& text, const std::string& name);

  const std::string& path() const { return path_; }
  const std::vector<Option>& options() const { return options_; }
  const Option* find(const std::string& key) const;
  bool has(const std::string& key) const { return find(key) != nullptr; }

  std::string get_string(const std::string& key, const std::string& fallback) const;
  // Throws "file:line: key 'k': expected an integer, got 'v'" for non-integers.
  int get_int(const std::string& key, int fallback) const;

  // The file named by `key`, which must exist: relative paths are looked up from the working
  // directory first (Darknet's convention), then from the .data file's directory. Throws
  // "coco.data:3: names file 'data/coco.names' does not exist" when neither has it, and
  // "coco.data: no 'names' key" when the key is absent.
  std::string existing_file(const std::string& key) const;

  // Class names from `names` (or `labels` when there is no `names`, as Darknet's classifier).
  std::vector<std::string> class_names() const;

 private:
  std::string path_;
  std::vector<Option> options_;
};

// One name per line; '\r' and surrounding spaces are trimmed, trailing blank lines ignored.
// Throws naming file:line for a blank line between names, and the file when it is missing or
// has no names.
std::vector<std::string> read_names_file(const std::string& path);

}  // namespace mishnet
