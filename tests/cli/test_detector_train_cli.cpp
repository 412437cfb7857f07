// End to end: `dataset fashion-scenes` on a few hand-made IDX items, then a few iterations of
// `detector train` with -map on a tiny cfg: checkpoints, _best.weights, the CSV log, and a
// resumed run that ends with the same weights as an uninterrupted one.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#endif

namespace mishnet {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;
};

Result run(const std::string& args) {
  std::string cmd = "OMP_WAIT_POLICY=passive " + std::string(MISHNET_BINARY_DIR) + "/mishnet " + args + " 2>&1 < /dev/null";
  Result r;
  r.exit_code = ::mishnet::test::run_shell(cmd, r.out);
  return r;
}

void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out << bytes;
}

// An IDX file of unsigned bytes (the MNIST format), uncompressed.
std::string idx(const std::vector<uint32_t>& dims, const std::vector<uint8_t>& values) {
  std::string s = {0, 0, 8, char(dims.size())};
  for (uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) s.push_back(char((d >> shift) & 0xff));
  s.append(values.begin(), values.end());
  return s;
}

// Fashion-MNIST stand-ins: 28x28 items, a filled shape per class (0: square, 1: bar).
void write_items(const std::string& dir) {
  fs::create_directories(dir);
  const int n = 12;
  std::vector<uint8_t> pixels(size_t(n) * 28 * 28, 0);
  std::vector<uint8_t> labels(static_cast<size_t>(n), 0);
  for (int i = 0; i < n; ++i) {
    labels[size_t(i)] = uint8_t(i % 2);
    const int x0 = i % 2 ? 10 : 4, x1 = i % 2 ? 18 : 24, y0 = 4, y1 = 24;
    for (int y = y0; y < y1; ++y)
      for (int x = x0; x < x1; ++x) pixels[size_t(i) * 784 + size_t(y) * 28 + size_t(x)] = 230;
  }
  for (const char* split : {"train", "t10k"}) {
    write_file(dir + "/" + split + "-images-idx3-ubyte", idx({uint32_t(n), 28, 28}, pixels));
    write_file(dir + "/" + split + "-labels-idx1-ubyte", idx({uint32_t(n)}, labels));
  }
}

// DIR/NAME.data: the scenes' .data (DIR/s/scenes.data) with its backup directory DIR/NAME.
std::string scenes_data_with_backup(const std::string& dir, const std::string& name) {
  const std::string text = ::mishnet::test::read_file_bytes(dir + "/s/scenes.data");
  write_file(dir + "/" + name + ".data",
             text.substr(0, text.find("backup =")) + "backup = " + dir + "/" + name + "\n");
  return dir + "/" + name + ".data";
}

const char* kTinyCfg = R"([net]
batch=4
subdivisions=2
width=64
height=64
channels=3
learning_rate=0.001
burn_in=2
max_batches=4
momentum=0.9
decay=0.0005
mosaic=1
hue=.05
savelast=100

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=mish

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=mish

[maxpool]
size=2
stride=2

[convolutional]
size=1
stride=1
pad=1
filters=45
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 20,20, 30,30
classes=10
num=3
jitter=.2
max=20
)";

