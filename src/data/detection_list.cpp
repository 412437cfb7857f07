// read_detection_list: the image list and every label file, checked once before training.
#include <filesystem>
#include <sstream>

#include "mishnet/detection_data.h"
#include "mishnet/error.h"

namespace mishnet {

DetectionList read_detection_list(const std::string& list_path, int classes) {
  if (classes < 1) fail(list_path, ": the number of classes must be at least 1, got ", classes);
  DetectionList list;
  list.list_path = list_path;
  list.classes = classes;
  for (const std::string& path : read_image_list(list_path)) {
    if (!std::filesystem::exists(path)) {
      list.problems.push_back(path + ": image file not found (skipped)");
      ++list.missing_images;
      continue;
    }
    const std::string label_path = label_path_for_image(path);
    if (!std::filesystem::exists(label_path)) ++list.missing_label_files;
    const size_t before = list.problems.size();
    DetectionImage image;
    image.path = path;
    image.boxes = read_yolo_labels(label_path, classes, &list.problems);
    if (std::filesystem::exists(label_path)) list.bad_label_lines += int(list.problems.size() - before);
    list.boxes += image.boxes.size();
    list.images.push_back(std::move(image));
  }
  if (list.images.empty())
    fail(list_path, ": none of its images exists (", list.missing_images, " paths, e.g. ",
         list.problems.empty() ? "" : list.problems.front(), ")");
  return list;
}

std::string DetectionList::summary() const {
  std::ostringstream s;
  s << list_path << ": " << images.size() << " images, " << boxes << " boxes; " << bad_label_lines
    << (bad_label_lines == 1 ? " bad label line" : " bad label lines") << " skipped, " << missing_label_files
    << (missing_label_files == 1 ? " image" : " images") << " without a label file, " << missing_images
    << (missing_images == 1 ? " missing image" : " missing images") << " skipped";
  return s.str();
}

}  // namespace mishnet
