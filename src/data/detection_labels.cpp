// Label paths, YOLO label files and image lists for detection (Darknet's
// replace_image_to_label, read_boxes and get_paths), with every bad line named.
#include "mishnet/detection_labels.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/text.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

bool is_separator(char c) { return c == '/' || c == '\\'; }

// Whole-token number parsing: "0.5x" and "" are not numbers.
bool parse_float(const std::string& token, float& out) {
  if (token.empty()) return false;
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(token.c_str(), &end);
  if (end != token.c_str() + token.size() || errno == ERANGE || !std::isfinite(v)) return false;
  out = float(v);
  return true;
}

bool parse_int(const std::string& token, int& out) {
  if (token.empty()) return false;
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(token.c_str(), &end, 10);
  if (end != token.c_str() + token.size() || errno == ERANGE || v < -2147483647L || v > 2147483647L) return false;
  out = int(v);
  return true;
}

}  // namespace

std::string label_path_for_image(const std::string& image_path) {
  std::string path = trim(image_path);
  // Directory components: [start, end) ranges between separators, the last one is the file.
  size_t file_start = 0;
  for (size_t i = 0; i < path.size(); ++i)
    if (is_separator(path[i])) file_start = i + 1;
  // The image directory nearest the file named "images" or "JPEGImages" becomes "labels".
  size_t end = file_start == 0 ? 0 : file_start - 1;  // separator before the file name
  while (end > 0) {
    size_t start = end;
    while (start > 0 && !is_separator(path[start - 1])) --start;
    std::string component = path.substr(start, end - start);
    if (component == "images" || component == "JPEGImages") {
      path.replace(start, end - start, "labels");
      file_start = file_start - component.size() + 6;
      break;
    }
    if (start == 0) break;
    end = start - 1;
  }
  size_t dot = path.find_last_of('.');
  if (dot == std::string::npos || dot < file_start) return path + ".txt";
  return path.substr(0, dot) + ".txt";
}

std::vector<LabelBox> read_yolo_labels(const std::string& path, int classes, std::vector<std::string>* problems) {
  std::vector<LabelBox> boxes;
  std::ifstream in(path, std::ios::binary);
  auto report = [&](int line, const std::string& what) {
    if (!problems) return;
    problems->push_back(line > 0 ? path + ":" + std::to_string(line) + ": " + what : path + ": " + what);
  };
  if (!in) {
    report(0, "missing label file (image taken as having no objects)");
    return boxes;
  }
  std::string raw;
  int line = 0;
  while (std::getline(in, raw)) {
    ++line;
    std::istringstream fields(raw);
    std::vector<std::string> tokens;
    for (std::string t; fields >> t;) tokens.push_back(t);
    if (tokens.empty()) continue;
    if (tokens.size() != 5) {
      report(line, "expected 5 fields (class x y w h), got " + std::to_string(tokens.size()));
      continue;
    }
    LabelBox b;
    b.line = line;
    if (!parse_int(tokens[0], b.class_id)) {
      report(line, "class id '" + tokens[0] + "' is not an integer");
      continue;
    }
    float* coords[4] = {&b.x, &b.y, &b.w, &b.h};
    static const char* names[4] = {"x", "y", "w", "h"};
    bool numbers = true;
    for (int k = 0; k < 4 && numbers; ++k) {
      if (!parse_float(tokens[size_t(k) + 1], *coords[k])) {
        report(line, std::string(names[k]) + " '" + tokens[size_t(k) + 1] + "' is not a number");
        numbers = false;
      }
    }
    if (!numbers) continue;
    if (b.class_id < 0 || b.class_id >= classes) {
      report(line, "class id " + std::to_string(b.class_id) + " is outside 0.." + std::to_string(classes - 1));
      continue;
    }
    std::string bad;
    for (int k = 0; k < 2; ++k)
      if (!(*coords[k] >= 0.0f && *coords[k] <= 1.0f)) bad = std::string(names[k]) + " " + tokens[size_t(k) + 1] + " is outside [0,1]";
    for (int k = 2; k < 4 && bad.empty(); ++k)
      if (!(*coords[k] > 0.0f && *coords[k] <= 1.0f)) bad = std::string(names[k]) + " " + tokens[size_t(k) + 1] + " is outside (0,1]";
    if (!bad.empty()) {
      report(line, bad);
      continue;
    }
    boxes.push_back(b);
  }
  return boxes;
}

std::vector<std::string> read_image_list(const std::string& list_path) {
  namespace fs = std::filesystem;
  std::ifstream in(list_path, std::ios::binary);
  if (!in) fail(list_path, ": cannot open the image list");
  const fs::path list_dir = fs::path(list_path).parent_path();
  std::vector<std::string> paths;
  std::string raw;
  while (std::getline(in, raw)) {
    std::string entry = trim(raw);
    if (entry.empty()) continue;
    fs::path p(entry);
    std::error_code ec;
    if (!p.is_absolute() && !fs::exists(p, ec) && !list_dir.empty() && fs::exists(list_dir / p, ec))
      entry = (list_dir / p).string();
    paths.push_back(entry);
  }
  if (paths.empty()) fail(list_path, ": the image list holds no images");
  return paths;
}

}  // namespace mishnet