TEST(DetectorTrainCli, ScenesThenTrainWithMapAndExactResume) {
  const std::string dir = test::scratch_dir("detector_train_cli");
  write_items(dir + "/idx");
  const std::string scenes = " --source " + dir + "/idx --train 8 --valid 3 --size 64 --min-item 12 --max-item 28 --seed 5";
  Result gen = run("dataset fashion-scenes " + dir + "/s" + scenes);
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  ASSERT_TRUE(fs::exists(dir + "/s/labels/train/000007.txt"));
  ASSERT_TRUE(fs::exists(dir + "/s/images/valid/000002.jpg"));
  const std::string labels = ::mishnet::test::read_file_bytes(dir + "/s/labels/train/000003.txt");
  EXPECT_FALSE(labels.empty());
  // The same seed writes the same scenes.
  ASSERT_EQ(run("dataset fashion-scenes " + dir + "/s2" + scenes).exit_code, 0);
  EXPECT_EQ(::mishnet::test::read_file_bytes(dir + "/s2/labels/train/000003.txt"), labels);
  EXPECT_EQ(::mishnet::test::read_file_bytes(dir + "/s2/images/train/000003.jpg"), ::mishnet::test::read_file_bytes(dir + "/s/images/train/000003.jpg"));

  write_file(dir + "/tiny.cfg", kTinyCfg);
  auto data_with_backup = [&](const std::string& name) { return scenes_data_with_backup(dir, name); };
  const std::string common = " " + dir + "/tiny.cfg -dont_show -seed 3 -loader_threads 1";

  Result full = run("detector train " + data_with_backup("full") + common + " -map -map_every 2 -chart " + dir +
                    "/chart.png");
  ASSERT_EQ(full.exit_code, 0) << full.out;
  EXPECT_NE(full.out.find("8 images, "), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("2: mAP@0.50 = "), std::string::npos) << full.out;
  EXPECT_NE(full.out.find("4: mAP@0.50 = "), std::string::npos) << full.out;
  for (const char* f : {"tiny_final.weights", "tiny_last.weights", "tiny_best.weights", "tiny_log.csv"})
    EXPECT_TRUE(fs::exists(dir + "/full/" + f)) << f;

  // Two iterations, then resume from _last for the other two: the same final weights. (Every run
// writes its chart into the scratch directory: tests running in parallel must not share one.)
  Result first = run("detector train " + data_with_backup("resumed") + common + " -max_batches 2 -chart " + dir + "/chart_first.png");
  ASSERT_EQ(first.exit_code, 0) << first.out;
  Result second = run("detector train " + dir + "/resumed.data" + " " + dir + "/tiny.cfg " + dir +
                      "/resumed/tiny_last.weights -dont_show -loader_threads 1 -chart " + dir + "/chart_second.png");
  ASSERT_EQ(second.exit_code, 0) << second.out;
  EXPECT_NE(second.out.find("iterations 2..4"), std::string::npos) << second.out;
  EXPECT_EQ(::mishnet::test::read_file_bytes(dir + "/resumed/tiny_final.weights"), ::mishnet::test::read_file_bytes(dir + "/full/tiny_final.weights"))
      << "a resumed run must end with the weights of an uninterrupted one";

  // A label problem is reported with its file and line, and training goes on.
  write_file(dir + "/s/labels/train/000001.txt", "12 0.5 0.5 0.1 0.1\n" + ::mishnet::test::read_file_bytes(dir + "/s/labels/train/000001.txt"));
  Result bad = run("detector train " + data_with_backup("bad") + common + " -max_batches 1 -chart " + dir + "/chart_bad.png");
  ASSERT_EQ(bad.exit_code, 0) << bad.out;
  EXPECT_NE(bad.out.find("1 bad label line skipped"), std::string::npos) << bad.out;
  EXPECT_NE(bad.out.find("labels/train/000001.txt:1:"), std::string::npos) << bad.out;
}

