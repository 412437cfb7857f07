// Detection ground truth as Darknet lays it out: an image list (one path per line) and, for
// each image, a YOLO label file found by Darknet's path rule, with one object per line:
// `class x_centre y_centre width height`, coordinates relative to the image.
#pragma once
#include <string>
#include <vector>

namespace mishnet {

// One object of a label file. x, y: centre; w, h: size; all relative to the image (0..1).
struct LabelBox {
  int class_id = 0;
  float x = 0, y = 0, w = 0, h = 0;
  int line = 0;  // in the label file
};

// Darknet's rule for where an image's label file is (its replace_image_to_label, generalised):
// the directory component nearest the file that is named "images" or "JPEGImages" becomes
// "labels" (Darknet replaces images/train2017, images/val2017, images/train2014,
// images/val2014 and JPEGImages, with '/' or '\\' separators; older Darknet replaced any
// "images"), and the extension becomes ".txt" (an image without an extension gets ".txt").
//   data/obj/images/1.jpg -> data/obj/labels/1.txt;  VOC2007/JPEGImages/0001.JPEG -> VOC2007/labels/0001.txt
//   obj/1.png -> obj/1.txt (labels beside the images, the common custom-dataset layout)
std::string label_path_for_image(const std::string& image_path);

// Reads a YOLO label file. Bad lines (wrong field count, non-numbers, class id outside
// 0..classes-1, w or h outside (0,1], x or y outside [0,1]) are reported as
// "file:line: what is wrong" into `problems` (when not null) and skipped. Blank lines are
// skipped. A missing file means an image without objects (as in Darknet) and is reported too
// ("file: missing label file (image taken as having no objects)").
std::vector<LabelBox> read_yolo_labels(const std::string& path, int classes, std::vector<std::string>* problems);

// Image lists (the .data train= and valid= files): one path per line, '\r' and surrounding
// spaces trimmed, blank lines skipped. A relative path is taken from the working directory
// (Darknet's convention) and, when no file is there, from the list file's directory (as
// read_classification_list does). Throws naming the list when it cannot be opened or holds no
// path.
std::vector<std::string> read_image_list(const std::string& list_path);

}  // namespace mishnet
