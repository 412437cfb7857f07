#include <fstream>

#include "mishnet/data_file.h"
#include "test_util.h"

namespace mishnet {
namespace {

TEST(DataFile, ParsesKeysValuesAndComments) {
  DataFile d = DataFile::parse_text(
      "# a comment\n"
      "classes= 80\n"
      "  train  = /data/my images/train.txt  \r\n"
      "; another comment\n"
      "\n"
      "valid=coco_testdev\n"
      "eval=coco\n"
      "top = 5\n",
      "x.data");
  EXPECT_EQ(d.get_int("classes", 0), 80);
  EXPECT_EQ(d.get_string("train", ""), "/data/my images/train.txt");  // inner space kept
  EXPECT_EQ(d.find("train")->line, 3);
  EXPECT_EQ(d.get_string("eval", ""), "coco");
  EXPECT_EQ(d.get_int("top", 1), 5);
  EXPECT_EQ(d.get_string("backup", "backup/"), "backup/");
  EXPECT_FALSE(d.has("names"));
  EXPECT_EQ(d.options().size(), 5u);
}

TEST(DataFile, ErrorsNameFileAndLine) {
  EXPECT_ERROR_CONTAINS(DataFile::parse_text("classes=2\nnames\n", "a.data"),
                        "a.data:2: expected 'key=value', got 'names'");
  EXPECT_ERROR_CONTAINS(DataFile::parse_text("classes=2\n\nclasses=3\n", "a.data"),
                        "a.data:3: duplicate key 'classes' (first set on line 1)");
  EXPECT_ERROR_CONTAINS(DataFile::parse_text("=x\n", "a.data"), "a.data:1: missing key");
  DataFile d = DataFile::parse_text("classes=eighty\n", "a.data");
  EXPECT_ERROR_CONTAINS(d.get_int("classes", 0), "a.data:1: key 'classes': expected an integer, got 'eighty'");
  EXPECT_ERROR_CONTAINS(DataFile::parse_file("/nonexistent/dir/x.data"), "x.data: cannot open data file: no such file");
}

TEST(DataFile, NamesFileMustExistAndIsFoundBesideTheDataFile) {
  std::string dir = test::scratch_dir("data_file_names");
  std::ofstream(dir + "/classes.names") << "cat\ndog\r\ntraffic light\n\n\n";
  std::ofstream(dir + "/good.data") << "classes=3\nnames=classes.names\n";  // relative to the .data
  DataFile good = DataFile::parse_file(dir + "/good.data");
  EXPECT_EQ(good.class_names(), (std::vector<std::string>{"cat", "dog", "traffic light"}));

  std::ofstream(dir + "/abs.data") << "names=" << dir << "/classes.names\n";
  EXPECT_EQ(DataFile::parse_file(dir + "/abs.data").class_names().size(), 3u);

  std::ofstream(dir + "/labels.data") << "labels=classes.names\n";  // classifier fallback
  EXPECT_EQ(DataFile::parse_file(dir + "/labels.data").class_names().size(), 3u);

  std::ofstream(dir + "/coco.data") << "classes= 80\n#names=x\n\nnames = data/coco.names\n";
  EXPECT_ERROR_CONTAINS(DataFile::parse_file(dir + "/coco.data").class_names(),
                        "coco.data:4: names file 'data/coco.names' does not exist");
  std::ofstream(dir + "/none.data") << "classes=1\n";
  EXPECT_ERROR_CONTAINS(DataFile::parse_file(dir + "/none.data").class_names(), "none.data: no 'names' key");
}

TEST(DataFile, NamesFileErrors) {
  std::string dir = test::scratch_dir("data_file_names_errors");
  std::ofstream(dir + "/gap.names") << "cat\n\ndog\n";
  EXPECT_ERROR_CONTAINS(read_names_file(dir + "/gap.names"), "gap.names:2: blank line in a names file");
  std::ofstream(dir + "/empty.names") << "\n\n";
  EXPECT_ERROR_CONTAINS(read_names_file(dir + "/empty.names"), "empty.names: the names file has no names");
  EXPECT_ERROR_CONTAINS(read_names_file(dir + "/missing.names"), "missing.names: cannot open names file");
  std::ofstream(dir + "/last.names") << "a\nb";  // no final newline
  EXPECT_EQ(read_names_file(dir + "/last.names"), (std::vector<std::string>{"a", "b"}));
}

TEST(DataFile, ReadsTheSharedDarknetDataFiles) {
  MISHNET_REQUIRE_SHARED_CFG("coco.data");
  DataFile coco = DataFile::parse_file(test::shared_cfg("coco.data"));
  EXPECT_EQ(coco.get_int("classes", 0), 80);
  EXPECT_EQ(coco.get_string("eval", ""), "coco");
  EXPECT_EQ(coco.get_string("names", ""), "data/coco.names");
  EXPECT_ERROR_CONTAINS(coco.class_names(), "coco.data:5: names file 'data/coco.names' does not exist");
  DataFile imagenet = DataFile::parse_file(test::shared_cfg("imagenet1k.data"));
  EXPECT_EQ(imagenet.get_int("top", 1), 5);
  EXPECT_EQ(imagenet.get_string("labels", ""), "data/imagenet.labels.list");
  EXPECT_EQ(read_names_file(test::shared_cfg("coco.names")).size(), 80u);
}

}  // namespace
}  // namespace mishnet
