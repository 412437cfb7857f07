// Converting detection datasets between COCO's JSON and Darknet's YOLO layout (an image list,
// one label file per image found by label_path_for_image, a .names and a .data file).
#pragma once
#include <string>
#include <vector>

#include "mishnet/coco_eval.h"

namespace mishnet {

struct CocoToYoloReport {
  int images = 0;           // written to the list
  int objects = 0;          // label lines written
  int crowd_skipped = 0;    // iscrowd annotations (YOLO labels cannot say "ignore this region")
  int invalid_skipped = 0;  // boxes with no area inside the image
  int missing_images = 0;   // listed in the JSON, absent from the images directory
  std::string list_path, names_path, data_path;
  std::vector<std::string> problems;  // one line per skipped image or annotation
};

// COCO instances JSON -> YOLO. Classes are the JSON's categories sorted by id (class 0 = the
// smallest id); names go to OUTDIR/obj.names. Each image becomes OUTDIR/images/<file_name>, a
// symbolic link to IMAGES_DIR/<file_name> (no copy), with its labels in OUTDIR/labels/ (Darknet's
// rule), boxes clipped to the image; images without objects get an empty label file. The list
// (absolute paths) is OUTDIR/list.txt and OUTDIR/obj.data names list, names and classes.
// Image sizes come from the JSON's width and height, which must be there.
CocoToYoloReport coco_to_yolo(const std::string& instances_json, const std::string& images_dir,
                              const std::string& out_dir);

// YOLO -> COCO ground truth for the images of a list: image sizes read from the images, ids by
// coco_image_ids, category ids class + 1 named by `names`, boxes in pixels (clipped), area w*h,
// iscrowd 0. Images that cannot be read and bad label lines are reported into `problems` and
// skipped.
CocoGroundTruth yolo_to_coco(const std::vector<std::string>& image_paths, const std::vector<std::string>& names,
                             std::vector<std::string>* problems);

}  // namespace mishnet
