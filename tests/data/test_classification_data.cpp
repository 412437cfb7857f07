// Classification data: list files and label matching, the loader's determinism and skipping,
// truth (smoothing, mixing), augmentation, and the IDX/gzip reader behind `mishnet dataset`.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>

#include "data/augment.h"
#include "data/idx_file.h"
#include "mishnet/classification_data.h"
#include "mishnet/image.h"
#include "test_util.h"

#ifdef MISHNET_HAVE_OPENCV
#include <opencv2/imgproc.hpp>
#endif

namespace mishnet {
namespace {

namespace fs = std::filesystem;

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

const std::vector<std::string> kLabels = {"cat", "dog", "bird"};

// A small dataset of random colour images, `count` of them, class i % 3, in `dir`.
std::string make_image_dataset(const std::string& dir, int count, std::mt19937& rng, int channels = 3) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  std::string list;
  for (int i = 0; i < count; ++i) {
    Image im(10 + i % 3, 7 + i % 2, channels);
    for (float& v : im.data) v = u(rng);
    std::string path = dir + "/" + std::to_string(i) + "_" + kLabels[size_t(i % 3)] + ".png";
    save_image(im, path);
    list += path + "\n";
  }
  std::string list_path = dir + "/train.list";
  write_text(list_path, list);
  return list_path;
}

NetConfig small_net(int channels = 3) {
  NetConfig net;
  net.width = 8;
  net.height = 8;
  net.channels = channels;
  return net;
}

// Everything classification augmentation does, switched on.
NetConfig busy_net() {
  NetConfig net = small_net();
  net.flip = true;
  net.angle = 15;
  net.aspect = 1.3f;
  net.hue = 0.1f;
  net.saturation = 1.5f;
  net.exposure = 1.5f;
  net.min_crop = 6;
  net.max_crop = 12;
  net.mixup = 1;
  net.cutmix = 1;
  net.mosaic = 1;
  net.blur = 3;
  net.label_smooth_eps = 0.1f;
  return net;
}

struct Batches {
  std::vector<float> images, truth;
};

Batches read_batches(ClassificationLoader& loader, const std::vector<int64_t>& order) {
  Batches out;
  const size_t ni = loader.image_floats() * size_t(loader.batch()), nt = size_t(loader.classes() * loader.batch());
  std::vector<float> im(ni), tr(nt);
  for (int64_t k : order) {
    loader.fill(k, im.data(), tr.data());
    out.images.insert(out.images.end(), im.begin(), im.end());
    out.truth.insert(out.truth.end(), tr.begin(), tr.end());
  }
  return out;
}

// ---- labels and lists -------------------------------------------------------------------

TEST(ClassificationList, LabelMatchingNoneOneTwo) {
  EXPECT_EQ(find_class_of_path("data/12_dog.png", kLabels), 1);
  EXPECT_EQ(find_class_of_path("12_horse.png", kLabels), -1);
  std::vector<int> found;
  EXPECT_EQ(find_class_of_path("x/12_catdog.png", kLabels, &found), -2);
  EXPECT_EQ(found, (std::vector<int>{0, 1}));
  // The file name decides; folders are only searched when it names no label.
  EXPECT_EQ(find_class_of_path("cats/12_dog.png", kLabels), 1);
  EXPECT_EQ(find_class_of_path("train/bird/0001.jpg", kLabels), 2);
  EXPECT_EQ(find_class_of_path("C:\\cat\\d\\0001.jpg", kLabels), 0);
}

TEST(ClassificationList, ParsesPathsSkipsBlankLinesAndKeepsLineNumbers) {
  std::string dir = test::scratch_dir("classification_list_parse");
  write_text(dir + "/a.list", "\n  img/1_cat.png \r\n\nimg/2_bird.png\r\n\n");
  ClassificationList list = read_classification_list(dir + "/a.list", kLabels);
  ASSERT_EQ(list.images.size(), 2u);
  EXPECT_EQ(list.images[0].path, "img/1_cat.png");  // missing files keep the path as written
  EXPECT_EQ(list.images[0].class_id, 0);
  EXPECT_EQ(list.images[0].line, 2);
  EXPECT_EQ(list.images[1].class_id, 2);
  EXPECT_EQ(list.images[1].line, 4);
  EXPECT_EQ(list.labels, kLabels);
}

TEST(ClassificationList, ImageMatchingNoLabelOrTwoLabelsIsAnErrorWithFileLine) {
  std::string dir = test::scratch_dir("classification_list_errors");
  write_text(dir + "/none.list", "1_cat.png\n\n3_horse.png\n");
  EXPECT_ERROR_CONTAINS(read_classification_list(dir + "/none.list", kLabels), "none.list:3: '3_horse.png' matches none");
  write_text(dir + "/two.list", "1_cat.png\n2_dog_bird.png\n");
  EXPECT_ERROR_CONTAINS(read_classification_list(dir + "/two.list", kLabels),
                        "two.list:2: '2_dog_bird.png' matches 2 class labels (dog, bird)");
  write_text(dir + "/empty.list", "\n\n");
  EXPECT_ERROR_CONTAINS(read_classification_list(dir + "/empty.list", kLabels), "holds no images");
  EXPECT_ERROR_CONTAINS(read_classification_list(dir + "/missing.list", kLabels), "cannot open");
  EXPECT_ERROR_CONTAINS(read_classification_list(dir + "/none.list", {"cat", ""}), "is empty");
}

TEST(ClassificationList, RelativePathsFallBackToTheListDirectory) {
  std::string dir = test::scratch_dir("classification_list_relative");
  fs::create_directories(dir + "/img");
  save_image(Image(4, 4, 3, 0.5f), dir + "/img/1_dog.png");
  write_text(dir + "/a.list", "img/1_dog.png\n");
  ClassificationList list = read_classification_list(dir + "/a.list", kLabels);
  EXPECT_EQ(fs::path(list.images[0].path), fs::path(dir) / "img/1_dog.png");
}

TEST(ClassificationList, DataFileLabelsBeforeNamesAndClassesMustMatch) {
  std::string dir = test::scratch_dir("classification_list_datafile");
  write_text(dir + "/labels.txt", "cat\ndog\nbird\n");
  write_text(dir + "/pretty.names", "Cat\nDog\nBird\n");
  write_text(dir + "/t.list", "1_bird.png\n");
  write_text(dir + "/a.data", "classes=3\ntrain=" + dir + "/t.list\nlabels=" + dir + "/labels.txt\nnames=" + dir +
                                  "/pretty.names\n");
  ClassificationList list = read_classification_list(DataFile::parse_file(dir + "/a.data"), "train");
  EXPECT_EQ(list.labels, kLabels);
  EXPECT_EQ(list.images[0].class_id, 2);
  write_text(dir + "/b.data", "classes=4\nnames=" + dir + "/labels.txt\n");
  EXPECT_ERROR_CONTAINS(classification_labels(DataFile::parse_file(dir + "/b.data")), "b.data:1: classes=4");
}

// ---- the loader ---------------------------------------------------------------------------

TEST(ClassificationLoader, SameSeedSameBatchesWhateverTheThreadCount) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_determinism");
  ClassificationList list = read_classification_list(make_image_dataset(dir, 11, rng), kLabels);
  const std::vector<int64_t> order = {0, 1, 2, 3, 4, 5, 6, 7};  // crosses epoch boundaries (11 images, batch 4)
  ClassificationLoaderOptions o;
  o.batch = 4;
  o.seed = test::test_seed();
  o.threads = 0;
  ClassificationLoader serial(list, busy_net(), o);
  Batches reference = read_batches(serial, order);
  for (int threads : {1, 3}) {
    o.threads = threads;
    o.prefetch = threads + 1;
    ClassificationLoader parallel(list, busy_net(), o);
    Batches b = read_batches(parallel, order);
    EXPECT_EQ(b.images, reference.images) << threads << " threads";
    EXPECT_EQ(b.truth, reference.truth) << threads << " threads";
  }
  // Out of order (a resumed run): mini-batch k is still mini-batch k.
  o.threads = 2;
  ClassificationLoader jumping(list, busy_net(), o);
  Batches b = read_batches(jumping, {5, 6, 2, 7});
  const size_t ni = serial.image_floats() * 4;
  for (int i = 0; i < 4; ++i) {
    const int64_t k = std::vector<int64_t>{5, 6, 2, 7}[size_t(i)];
    EXPECT_TRUE(std::equal(b.images.begin() + std::ptrdiff_t(size_t(i) * ni), b.images.begin() + std::ptrdiff_t(size_t(i + 1) * ni),
                           reference.images.begin() + std::ptrdiff_t(size_t(k) * ni)))
        << "mini-batch " << k;
  }
}

