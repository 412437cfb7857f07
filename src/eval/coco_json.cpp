// COCO JSON files (ground truth and results) read and written with nlohmann-json. Every error
// names the file and either the byte offset (syntax) or the field that is wrong.
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "mishnet/coco_eval.h"
#include "mishnet/error.h"

namespace mishnet {

namespace {

using nlohmann::json;

json parse_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, ": cannot open");
  std::stringstream text;
  text << in.rdbuf();
  try {
    return json::parse(text.str());
  } catch (const json::parse_error& e) {
    // nlohmann's message reads "[json.exception.parse_error.101] parse error at line 1, column 5: ..."
    std::string what = e.what();
    size_t colon = what.find("] ");
    fail(path, ": byte ", e.byte, ": invalid JSON (", colon == std::string::npos ? what : what.substr(colon + 2), ")");
  }
}

const json& member(const std::string& path, const json& obj, const std::string& where, const char* key) {
  if (!obj.is_object()) fail(path, ": ", where, ": expected an object");
  auto it = obj.find(key);
  if (it == obj.end()) fail(path, ": ", where, ": no '", key, "'");
  return *it;
}

double number(const std::string& path, const json& v, const std::string& where) {
  if (!v.is_number()) fail(path, ": ", where, ": expected a number, got ", v.dump());
  double d = v.get<double>();
  if (!std::isfinite(d)) fail(path, ": ", where, ": not a finite number");
  return d;
}

int64_t integer_id(const std::string& path, const json& v, const std::string& where) {
  if (v.is_number_integer()) return v.get<int64_t>();
  if (v.is_number_float()) {
    double d = v.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return int64_t(d);
  }
  fail(path, ": ", where, ": expected an integer id, got ", v.dump());
}

CocoBox read_bbox(const std::string& path, const json& v, const std::string& where) {
  if (!v.is_array() || v.size() != 4) fail(path, ": ", where, ": expected 4 numbers [x, y, w, h], got ", v.dump());
  CocoBox b;
  b.x = number(path, v[0], where + "[0]");
  b.y = number(path, v[1], where + "[1]");
  b.w = number(path, v[2], where + "[2]");
  b.h = number(path, v[3], where + "[3]");
  return b;
}

std::string at(const char* array, size_t i) { return std::string(array) + "[" + std::to_string(i) + "]"; }

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path, ": cannot open for writing");
  out << text;
  out.flush();
  if (!out) fail(path, ": write failed");
}

}  // namespace

CocoGroundTruth read_coco_ground_truth(const std::string& path) {
  json root = parse_json_file(path);
  if (!root.is_object()) fail(path, ": expected a COCO ground-truth object {\"images\", \"annotations\", \"categories\"}");
  CocoGroundTruth gt;
  const json& images = member(path, root, "top level", "images");
  if (!images.is_array()) fail(path, ": images: expected an array");
  for (size_t i = 0; i < images.size(); ++i) {
    const json& im = images[i];
    std::string where = at("images", i);
    CocoImage out;
    out.id = integer_id(path, member(path, im, where, "id"), where + ".id");
    if (im.contains("width")) out.width = int(number(path, im["width"], where + ".width"));
    if (im.contains("height")) out.height = int(number(path, im["height"], where + ".height"));
    if (im.contains("file_name") && im["file_name"].is_string()) out.file_name = im["file_name"].get<std::string>();
    gt.images.push_back(out);
  }
  const json& anns = member(path, root, "top level", "annotations");
  if (!anns.is_array()) fail(path, ": annotations: expected an array");
  for (size_t i = 0; i < anns.size(); ++i) {
    const json& a = anns[i];
    std::string where = at("annotations", i);
    CocoAnnotation out;
    out.id = integer_id(path, member(path, a, where, "id"), where + ".id");
    out.image_id = integer_id(path, member(path, a, where, "image_id"), where + ".image_id");
    out.category_id = integer_id(path, member(path, a, where, "category_id"), where + ".category_id");
    out.bbox = read_bbox(path, member(path, a, where, "bbox"), where + ".bbox");
    out.area = number(path, member(path, a, where, "area"), where + ".area");
    if (a.contains("iscrowd")) {
      const json& c = a["iscrowd"];
      if (c.is_boolean()) out.iscrowd = c.get<bool>();
      else out.iscrowd = number(path, c, where + ".iscrowd") != 0;
    }
    gt.annotations.push_back(out);
  }
  const json& cats = member(path, root, "top level", "categories");
  if (!cats.is_array()) fail(path, ": categories: expected an array");
  for (size_t i = 0; i < cats.size(); ++i) {
    std::string where = at("categories", i);
    CocoCategory out;
    out.id = integer_id(path, member(path, cats[i], where, "id"), where + ".id");
    if (cats[i].contains("name") && cats[i]["name"].is_string()) out.name = cats[i]["name"].get<std::string>();
    gt.categories.push_back(out);
  }
  return gt;
}

std::vector<CocoResult> read_coco_results(const std::string& path) {
  json root = parse_json_file(path);
  if (!root.is_array())
    fail(path, ": expected a COCO results array [{\"image_id\", \"category_id\", \"bbox\", \"score\"}, ...]",
         " (`detector test -out` writes Darknet's per-frame format; `detector valid` writes this one)");
  std::vector<CocoResult> results;
  results.reserve(root.size());
  for (size_t i = 0; i < root.size(); ++i) {
    const json& r = root[i];
    std::string where = "[" + std::to_string(i) + "]";
    CocoResult out;
    out.image_id = integer_id(path, member(path, r, where, "image_id"), where + ".image_id");
    out.category_id = integer_id(path, member(path, r, where, "category_id"), where + ".category_id");
    out.bbox = read_bbox(path, member(path, r, where, "bbox"), where + ".bbox");
    out.score = number(path, member(path, r, where, "score"), where + ".score");
    results.push_back(out);
  }
  return results;
}

void write_coco_ground_truth(const CocoGroundTruth& gt, const std::string& path) {
  json root = json::object();
  json images = json::array(), anns = json::array(), cats = json::array();
  for (const CocoImage& im : gt.images)
    images.push_back({{"id", im.id}, {"width", im.width}, {"height", im.height}, {"file_name", im.file_name}});
  for (const CocoAnnotation& a : gt.annotations)
    anns.push_back({{"id", a.id},
                    {"image_id", a.image_id},
                    {"category_id", a.category_id},
                    {"bbox", {a.bbox.x, a.bbox.y, a.bbox.w, a.bbox.h}},
                    {"area", a.area},
                    {"iscrowd", a.iscrowd ? 1 : 0}});
  for (const CocoCategory& c : gt.categories) cats.push_back({{"id", c.id}, {"name", c.name}});
  root["images"] = images;
  root["annotations"] = anns;
  root["categories"] = cats;
  write_text(path, root.dump(1) + "\n");
}

void write_coco_results(const std::vector<CocoResult>& results, const std::string& path) {
  // One detection per line: readable, and diff-friendly.
  std::string text = "[\n";
  for (size_t i = 0; i < results.size(); ++i) {
    const CocoResult& r = results[i];
    json j = {{"image_id", r.image_id},
              {"category_id", r.category_id},
              {"bbox", {r.bbox.x, r.bbox.y, r.bbox.w, r.bbox.h}},
              {"score", r.score}};
    text += j.dump();
    text += i + 1 < results.size() ? ",\n" : "\n";
  }
  text += "]\n";
  write_text(path, text);
}

}  // namespace mishnet
