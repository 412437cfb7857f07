// COCO JSON <-> YOLO labels and lists.
#include "mishnet/coco_convert.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "mishnet/detection_labels.h"
#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet {

namespace {

namespace fs = std::filesystem;

void write_text(const fs::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), ": cannot open for writing");
  out << text;
  out.flush();
  if (!out) fail(path.string(), ": write failed");
}

}  // namespace

CocoToYoloReport coco_to_yolo(const std::string& instances_json, const std::string& images_dir,
                              const std::string& out_dir) {
  CocoGroundTruth gt = read_coco_ground_truth(instances_json);
  if (gt.categories.empty()) fail(instances_json, ": no categories");
  std::vector<CocoCategory> cats = gt.categories;
  std::stable_sort(cats.begin(), cats.end(), [](const CocoCategory& a, const CocoCategory& b) { return a.id < b.id; });
  std::map<int64_t, int> class_of;
  for (size_t c = 0; c < cats.size(); ++c) {
    if (class_of.count(cats[c].id)) fail(instances_json, ": category id ", cats[c].id, " appears twice");
    class_of[cats[c].id] = int(c);
  }
  std::map<int64_t, std::vector<const CocoAnnotation*>> anns_of;
  for (const CocoAnnotation& a : gt.annotations) anns_of[a.image_id].push_back(&a);

  CocoToYoloReport rep;
  const fs::path out = fs::absolute(out_dir);
  const fs::path src = fs::absolute(images_dir);
  fs::create_directories(out / "images");
  fs::create_directories(out / "labels");
  std::error_code ec;
  const bool same_dir = fs::equivalent(src, out / "images", ec);

  std::string list;
  for (size_t i = 0; i < gt.images.size(); ++i) {
    const CocoImage& im = gt.images[i];
    if (im.file_name.empty()) fail(instances_json, ": images[", i, "]: no file_name");
    if (im.width <= 0 || im.height <= 0)
      fail(instances_json, ": images[", i, "]: width and height are needed to make boxes relative");
    fs::path source = src / im.file_name;
    fs::path image = out / "images" / im.file_name;
    if (!fs::exists(source, ec)) {
      rep.missing_images++;
      rep.problems.push_back(source.string() + ": missing (image " + std::to_string(im.id) + " skipped)");
      continue;
    }
    if (!same_dir) {
      fs::create_directories(image.parent_path());
      if (fs::is_symlink(image, ec) || fs::exists(image, ec)) fs::remove(image);
      fs::create_symlink(source, image);
    }
    std::string labels;
    auto it = anns_of.find(im.id);
    if (it != anns_of.end()) {
      for (const CocoAnnotation* a : it->second) {
        std::string where = instances_json + ": annotation " + std::to_string(a->id);
        auto cls = class_of.find(a->category_id);
        if (cls == class_of.end()) fail(where, ": category_id ", a->category_id, " is not among the categories");
        if (a->iscrowd) {
          rep.crowd_skipped++;
          continue;
        }
        double x0 = std::clamp(a->bbox.x, 0.0, double(im.width)), x1 = std::clamp(a->bbox.x + a->bbox.w, 0.0, double(im.width));
        double y0 = std::clamp(a->bbox.y, 0.0, double(im.height)), y1 = std::clamp(a->bbox.y + a->bbox.h, 0.0, double(im.height));
        if (!(x1 > x0 && y1 > y0)) {
          rep.invalid_skipped++;
          rep.problems.push_back(where + ": box has no area inside the image (skipped)");
          continue;
        }
        char line[160];
        std::snprintf(line, sizeof line, "%d %.6f %.6f %.6f %.6f\n", cls->second, (x0 + x1) / 2 / im.width,
                      (y0 + y1) / 2 / im.height, (x1 - x0) / im.width, (y1 - y0) / im.height);
        labels += line;
        rep.objects++;
      }
    }
    fs::path label = label_path_for_image(image.string());
    fs::create_directories(label.parent_path());
    write_text(label, labels);
    list += image.string() + "\n";
    rep.images++;
  }

  std::string names;
  for (const CocoCategory& c : cats) names += (c.name.empty() ? std::to_string(c.id) : c.name) + "\n";
  rep.list_path = (out / "list.txt").string();
  rep.names_path = (out / "obj.names").string();
  rep.data_path = (out / "obj.data").string();
  write_text(rep.list_path, list);
  write_text(rep.names_path, names);
  write_text(rep.data_path, "classes = " + std::to_string(cats.size()) + "\ntrain = " + rep.list_path +
                                "\nvalid = " + rep.list_path + "\nnames = " + rep.names_path + "\nbackup = " +
                                (out / "backup").string() + "/\n");
  return rep;
}

CocoGroundTruth yolo_to_coco(const std::vector<std::string>& image_paths, const std::vector<std::string>& names,
                             std::vector<std::string>* problems) {
  CocoGroundTruth gt;
  const int classes = int(names.size());
  const std::vector<int64_t> image_ids = coco_image_ids(image_paths);
  const std::vector<int64_t> category_ids = coco_category_ids(classes, false);
  for (int c = 0; c < classes; ++c) gt.categories.push_back({category_ids[size_t(c)], names[size_t(c)]});
  for (size_t i = 0; i < image_paths.size(); ++i) {
    Image im;
    try {
      im = load_image(image_paths[i], 3);
    } catch (const Error& e) {
      if (problems) problems->push_back(std::string(e.what()) + " (image skipped)");
      continue;
    }
    gt.images.push_back({image_ids[i], im.w, im.h, image_paths[i]});
    for (const LabelBox& b : read_yolo_labels(label_path_for_image(image_paths[i]), classes, problems)) {
      CocoAnnotation a;
      a.id = int64_t(gt.annotations.size()) + 1;
      a.image_id = image_ids[i];
      a.category_id = category_ids[size_t(b.class_id)];
      a.bbox = coco_box_from_relative(b.x, b.y, b.w, b.h, im.w, im.h);
      a.area = a.bbox.w * a.bbox.h;
      gt.annotations.push_back(a);
    }
  }
  return gt;
}

}  // namespace mishnet