TEST(ClassificationLoader, DifferentSeedDifferentBatchesAndSetSeedRestores) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_seed");
  ClassificationList list = read_classification_list(make_image_dataset(dir, 9, rng), kLabels);
  ClassificationLoaderOptions o;
  o.batch = 3;
  o.seed = 5;
  ClassificationLoader a(list, busy_net(), o);
  Batches first = read_batches(a, {0, 1, 2});
  a.set_seed(6);
  Batches other = read_batches(a, {0, 1, 2});
  EXPECT_NE(first.images, other.images);
  a.set_seed(5);
  EXPECT_EQ(read_batches(a, {0, 1, 2}).images, first.images);
}

TEST(ClassificationLoader, ShuffledEpochVisitsEveryImageOnce) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_epoch");
  ClassificationList list = read_classification_list(make_image_dataset(dir, 12, rng), kLabels);
  NetConfig net = small_net();
  ClassificationLoaderOptions o;
  o.batch = 4;
  o.seed = test::test_seed();
  o.augment = false;
  ClassificationLoader loader(list, net, o);
  // Without augmentation each sample is an exact resize of one image: count classes per epoch.
  for (int epoch = 0; epoch < 2; ++epoch) {
    Batches b = read_batches(loader, {3 * epoch, 3 * epoch + 1, 3 * epoch + 2});
    std::vector<int> per_class(3, 0);
    for (size_t i = 0; i < 12; ++i)
      per_class[size_t(std::max_element(b.truth.begin() + std::ptrdiff_t(3 * i), b.truth.begin() + std::ptrdiff_t(3 * i + 3)) -
                       (b.truth.begin() + std::ptrdiff_t(3 * i)))]++;
    EXPECT_EQ(per_class, (std::vector<int>{4, 4, 4})) << "epoch " << epoch;
  }
}

