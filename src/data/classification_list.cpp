// List files and label matching for classification (Darknet's get_paths + fill_truth), made
// strict: an image whose name matches no label or several labels is an error, not a silent
// guess.
#include <filesystem>
#include <fstream>
#include <sstream>

#include "mishnet/classification_data.h"
#include "core/text.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

std::string joined(const std::vector<std::string>& labels, const std::vector<int>& which) {
  std::string out;
  for (size_t i = 0; i < which.size(); ++i) {
    if (i) out += ", ";
    out += labels[size_t(which[i])];
  }
  return out;
}

std::vector<int> labels_in(const std::string& text, const std::vector<std::string>& labels) {
  std::vector<int> found;
  for (size_t i = 0; i < labels.size(); ++i)
    if (text.find(labels[i]) != std::string::npos) found.push_back(int(i));
  return found;
}

// Darknet's convention first (relative to the working directory), then beside the list.
std::string resolve_image_path(const std::string& entry, const std::filesystem::path& list_dir) {
  namespace fs = std::filesystem;
  fs::path p(entry);
  std::error_code ec;
  if (p.is_absolute() || fs::exists(p, ec)) return entry;
  fs::path beside = list_dir / p;
  if (!list_dir.empty() && fs::exists(beside, ec)) return beside.string();
  return entry;  // missing: the loader reports and skips it
}

}  // namespace

std::vector<std::string> classification_labels(const DataFile& data) {
  std::string key = data.has("labels") ? "labels" : "names";
  std::string file = data.existing_file(key);
  std::vector<std::string> labels = read_names_file(file);
  if (data.has("classes")) {
    int classes = data.get_int("classes", 0);
    if (classes != int(labels.size()))
      fail_at(data.path(), data.find("classes")->line, "classes=", classes, " but the ", key, " file ",
              file, " holds ", labels.size(), " labels");
  }
  return labels;
}

int find_class_of_path(const std::string& path, const std::vector<std::string>& labels,
                       std::vector<int>* matches) {
  size_t slash = path.find_last_of("/\\");
  std::string file_name = slash == std::string::npos ? path : path.substr(slash + 1);
  std::vector<int> found = labels_in(file_name, labels);
  if (found.empty()) found = labels_in(path, labels);
  if (matches) *matches = found;
  if (found.empty()) return -1;
  if (found.size() > 1) return -2;
  return found[0];
}

ClassificationList read_classification_list(const std::string& list_path, std::vector<std::string> labels) {
  if (labels.empty()) fail(list_path, ": no class labels to match the images against");
  for (size_t i = 0; i < labels.size(); ++i)
    if (labels[i].empty()) fail(list_path, ": class label ", i, " is empty (it would match every image)");
  std::ifstream in(list_path, std::ios::binary);
  if (!in) fail(list_path, ": cannot open the image list");
  const std::filesystem::path list_dir = std::filesystem::path(list_path).parent_path();

  ClassificationList list;
  list.list_path = list_path;
  std::string raw;
  int line = 0;
  std::vector<int> found;
  while (std::getline(in, raw)) {
    ++line;
    std::string entry = trim(raw);
    if (entry.empty()) continue;
    int id = find_class_of_path(entry, labels, &found);
    if (id == -1) {
      std::vector<int> all(labels.size());
      for (size_t i = 0; i < all.size(); ++i) all[i] = int(i);
      std::string shown = labels.size() <= 12 ? " (" + joined(labels, all) + ")" : "";
      fail_at(list_path, line, "'", entry, "' matches none of the ", labels.size(), " class labels", shown,
              ": its file name must contain exactly one of them");
    }
    if (id == -2)
      fail_at(list_path, line, "'", entry, "' matches ", found.size(), " class labels (", joined(labels, found),
              "): its file name must contain exactly one of them");
    list.images.push_back({resolve_image_path(entry, list_dir), id, line});
  }
  if (list.images.empty()) fail(list_path, ": the image list holds no images");
  list.labels = std::move(labels);
  return list;
}

ClassificationList read_classification_list(const DataFile& data, const std::string& key) {
  std::vector<std::string> labels = classification_labels(data);
  return read_classification_list(data.existing_file(key), std::move(labels));
}

}  // namespace mishnet
