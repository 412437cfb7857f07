// mishnet dataset fashion-mnist OUTDIR: Debian's dataset-fashion-mnist IDX files turned into
// a Darknet classification dataset (PNG files whose names carry their label, list files, a
// labels file, a names file and a .data file). docs/data.md describes the layout.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "cli/command.h"
#include "data/idx_file.h"
#include "mishnet/classification_data.h"
#include "mishnet/error.h"
#include "mishnet/image.h"

namespace mishnet::cli {
namespace {

namespace fs = std::filesystem;

// Labels for matching: no label is a substring of another ("tshirt" would contain "shirt"),
// and none occurs in "<index>_" or ".png", so each file name holds exactly one.
const std::vector<std::string> kFashionLabels = {"top",   "trouser", "pullover", "dress", "coat",
                                                 "sandal", "shirt",   "sneaker",  "bag",   "boot"};
// Display names, the dataset's own.
const std::vector<std::string> kFashionNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};

struct DatasetArgs {
  std::string out_dir;
  std::string source = "/usr/share/datasets/fashion-mnist";
  long limit_train = -1, limit_test = -1;
};

// "train-images-idx3-ubyte" or the same with ".gz".
std::string find_idx(const std::string& dir, const std::string& stem) {
  for (const std::string& name : {stem + ".gz", stem}) {
    fs::path p = fs::path(dir) / name;
    if (fs::exists(p)) return p.string();
  }
  fail(dir, ": has neither ", stem, ".gz nor ", stem, " (install Debian's dataset-fashion-mnist, or pass --source)");
}

void write_lines(const fs::path& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) fail(path.string(), ": cannot create file");
  for (const std::string& line : lines) out << line << '\n';
  out.flush();
  if (!out) fail(path.string(), ": write error (disk full?)");
}

// Writes one split as OUT/<split>/<index>_<label>.png and returns the list entries.
std::vector<std::string> export_split(const std::string& source, const std::string& prefix, const fs::path& out_dir,
                                      const std::string& split, long limit) {
  std::string images_path = find_idx(source, prefix + "-images-idx3-ubyte");
  std::string labels_path = find_idx(source, prefix + "-labels-idx1-ubyte");
  data::IdxArray images = data::read_idx_file(images_path);
  data::IdxArray labels = data::read_idx_file(labels_path);
  if (images.dims.size() != 3)
    fail(images_path, ": byte 3: expected 3 dimensions (count x rows x columns), the header has ", images.dims.size());
  if (labels.dims.size() != 1)
    fail(labels_path, ": byte 3: expected 1 dimension (count), the header has ", labels.dims.size());
  if (images.count() != labels.count())
    fail(labels_path, ": byte 4: holds ", labels.count(), " labels but ", images_path, " holds ", images.count(), " images");
  size_t n = images.count();
  if (limit >= 0) n = std::min(n, size_t(limit));
  const int rows = int(images.dims[1]), cols = int(images.dims[2]);
  const size_t pixels = images.item_size();

  fs::path dir = out_dir / split;
  fs::create_directories(dir);
  std::vector<std::string> entries;
  entries.reserve(n);
  Image im(cols, rows, 1);
  for (size_t i = 0; i < n; ++i) {
    const unsigned label = labels.values[i];
    if (label >= kFashionLabels.size())
      fail(labels_path, ": byte ", 8 + i, " of the inflated data: label ", label, " is not a Fashion-MNIST class (0..9)");
    char index[32];
    std::snprintf(index, sizeof index, "%05zu", i);
    fs::path file = dir / (std::string(index) + "_" + kFashionLabels[label] + ".png");
    if (find_class_of_path(file.filename().string(), kFashionLabels) != int(label))
      fail(file.string(), ": the file name does not match exactly its own label (a bug in the label set)");
    const uint8_t* src = images.values.data() + i * pixels;
    for (size_t p = 0; p < pixels; ++p) im.data[p] = float(src[p]) / 255.0f;
    save_image(im, file.string());
    entries.push_back(file.string());
  }
  std::printf("%s: %zu images (%dx%d grey) -> %s\n", split.c_str(), n, cols, rows, dir.string().c_str());
  return entries;
}

void run_dataset(const DatasetArgs& a) {
  if (a.limit_train == 0 || a.limit_test == 0 || a.limit_train < -1 || a.limit_test < -1)
    fail("--limit-train and --limit-test must be at least 1");
  // Absolute paths in the lists and the .data file: they work from any directory, Darknet's
  // own tools included (which read list entries relative to the working directory).
  const fs::path out = fs::absolute(a.out_dir).lexically_normal();
  fs::create_directories(out);
  fs::create_directories(out / "backup");
  write_lines(out / "train.list", export_split(a.source, "train", out, "train", a.limit_train));
  write_lines(out / "test.list", export_split(a.source, "t10k", out, "test", a.limit_test));
  write_lines(out / "labels.txt", kFashionLabels);
  write_lines(out / "fashion.names", kFashionNames);
  write_lines(out / "fashion.data", {"# Fashion-MNIST, written by `mishnet dataset fashion-mnist`",
                                     "classes = 10",
                                     "train = " + (out / "train.list").string(),
                                     "valid = " + (out / "test.list").string(),
                                     "labels = " + (out / "labels.txt").string(),
                                     "names = " + (out / "fashion.names").string(),
                                     "backup = " + (out / "backup").string(),
                                     "top = 5"});
  std::printf("wrote %s\n", (out / "fashion.data").string().c_str());
}

CommandRegistrar reg({"dataset", "fashion-mnist"},
                     "Convert Fashion-MNIST IDX files into PNG images, list files and a .data file",
                     [](CLI::App& app) {
                       auto a = std::make_shared<DatasetArgs>();
                       app.add_option("outdir", a->out_dir, "Directory to write the dataset into")->required();
                       app.add_option("--source", a->source, "Directory of the IDX files (plain or .gz)")->capture_default_str();
                       app.add_option("--limit-train", a->limit_train, "Write only the first N training images");
                       app.add_option("--limit-test", a->limit_test, "Write only the first N test images");
                       app.callback([a] { run_dataset(*a); });
                     });

}  // namespace
}  // namespace mishnet::cli