TEST(ClassificationLoader, MissingAndUndecodableImagesAreSkippedAndCounted) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_skip");
  std::string list_path = make_image_dataset(dir, 6, rng);
  write_text(dir + "/broken_dog.png", "this is not a png");
  // Insert a missing and a broken image after the first one.
  std::ifstream in(list_path);
  std::string first;
  std::getline(in, first);
  std::string rest((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  write_text(list_path, first + "\n" + dir + "/gone_cat.png\n" + dir + "/broken_dog.png\n" + rest);
  ClassificationList list = read_classification_list(list_path, kLabels);
  ASSERT_EQ(list.images.size(), 8u);

  ClassificationLoaderOptions o;
  o.batch = 8;
  o.shuffle = false;
  o.augment = false;
  o.threads = 0;  // no prefetching: the counts below are of this one mini-batch
  ClassificationLoader loader(list, small_net(), o);
  EXPECT_EQ(loader.skipped_summary(), "");
  Batches b = read_batches(loader, {0});
  EXPECT_EQ(loader.skipped_paths().size(), 2u);
  EXPECT_EQ(loader.replacements(), 2);
  std::string summary = loader.skipped_summary();
  EXPECT_NE(summary.find("2 images could not be loaded"), std::string::npos) << summary;
  EXPECT_NE(summary.find("gone_cat.png"), std::string::npos) << summary;
  // Positions 1 and 2 both take the next image that loads (list entry 3): same pixels, class.
  const size_t n = loader.image_floats();
  EXPECT_TRUE(std::equal(b.images.begin() + std::ptrdiff_t(n), b.images.begin() + std::ptrdiff_t(2 * n),
                         b.images.begin() + std::ptrdiff_t(3 * n)));
  EXPECT_TRUE(std::equal(b.images.begin() + std::ptrdiff_t(2 * n), b.images.begin() + std::ptrdiff_t(3 * n),
                         b.images.begin() + std::ptrdiff_t(3 * n)));
  EXPECT_EQ(std::vector<float>(b.truth.begin() + 3, b.truth.begin() + 6), std::vector<float>(b.truth.begin() + 9, b.truth.begin() + 12));
}

TEST(ClassificationLoader, NoImageLoadsIsAnError) {
  std::string dir = test::scratch_dir("classification_loader_none");
  write_text(dir + "/a.list", dir + "/x_cat.png\n" + dir + "/y_dog.png\n");
  ClassificationLoaderOptions o;
  o.batch = 2;
  for (int threads : {0, 2}) {
    o.threads = threads;
    ClassificationLoader loader(read_classification_list(dir + "/a.list", kLabels), small_net(), o);
    std::vector<float> im(loader.image_floats() * 2), tr(6);
    EXPECT_ERROR_CONTAINS(loader.fill(0, im.data(), tr.data()), "none of its 2 images could be loaded");
  }
}

TEST(ClassificationLoader, SmoothedTruthValues) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_smooth");
  ClassificationList list = read_classification_list(make_image_dataset(dir, 3, rng), kLabels);
  NetConfig net = small_net();
  net.label_smooth_eps = 0.1f;
  ClassificationLoaderOptions o;
  o.batch = 3;
  o.shuffle = false;
  ClassificationLoader loader(list, net, o);
  Batches b = read_batches(loader, {0});
  // Darknet's fill_truth_smooth: 1 - eps for the class, eps / (classes - 1) elsewhere.
  for (int i = 0; i < 3; ++i)
    for (int c = 0; c < 3; ++c)
      EXPECT_FLOAT_EQ(b.truth[size_t(3 * i + c)], c == i ? 0.9f : 0.05f) << "image " << i << " class " << c;
  // Validation data (augment=false) is never smoothed, as Darknet's load_data_old.
  o.augment = false;
  ClassificationLoader valid(list, net, o);
  Batches v = read_batches(valid, {0});
  EXPECT_EQ(v.truth, (std::vector<float>{1, 0, 0, 0, 1, 0, 0, 0, 1}));
}

