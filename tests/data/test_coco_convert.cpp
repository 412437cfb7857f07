// COCO instances -> YOLO -> COCO on small hand-written files: the boxes come back.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "mishnet/coco_convert.h"
#include "mishnet/detection_labels.h"
#include "mishnet/image.h"
#include "test_util.h"

namespace mishnet {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

TEST(CocoConvert, RoundTripThroughYoloLabels) {
  std::string dir = test::scratch_dir("coco_convert_round_trip");
  std::filesystem::create_directories(dir + "/src");
  save_image(Image(64, 48, 3, 0.5f), dir + "/src/000000000005.png");
  save_image(Image(40, 80, 3, 0.2f), dir + "/src/000000000009.png");
  // Categories out of order (classes follow the ids), a crowd and a box outside the image
  // (both skipped), a box crossing the border (clipped), an image absent from the directory.
  std::ofstream(dir + "/instances.json") << R"({
    "images": [{"id": 5, "file_name": "000000000005.png", "width": 64, "height": 48},
               {"id": 9, "file_name": "000000000009.png", "width": 40, "height": 80},
               {"id": 11, "file_name": "000000000011.png", "width": 10, "height": 10}],
    "categories": [{"id": 2, "name": "dog"}, {"id": 1, "name": "cat"}],
    "annotations": [
      {"id": 1, "image_id": 5, "category_id": 1, "bbox": [8, 6, 16, 12], "area": 192, "iscrowd": 0},
      {"id": 2, "image_id": 5, "category_id": 2, "bbox": [32, 0, 32, 48], "area": 1536, "iscrowd": 0},
      {"id": 3, "image_id": 5, "category_id": 2, "bbox": [0, 0, 64, 48], "area": 3072, "iscrowd": 1},
      {"id": 4, "image_id": 9, "category_id": 2, "bbox": [30, 70, 20, 20], "area": 400, "iscrowd": 0},
      {"id": 5, "image_id": 9, "category_id": 1, "bbox": [50, 10, 5, 5], "area": 25, "iscrowd": 0}
    ]})";
  CocoToYoloReport rep = coco_to_yolo(dir + "/instances.json", dir + "/src", dir + "/yolo");
  EXPECT_EQ(rep.images, 2);
  EXPECT_EQ(rep.objects, 3);
  EXPECT_EQ(rep.crowd_skipped, 1);
  EXPECT_EQ(rep.invalid_skipped, 1);
  EXPECT_EQ(rep.missing_images, 1);
  EXPECT_EQ(read_text(rep.names_path), "cat\ndog\n");
  std::string image5 = std::filesystem::absolute(dir + "/yolo/images/000000000005.png").string();
  EXPECT_EQ(label_path_for_image(image5), std::filesystem::absolute(dir + "/yolo/labels/000000000005.txt").string());
  EXPECT_EQ(read_text(dir + "/yolo/labels/000000000005.txt"),
            "0 0.250000 0.250000 0.250000 0.250000\n1 0.750000 0.500000 0.500000 1.000000\n");
  // Box [30,70,20,20] on a 40x80 image is clipped to [30,70,10,10].
  EXPECT_EQ(read_text(dir + "/yolo/labels/000000000009.txt"), "1 0.875000 0.937500 0.250000 0.125000\n");
  std::string data = read_text(rep.data_path);
  EXPECT_NE(data.find("classes = 2\n"), std::string::npos) << data;

  std::vector<std::string> problems;
  std::vector<std::string> list = read_image_list(rep.list_path);
  ASSERT_EQ(list.size(), 2u);
  CocoGroundTruth back = yolo_to_coco(list, {"cat", "dog"}, &problems);
  EXPECT_TRUE(problems.empty()) << problems[0];
  ASSERT_EQ(back.images.size(), 2u);
  EXPECT_EQ(back.images[0].id, 5);
  EXPECT_EQ(back.images[0].width, 64);
  EXPECT_EQ(back.images[1].id, 9);
  EXPECT_EQ(back.images[1].height, 80);
  ASSERT_EQ(back.categories.size(), 2u);
  EXPECT_EQ(back.categories[0].id, 1);
  EXPECT_EQ(back.categories[0].name, "cat");
  ASSERT_EQ(back.annotations.size(), 3u);
  const double expected[3][5] = {{1, 8, 6, 16, 12}, {2, 32, 0, 32, 48}, {2, 30, 70, 10, 10}};
  for (int i = 0; i < 3; ++i) {
    const CocoAnnotation& a = back.annotations[size_t(i)];
    EXPECT_EQ(a.category_id, int64_t(expected[i][0])) << i;
    EXPECT_NEAR(a.bbox.x, expected[i][1], 1e-3) << i;
    EXPECT_NEAR(a.bbox.y, expected[i][2], 1e-3) << i;
    EXPECT_NEAR(a.bbox.w, expected[i][3], 1e-3) << i;
    EXPECT_NEAR(a.bbox.h, expected[i][4], 1e-3) << i;
    EXPECT_NEAR(a.area, expected[i][3] * expected[i][4], 1e-2) << i;
    EXPECT_FALSE(a.iscrowd);
  }
  EXPECT_EQ(back.annotations[2].image_id, 9);

  // The written JSON reads back the same.
  write_coco_ground_truth(back, dir + "/back.json");
  CocoGroundTruth again = read_coco_ground_truth(dir + "/back.json");
  ASSERT_EQ(again.annotations.size(), 3u);
  EXPECT_DOUBLE_EQ(again.annotations[1].bbox.w, back.annotations[1].bbox.w);
}

TEST(CocoConvert, MissingSizesAndUnknownCategoriesAreErrors) {
  std::string dir = test::scratch_dir("coco_convert_errors");
  std::ofstream(dir + "/nosize.json") << R"({"images": [{"id": 1, "file_name": "a.png"}], "categories": [{"id": 1}],
                                            "annotations": []})";
  EXPECT_ERROR_CONTAINS(coco_to_yolo(dir + "/nosize.json", dir, dir + "/out"), "images[0]: width and height");
}

}  // namespace
}  // namespace mishnet
