#include <gtest/gtest.h>

#include <fstream>

#include "mishnet/detection_labels.h"
#include "test_util.h"

namespace mishnet {
namespace {

void write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

TEST(DetectionLabels, LabelPathFollowsDarknetRule) {
  EXPECT_EQ(label_path_for_image("data/obj/images/1.jpg"), "data/obj/labels/1.txt");
  EXPECT_EQ(label_path_for_image("coco/images/val2017/000000000139.jpg"), "coco/labels/val2017/000000000139.txt");
  EXPECT_EQ(label_path_for_image("VOCdevkit/VOC2007/JPEGImages/000001.JPEG"), "VOCdevkit/VOC2007/labels/000001.txt");
  EXPECT_EQ(label_path_for_image("C:\\data\\JPEGImages\\a.png"), "C:\\data\\labels\\a.txt");
  EXPECT_EQ(label_path_for_image("images/x.bmp"), "labels/x.txt");
  // The component nearest the file wins; names that merely contain "images" are left alone.
  EXPECT_EQ(label_path_for_image("/images/set/images/a.jpg"), "/images/set/labels/a.txt");
  EXPECT_EQ(label_path_for_image("/data/myimages/a.jpg"), "/data/myimages/a.txt");
  EXPECT_EQ(label_path_for_image("/data/images.v2/a.jpg"), "/data/images.v2/a.txt");
  // Labels beside the images, and files without an extension.
  EXPECT_EQ(label_path_for_image("obj/1.png"), "obj/1.txt");
  EXPECT_EQ(label_path_for_image("obj.d/noext"), "obj.d/noext.txt");
  EXPECT_EQ(label_path_for_image("  obj/2.jpg \r"), "obj/2.txt");
}

TEST(DetectionLabels, ReadsGoodLinesAndReportsBadOnesWithFileAndLine) {
  std::string dir = test::scratch_dir("detection_labels_read");
  std::string path = dir + "/a.txt";
  write_file(path,
             "0 0.5 0.5 0.2 0.3\n"      // 1 good
             "\n"                       // 2 blank: skipped silently
             "1 0.1 0.2 0.3\n"          // 3 four fields
             "2 0.5 0.5 0.1 0.1\n"      // 4 class out of range (classes = 2)
             "1 0.5 abc 0.1 0.1\n"      // 5 not a number
             "1 0.5 0.5 0 0.1\n"        // 6 w = 0
             "1 1.2 0.5 0.1 0.1\n"      // 7 x > 1
             "x 0.5 0.5 0.1 0.1\n"      // 8 class not an integer
             "1 0.25 0.75 1 0.5\r\n");  // 9 good, CRLF
  std::vector<std::string> problems;
  std::vector<LabelBox> boxes = read_yolo_labels(path, 2, &problems);
  ASSERT_EQ(boxes.size(), 2u);
  EXPECT_EQ(boxes[0].class_id, 0);
  EXPECT_FLOAT_EQ(boxes[0].w, 0.2f);
  EXPECT_EQ(boxes[0].line, 1);
  EXPECT_EQ(boxes[1].class_id, 1);
  EXPECT_FLOAT_EQ(boxes[1].y, 0.75f);
  EXPECT_FLOAT_EQ(boxes[1].h, 0.5f);
  EXPECT_EQ(boxes[1].line, 9);
  ASSERT_EQ(problems.size(), 6u);
  EXPECT_EQ(problems[0], path + ":3: expected 5 fields (class x y w h), got 4");
  EXPECT_EQ(problems[1], path + ":4: class id 2 is outside 0..1");
  EXPECT_EQ(problems[2], path + ":5: y 'abc' is not a number");
  EXPECT_EQ(problems[3], path + ":6: w 0 is outside (0,1]");
  EXPECT_EQ(problems[4], path + ":7: x 1.2 is outside [0,1]");
  EXPECT_EQ(problems[5], path + ":8: class id 'x' is not an integer");

  // Without a problems vector the same boxes come back.
  EXPECT_EQ(read_yolo_labels(path, 2, nullptr).size(), 2u);
}

TEST(DetectionLabels, MissingLabelFileIsNoObjectsButReported) {
  std::string dir = test::scratch_dir("detection_labels_missing");
  std::vector<std::string> problems;
  EXPECT_TRUE(read_yolo_labels(dir + "/none.txt", 3, &problems).empty());
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find(dir + "/none.txt: missing label file"), std::string::npos);
}

TEST(DetectionLabels, ImageListSkipsBlanksAndResolvesBesideTheList) {
  std::string dir = test::scratch_dir("detection_labels_list");
  write_file(dir + "/b.jpg", "");
  write_file(dir + "/valid.txt", "/abs/a.jpg\r\n\n  b.jpg  \nmissing.jpg\n");
  std::vector<std::string> paths = read_image_list(dir + "/valid.txt");
  ASSERT_EQ(paths.size(), 3u);
  EXPECT_EQ(paths[0], "/abs/a.jpg");
  EXPECT_EQ(paths[1], dir + "/b.jpg");
  EXPECT_EQ(paths[2], "missing.jpg");  // the loader reports it
  EXPECT_ERROR_CONTAINS(read_image_list(dir + "/nope.txt"), dir + "/nope.txt: cannot open the image list");
  write_file(dir + "/empty.txt", "\n \n");
  EXPECT_ERROR_CONTAINS(read_image_list(dir + "/empty.txt"), "holds no images");
}

}  // namespace
}  // namespace mishnet