TEST(ClassificationLoader, AugmentedValuesStayInUnitRangeAndTruthSumsToOne) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_range");
  ClassificationList list = read_classification_list(make_image_dataset(dir, 7, rng), kLabels);
  ClassificationLoaderOptions o;
  o.batch = 16;
  o.seed = test::test_seed();
  ClassificationLoader loader(list, busy_net(), o);
  EXPECT_EQ(loader.image_floats(), 8u * 8u * 3u);
  Batches b = read_batches(loader, {0, 1, 2, 3});
  ASSERT_EQ(b.images.size(), 4u * 16u * 8u * 8u * 3u);
  ASSERT_EQ(b.truth.size(), 4u * 16u * 3u);
  for (float v : b.images) ASSERT_TRUE(v >= 0.0f && v <= 1.0f) << v;
  for (size_t i = 0; i < b.truth.size(); i += 3)
    EXPECT_NEAR(b.truth[i] + b.truth[i + 1] + b.truth[i + 2], 1.0f, 1e-5f);  // mixing keeps the sum
}

TEST(ClassificationLoader, OneChannelNetworksGetGreyImages) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  std::string dir = test::scratch_dir("classification_loader_grey");
  ClassificationList list = read_classification_list(make_image_dataset(dir, 3, rng), kLabels);
  ClassificationLoaderOptions o;
  o.batch = 3;
  o.augment = false;
  o.shuffle = false;
  ClassificationLoader loader(list, small_net(1), o);
  EXPECT_EQ(loader.image_floats(), 64u);
  Batches b = read_batches(loader, {0});
  Image expected = resize_image(load_image(list.images[0].path, 1), 8, 8);
  EXPECT_EQ(std::vector<float>(b.images.begin(), b.images.begin() + 64), expected.data);
  EXPECT_ERROR_CONTAINS(ClassificationLoader(list, small_net(2), o), "channels=2");
}