// Multi-scale training ([yolo] random=1, resize_step=16 at 32x32: sizes 32, 48 and 64): the
// network is rebuilt at each drawn size, and a run resumed from a mid-run checkpoint trains at
// the same sizes and ends with the same weights.
TEST(DetectorTrainCli, MultiScaleTrainingResizesAndResumesExactly) {
  const std::string dir = test::scratch_dir("detector_train_multiscale");
  write_items(dir + "/idx");
  Result gen = run("dataset fashion-scenes " + dir + "/s --source " + dir +
                   "/idx --train 6 --valid 2 --size 48 --min-item 12 --max-item 24 --seed 2");
  ASSERT_EQ(gen.exit_code, 0) << gen.out;
  std::string cfg = kTinyCfg;
  auto set = [&cfg](const std::string& from, const std::string& to) {
    const size_t at = cfg.find(from);
    ASSERT_NE(at, std::string::npos) << from;
    cfg.replace(at, from.size(), to);
  };
  set("batch=4\nsubdivisions=2\nwidth=64\nheight=64", "batch=2\nsubdivisions=1\nwidth=32\nheight=32\nresize_step=16");
  set("max_batches=4", "max_batches=140\nsaveweights=20");
  set("max=20", "max=20\nrandom=1");
  write_file(dir + "/ms.cfg", cfg);
  auto data_with_backup = [&](const std::string& name) { return scenes_data_with_backup(dir, name); };

  Result full = run("detector train " + data_with_backup("full") + " " + dir + "/ms.cfg -dont_show -seed 11 -loader_threads 1 -chart " + dir + "/chart_full.png");
  ASSERT_EQ(full.exit_code, 0) << full.out;
  EXPECT_NE(full.out.find("Multi-scale training (random): 32x32 to 64x64 in steps of 16"), std::string::npos) << full.out;
  // The first 10 iterations (and the last 100) at the largest size, other sizes in between.
  EXPECT_EQ(full.out.find("Resizing to 64x64"), full.out.find("Resizing to")) << full.out;
  const bool other_size = full.out.find("Resizing to 32x32") != std::string::npos ||
                          full.out.find("Resizing to 48x48") != std::string::npos;
  EXPECT_TRUE(other_size) << full.out;
  ASSERT_TRUE(fs::exists(dir + "/full/ms_20.weights"));

  // The log of the full run, resumed from iteration 20: its later rows are set aside and redone.
  data_with_backup("resumed");
  fs::create_directories(dir + "/resumed");
  fs::copy_file(dir + "/full/ms_log.csv", dir + "/resumed/ms_log.csv");
  Result resumed = run("detector train " + dir + "/resumed.data " + dir + "/ms.cfg " + dir +
                       "/full/ms_20.weights -dont_show -loader_threads 1 -chart " + dir + "/chart_resumed.png");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.out;
  EXPECT_NE(resumed.out.find("iterations 20..140"), std::string::npos) << resumed.out;
  EXPECT_EQ(::mishnet::test::read_file_bytes(dir + "/resumed/ms_final.weights"),
            ::mishnet::test::read_file_bytes(dir + "/full/ms_final.weights"))
      << "a resumed multi-scale run must end with the weights of an uninterrupted one";
  // Same rows (iteration, loss, average loss, learning rate; not the speed), each once.
  auto loss_columns = [](const std::string& csv) {
    std::vector<std::string> rows;
    std::istringstream in(csv);
    for (std::string line; std::getline(in, line);) {
      size_t comma = 0;
      for (int k = 0; k < 4 && comma != std::string::npos; ++k) comma = line.find(',', comma + 1);
      rows.push_back(line.substr(0, comma));
    }
    return rows;
  };
  const std::vector<std::string> full_rows = loss_columns(::mishnet::test::read_file_bytes(dir + "/full/ms_log.csv"));
  EXPECT_EQ(full_rows.size(), 141u);  // header and 140 iterations
  EXPECT_EQ(loss_columns(::mishnet::test::read_file_bytes(dir + "/resumed/ms_log.csv")), full_rows);
  EXPECT_EQ(::mishnet::test::read_file_bytes(dir + "/resumed/ms_log.csv.before_resume"),
            ::mishnet::test::read_file_bytes(dir + "/full/ms_log.csv"));
}

// Darknet's -gpus (and -gpu N) on a training command where it cannot run: an error with the
// reason, before anything is read, never a silent fallback to the CPU. (With a device the
// check passes and the command fails later on the missing files: not tested here.)
TEST(DetectorTrainCli, GpusWithoutADeviceIsAClearError) {
#if defined(MISHNET_HAVE_CUDA)
  if (cuda::device_available()) GTEST_SKIP() << "a device exists: -gpus would train";
  const char* reason = "no CUDA device";
#else
  const char* reason = "built without CUDA";
#endif
  for (const char* command : {"detector train", "classifier train", "train-benchmark"}) {
    for (const char* option : {"-gpus 0,1", "-gpus 0", "-gpu 0"}) {
      // train-benchmark takes a cfg only; the options are checked before it is read.
      const std::string files = std::string(command) == "train-benchmark" ? " missing.cfg " : " missing.data missing.cfg ";
      Result r = run(std::string(command) + files + option);
      EXPECT_NE(r.exit_code, 0) << command << " " << option;
      EXPECT_NE(r.out.find(reason), std::string::npos) << command << " " << option << ": " << r.out;
      EXPECT_NE(r.out.find("leave out -gpus to train on the CPU"), std::string::npos) << r.out;
    }
  }
}

TEST(DetectorTrainCli, GpusConflictsAreErrors) {
  for (const char* command : {"detector train", "classifier train", "train-benchmark"}) {
    const std::string files = std::string(command) == "train-benchmark" ? " missing.cfg " : " missing.data missing.cfg ";
    Result r = run(std::string(command) + files + "-gpus 0 -cpu");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.out.find("-gpus 0 with -cpu: choose one"), std::string::npos) << r.out;
    r = run(std::string(command) + files + "-gpus 0 -gpu 1");
    EXPECT_NE(r.exit_code, 0);
    EXPECT_NE(r.out.find("-gpu 1 and -gpus 0: give one of them"), std::string::npos) << r.out;
  }
}

}  // namespace
}  // namespace mishnet