TEST(ClassificationLoader, BadAugmentationOptionsAreErrors) {
  std::string dir = test::scratch_dir("classification_loader_options");
  write_text(dir + "/a.list", "1_cat.png\n");
  ClassificationList list = read_classification_list(dir + "/a.list", kLabels);
  NetConfig net = small_net();
  net.min_crop = 20;
  net.max_crop = 10;
  EXPECT_ERROR_CONTAINS(ClassificationLoader(list, net, {}), "max_crop=10 is below min_crop=20");
  net = small_net();
  net.blur = 4;
  EXPECT_ERROR_CONTAINS(ClassificationLoader(list, net, {}), "blur=4");
  net = small_net();
  net.mixup = 7;
  EXPECT_ERROR_CONTAINS(ClassificationLoader(list, net, {}), "mixup=7");
}

// ---- augmentation pieces ------------------------------------------------------------------

Image random_image(int w, int h, int c, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Image im(w, h, c);
  for (float& v : im.data) v = u(rng);
  return im;
}

TEST(Augment, FlipIsAMirror) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  Image im = random_image(5, 3, 3, rng), flipped = im;
  data::flip_image(flipped);
  for (int c = 0; c < 3; ++c)
    for (int y = 0; y < 3; ++y)
      for (int x = 0; x < 5; ++x) EXPECT_EQ(flipped.at(x, y, c), im.at(4 - x, y, c));
  data::flip_image(flipped);
  EXPECT_EQ(flipped.data, im.data);
}

TEST(Augment, NeutralCropAndColourAreTheIdentity) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  Image im = random_image(8, 8, 3, rng);
  data::Random r(test::test_seed());
  // No rotation, no stretch, shorter side 8 -> 8: Darknet's random_augment_image is a copy.
  Image same = data::random_augment_image(im, 0.0f, 1.0f, 8, 8, 8, r);
  for (size_t i = 0; i < im.data.size(); ++i) EXPECT_NEAR(same.data[i], im.data[i], 1e-6f);
  Image hsv = im;
  data::distort_image(hsv, 0.0f, 1.0f, 1.0f);  // through HSV and back
  for (size_t i = 0; i < im.data.size(); ++i) EXPECT_NEAR(hsv.data[i], im.data[i], 1e-5f);
}

TEST(Augment, CropScaleRotationKeepShapeAndRange) {
  std::mt19937 rng(uint32_t(test::test_seed()));
  Image im = random_image(13, 9, 3, rng);
  data::Random r(test::test_seed());
  for (int i = 0; i < 20; ++i) {
    Image out = data::random_augment_image(im, 30.0f, 1.5f, 4, 20, 8, r);
    ASSERT_EQ(out.w, 8);
    ASSERT_EQ(out.h, 8);
    ASSERT_EQ(out.c, 3);
    for (float v : out.data) ASSERT_TRUE(v >= -1e-6f && v <= 1.0f + 1e-6f) << v;
  }
  // A 90 degree turn of a square image about its centre moves (x, y) to (y, w-1-x)-ish: check
  // that a bright pixel on the top edge goes to a side edge.
  Image dot(9, 9, 1, 0.0f);
  dot.at(4, 0, 0) = 1.0f;
  Image turned = data::rotate_crop_image(dot, float(M_PI / 2), 1.0f, 9, 9, 0, 0, 1.0f);
  float left = 0, right = 0;
  for (int y = 0; y < 9; ++y) left += turned.at(0, y, 0) + turned.at(1, y, 0), right += turned.at(8, y, 0) + turned.at(7, y, 0);
  EXPECT_GT(std::max(left, right), 0.5f);
}

TEST(Augment, GreyExposureScalesAndClamps) {
  Image im(2, 1, 1);
  im.data = {0.2f, 0.8f};
  data::distort_image(im, 0.3f, 2.0f, 1.5f);  // hue and saturation do nothing to grey
  EXPECT_FLOAT_EQ(im.data[0], 0.3f);
  EXPECT_FLOAT_EQ(im.data[1], 1.0f);
}

TEST(Augment, MixingWeighsTruthByWhatEachImageContributes) {
  data::Sample base{Image(10, 10, 1, 0.0f), {1, 0, 0}};
  data::Sample partners[3] = {{Image(10, 10, 1, 1.0f), {0, 1, 0}}, {Image(10, 10, 1, 1.0f), {0, 0, 1}},
                              {Image(10, 10, 1, 1.0f), {0, 0, 1}}};
  data::Random r(test::test_seed());
  data::Sample m = base;
  data::mix_samples(m, partners, data::MixMode::mixup, r);
  EXPECT_EQ(m.truth, (std::vector<float>{0.5f, 0.5f, 0.0f}));
  EXPECT_FLOAT_EQ(m.image.data[0], 0.5f);
  for (int i = 0; i < 10; ++i) {
    data::Sample c = base;
    data::mix_samples(c, partners, data::MixMode::cutmix, r);
    float pasted = std::accumulate(c.image.data.begin(), c.image.data.end(), 0.0f) / 100.0f;
    EXPECT_GE(pasted, 0.09f - 1e-6f);  // 30%..80% of each side: 9%..64% of the area
    EXPECT_LE(pasted, 0.64f + 1e-6f);
    EXPECT_NEAR(c.truth[1], pasted, 1e-6f);
    EXPECT_NEAR(c.truth[0], 1.0f - pasted, 1e-6f);
    data::Sample q = base;
    data::mix_samples(q, partners, data::MixMode::mosaic, r);
    float others = std::accumulate(q.image.data.begin(), q.image.data.end(), 0.0f) / 100.0f;
    EXPECT_NEAR(q.truth[0], 1.0f - others, 1e-6f);
    EXPECT_NEAR(q.truth[0] + q.truth[1] + q.truth[2], 1.0f, 1e-6f);
  }
}

TEST(Augment, BlurKeepsConstantsAndMatchesOpenCV) {
  Image flat(9, 7, 3, 0.25f);
  data::gaussian_blur(flat, 15);
  for (float v : flat.data) EXPECT_NEAR(v, 0.25f, 1e-6f);
#ifdef MISHNET_HAVE_OPENCV
  std::mt19937 rng(uint32_t(test::test_seed()));
  for (int ksize : {3, 5, 9, 15}) {
    Image im = random_image(20, 17, 1, rng), ours = im;
    data::gaussian_blur(ours, ksize);
    cv::Mat src(im.h, im.w, CV_32F, im.data.data()), dst;
    cv::GaussianBlur(src, dst, cv::Size(ksize, ksize), 0);
    for (int y = 0; y < im.h; ++y)
      for (int x = 0; x < im.w; ++x) ASSERT_NEAR(ours.at(x, y, 0), dst.at<float>(y, x), 1e-5f) << ksize << " at " << x << "," << y;
  }
#endif
}

// ---- IDX and gzip --------------------------------------------------------------------------

std::vector<uint8_t> from_hex(const std::string& hex) {
  std::vector<uint8_t> out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) out.push_back(uint8_t(std::stoi(hex.substr(i, 2), nullptr, 16)));
  return out;
}

TEST(IdxFile, ParsesHandWrittenBytes) {
  std::vector<uint8_t> bytes = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 3};
  for (uint8_t v = 1; v <= 12; ++v) bytes.push_back(v);
  data::IdxArray a = data::parse_idx(bytes, "x");
  EXPECT_EQ(a.dims, (std::vector<uint32_t>{2, 2, 3}));
  EXPECT_EQ(a.count(), 2u);
  EXPECT_EQ(a.item_size(), 6u);
  EXPECT_EQ(a.values[11], 12);
  data::IdxArray labels = data::parse_idx({0, 0, 8, 1, 0, 0, 0, 2, 7, 9}, "labels");
  EXPECT_EQ(labels.values, (std::vector<uint8_t>{7, 9}));
}

TEST(IdxFile, BadHeadersNameTheByteOffset) {
  EXPECT_ERROR_CONTAINS(data::parse_idx({0x1f, 0x8b, 8, 0, 1}, "m"), "m: byte 0: bad IDX magic (0x1f 0x8b 0x08 0x00)");
  EXPECT_ERROR_CONTAINS(data::parse_idx({0, 0, 0x0d, 1, 0, 0, 0, 1, 0, 0, 0, 0}, "t"), "t: byte 2: IDX data type 0x0d");
  EXPECT_ERROR_CONTAINS(data::parse_idx({0, 0, 8, 0}, "d"), "d: byte 3:");
  EXPECT_ERROR_CONTAINS(data::parse_idx({0, 0, 8, 2, 0, 0, 0, 3}, "h"), "h: byte 8: the file ends inside the IDX header");
  EXPECT_ERROR_CONTAINS(data::parse_idx({0, 0, 8, 1, 0, 0, 0, 3, 1, 2}, "s"), "s: byte 8: expected 3 values (3)");
  EXPECT_ERROR_CONTAINS(data::parse_idx({0, 0, 8, 1, 0, 0, 0, 1, 1, 2}, "s"), "(trailing data)");
  EXPECT_ERROR_CONTAINS(data::parse_idx({0, 0}, "short"), "short: byte 2:");
}

TEST(IdxFile, InflatesStoredFixedAndDynamicGzipBlocks) {
  // Written by Python's gzip.compress(..., mtime=0) at levels 0 and 9.
  auto stored = data::parse_idx(
      data::gunzip(from_hex("1f8b0800000000000403010d00f2ff00000801000000050908070605585263e10d000000"), "stored"), "s");
  EXPECT_EQ(stored.values, (std::vector<uint8_t>{9, 8, 7, 6, 5}));
  auto fixed = data::parse_idx(
      data::gunzip(from_hex("1f8b08000000000002036360e060646060d060606761e46065e26463c6cf02006866ac5230000000"), "fixed"), "f");
  ASSERT_EQ(fixed.values.size(), 40u);
  for (size_t i = 0; i < 40; ++i) EXPECT_EQ(fixed.values[i], (i * 7) % 10);
  const std::string dynamic_hex =
      "1f8b08000000000002031dc3416482010080d14fcbfc26939974c86426999999cc4c9249663a646632c90e93994966321d9224c9cc4c"
      "669299999924c9249999cc2493c9749899249999244992d9f478200c01e2ffc2a0d2435b42278f2a85bf80544ac14f4a45be83a48d47"
      "c9849b1f115f19c6a2ec266836b8b612e87296e32d8bbec2bb86ab34e776ee0d8c9a390ea16d210f32696253c7a38df5383235c325a6"
      "6238937cd73835b253662fcc8597df084755562cccf7592d725244dce7c682abca41844b2fbd30be328b461435669338627c943854b3"
      "1c67c9c6968e3b130b41ea2d9e42bc9a1931b06f4748f3a2e1a1c26796991cb75dd6ac4c37984bb01de539c3868871377f572a452610"
      "010000";
  auto dynamic = data::parse_idx(data::gunzip(from_hex(dynamic_hex), "dynamic"), "d");
  EXPECT_EQ(dynamic.dims, (std::vector<uint32_t>{4, 8, 8}));
  for (size_t i = 0; i < 256; ++i) EXPECT_EQ(dynamic.values[i], i % 3 ? (i * i * 31 + i) % 256 : 0) << i;
}

TEST(IdxFile, CorruptGzipIsAnErrorWithOffset) {
  std::vector<uint8_t> g = from_hex("1f8b08000000000002036360e060646060d060606761e46065e26463c6cf02006866ac5230000000");
  std::vector<uint8_t> crc = g;
  crc[crc.size() - 8] ^= 1;
  EXPECT_ERROR_CONTAINS(data::gunzip(crc, "c.gz"), "CRC-32 mismatch");
  std::vector<uint8_t> cut(g.begin(), g.begin() + 20);
  EXPECT_ERROR_CONTAINS(data::gunzip(cut, "t.gz"), "t.gz: byte");
  std::vector<uint8_t> method = g;
  method[2] = 7;
  EXPECT_ERROR_CONTAINS(data::gunzip(method, "m.gz"), "m.gz: byte 2:");
}

TEST(IdxFile, ReadsDebiansFashionMnistLabelsWhenInstalled) {
  const std::string path = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
  if (!fs::exists(path)) GTEST_SKIP() << path << " is absent (Debian package dataset-fashion-mnist)";
  data::IdxArray labels = data::read_idx_file(path);
  ASSERT_EQ(labels.dims, (std::vector<uint32_t>{10000}));
  std::vector<int> per_class(10, 0);
  for (uint8_t v : labels.values) {
    ASSERT_LT(v, 10);
    per_class[v]++;
  }
  EXPECT_EQ(per_class, std::vector<int>(10, 1000));  // the test set is balanced
}

}  // namespace
}  // namespace mishnet
