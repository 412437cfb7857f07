// [yolo]: every key Darknet's parse_yolo reads, the channel check, the inference activations
// and the decoding of hand-made outputs into boxes (scale_x_y, new_coords, letterbox).
#include <cmath>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "layers/expect_error_parts.h"
#include "layers/yolo.h"
#include "mishnet/cfg.h"
#include "mishnet/detection.h"
#include "mishnet/network.h"
#include "test_util.h"

namespace mishnet {
namespace {

float logit(float p) { return std::log(p / (1 - p)); }
double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// A [yolo] layer reading the network input directly: the input is the conv output we hand-make.
// grid w x h, `mask_count` anchors, 2 classes unless the extra keys say otherwise.
std::string yolo_on_input(int w, int h, int channels, const std::string& yolo_keys) {
  return "[net]\nwidth=" + std::to_string(w) + "\nheight=" + std::to_string(h) +
         "\nchannels=" + std::to_string(channels) + "\n[yolo]\n" + yolo_keys;
}

Network build(const std::string& text, const std::string& name = "y.cfg") {
  return Network::from_cfg(parse_cfg_text(text, name));
}

// Index of entry `e` of anchor `a` at cell (col, row) in a head's NCHW output.
size_t at(int a, int e, int col, int row, int classes, int w, int h) {
  return (size_t(a) * size_t(classes + 5) + size_t(e)) * size_t(w * h) + size_t(row * w + col);
}

TEST(YoloLayer, ParsesEveryDarknetKey) {
  const char* keys =
      "mask=2,0\nanchors=10,14, 23,27, 37,58\nclasses=2\nnum=3\nmax=90\njitter=.3\n"
      "ignore_thresh=.7\ntruth_thresh=.9\niou_thresh=0.213\niou_loss=ciou\n"
      "iou_thresh_kind=giou\niou_normalizer=0.07\nobj_normalizer=2.5\ncls_normalizer=0.5\n"
      "delta_normalizer=0.9\nscale_x_y=1.05\nnew_coords=1\nobjectness_smooth=1\n"
      "label_smooth_eps=0.1\nmax_delta=5\ncounters_per_class=100,400\nfocal_loss=1\n"
      "random=1.5\nresize=1.5\nnms_kind=diounms\nbeta_nms=0.5\nshow_details=0\n"
      "track_history_size=7\nsim_thresh=0.7\ndets_for_track=2\ndets_for_show=3\n"
      "track_ciou_norm=0.02\nuc_normalizer=0.07\nbeta1=0.5\n";
  Network net = build(yolo_on_input(4, 3, 14, keys));
  const auto& y = dynamic_cast<const YoloLayer&>(net.layer(0));
  const YoloOptions& o = y.options();
  EXPECT_EQ(o.mask, (std::vector<int>{2, 0}));
  EXPECT_EQ(o.anchors, (std::vector<float>{10, 14, 23, 27, 37, 58}));
  EXPECT_EQ(o.classes, 2);
  EXPECT_EQ(o.num, 3);
  EXPECT_EQ(o.max_boxes, 90);
  EXPECT_FLOAT_EQ(o.jitter, .3f);
  EXPECT_FLOAT_EQ(o.ignore_thresh, .7f);
  EXPECT_FLOAT_EQ(o.truth_thresh, .9f);
  EXPECT_FLOAT_EQ(o.iou_thresh, .213f);
  EXPECT_EQ(o.iou_loss, YoloIouLoss::ciou);
  EXPECT_EQ(o.iou_thresh_kind, YoloIouKind::giou);
  EXPECT_FLOAT_EQ(o.iou_normalizer, .07f);
  EXPECT_FLOAT_EQ(o.obj_normalizer, 2.5f);
  EXPECT_FLOAT_EQ(o.cls_normalizer, .5f);
  EXPECT_FLOAT_EQ(o.delta_normalizer, .9f);
  EXPECT_FLOAT_EQ(o.scale_x_y, 1.05f);
  EXPECT_TRUE(o.new_coords);
  EXPECT_TRUE(o.objectness_smooth);
  EXPECT_FLOAT_EQ(o.label_smooth_eps, .1f);
  EXPECT_FLOAT_EQ(o.max_delta, 5);
  EXPECT_EQ(o.counters_per_class, (std::vector<int>{100, 400}));
  // Darknet: max_counter / counter, clipped to max_delta.
  EXPECT_EQ(o.classes_multipliers, (std::vector<float>{4, 1}));
  EXPECT_TRUE(o.focal_loss);
  EXPECT_FLOAT_EQ(o.random, 1.5f);
  EXPECT_FLOAT_EQ(o.resize, 1.5f);
  EXPECT_EQ(o.nms_kind, NmsKind::diou);
  EXPECT_FLOAT_EQ(o.beta_nms, .5f);
  EXPECT_FALSE(o.show_details);
  EXPECT_EQ(o.track_history_size, 7);
  EXPECT_FLOAT_EQ(o.sim_thresh, .7f);
  EXPECT_EQ(o.dets_for_track, 2);
  EXPECT_EQ(o.dets_for_show, 3);
  EXPECT_FLOAT_EQ(o.track_ciou_norm, .02f);
  EXPECT_FLOAT_EQ(o.uc_normalizer, .07f);
  EXPECT_FLOAT_EQ(o.beta1, .5f);
  EXPECT_TRUE(y.is_detection_output());
  EXPECT_EQ(y.output_shape, (Shape{1, 14, 3, 4}));
}

TEST(YoloLayer, DefaultsAreDarknets) {
  Network net = build(yolo_on_input(2, 2, 25, "anchors=10,14\nclasses=20\n"));
  const YoloOptions& o = dynamic_cast<const YoloLayer&>(net.layer(0)).options();
  EXPECT_EQ(o.num, 1);
  EXPECT_EQ(o.mask, (std::vector<int>{0}));
  EXPECT_EQ(o.max_boxes, 200);
  EXPECT_FLOAT_EQ(o.jitter, .2f);
  EXPECT_FLOAT_EQ(o.ignore_thresh, .5f);
  EXPECT_FLOAT_EQ(o.truth_thresh, 1);
  EXPECT_FLOAT_EQ(o.iou_thresh, 1);
  EXPECT_EQ(o.iou_loss, YoloIouLoss::mse);
  EXPECT_EQ(o.iou_thresh_kind, YoloIouKind::iou);
  EXPECT_FLOAT_EQ(o.iou_normalizer, .75f);
  EXPECT_FLOAT_EQ(o.scale_x_y, 1);
  EXPECT_FALSE(o.new_coords);
  EXPECT_EQ(o.nms_kind, NmsKind::greedy);
  EXPECT_FLOAT_EQ(o.beta_nms, .6f);
  EXPECT_TRUE(o.classes_multipliers.empty());
}

TEST(YoloLayer, NmsKindNames) {
  auto kind = [](const std::string& value) {
    Network net = build(yolo_on_input(2, 2, 7, "anchors=1,1\nclasses=2\nnms_kind=" + value + "\n"));
    return dynamic_cast<const YoloLayer&>(net.layer(0)).options().nms_kind;
  };
  EXPECT_EQ(kind("default"), NmsKind::greedy);
  EXPECT_EQ(kind("greedynms"), NmsKind::greedy_diou);
  EXPECT_EQ(kind("diounms"), NmsKind::diou);
  EXPECT_EQ(kind("cornersnms"), NmsKind::greedy);
}

// A wrong value names the file, the line of the key, the key and what was expected.
TEST(YoloLayer, WrongValuesNameFileLineAndKey) {
  // Line numbers: [net]=1, width=2, height=3, channels=4, [yolo]=5, anchors=6, classes=7, key=8.
  auto error_for = [](const std::string& key_line, int channels = 7) {
    std::string text = yolo_on_input(2, 2, channels, "anchors=1,1\nclasses=2\n" + key_line + "\n");
    try {
      build(text, "bad.cfg");
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  struct Case {
    std::string line, key, message;
  };
  std::vector<Case> cases = {
      {"iou_loss=cioo", "iou_loss",
       "unknown value 'cioo', expected one of: mse, iou, giou, diou, ciou"},
      {"iou_thresh_kind=mse", "iou_thresh_kind", "unknown value 'mse'"},
      {"nms_kind=greedy", "nms_kind",
       "unknown value 'greedy', expected one of: default, greedynms, diounms, cornersnms"},
      {"mask=0,1", "mask", "anchor index 1 is outside 0..0 (num=1)"},
      {"scale_x_y=0", "scale_x_y", "must be positive, got 0"},
      {"new_coords=2", "new_coords", "expected 0 or 1, got '2'"},
      {"ignore_thresh=1.5", "ignore_thresh", "must be in [0, 1], got 1.5"},
      {"truth_thresh=-1", "truth_thresh", "must be in [0, 1]"},
      {"iou_thresh=2", "iou_thresh", "must be in [0, 1]"},
      {"iou_normalizer=-1", "iou_normalizer", "must not be negative"},
      {"max_delta=0", "max_delta", "must be positive"},
      {"label_smooth_eps=2", "label_smooth_eps", "must be in [0, 1]"},
      {"counters_per_class=1,2,3", "counters_per_class", "has 3 values, classes=2"},
      {"focal_loss=3", "focal_loss", "expected 0 or 1"},
      {"objectness_smooth=x", "objectness_smooth", "expected an integer"},
      {"jitter=-0.1", "jitter", "must not be negative"},
      {"resize=0", "resize", "must be positive"},
      {"random=-1", "random", "must not be negative"},
      {"beta_nms=0", "beta_nms", "must be positive"},
      {"max=0", "max", "must be at least 1"},
      {"embedding_layer=-2", "embedding_layer", "is not supported"},
      {"map=data/9k.map", "map", "is not supported"},
      {"iou_normalizer=abc", "iou_normalizer", "expected a number, got 'abc'"},
      {"ignore_tresh=.7", "ignore_tresh", "is not known for [yolo]"},
  };
  for (const Case& c : cases)
    EXPECT_TRUE(test::has_all(error_for(c.line), {"bad.cfg:8:", "[yolo]", c.key, c.message}))
        << c.line;
}

TEST(YoloLayer, AnchorsAreCheckedAgainstNum) {
  EXPECT_ERROR_PARTS(build(yolo_on_input(2, 2, 7, "anchors=1,1,2\nnum=2\nmask=0\nclasses=2\n"),
                           "a.cfg"),
                     "a.cfg:6:", "anchors", "has 3 values; num=2 needs 4");
  EXPECT_ERROR_PARTS(build(yolo_on_input(2, 2, 7, "anchors=1,-1\nclasses=2\n"), "a.cfg"),
                     "a.cfg:6:", "anchors", "anchor sizes must be positive, got -1");
  EXPECT_ERROR_PARTS(build(yolo_on_input(2, 2, 7, "classes=2\n"), "a.cfg"), "a.cfg:5:",
                     "[yolo]", "missing 'anchors'");
  EXPECT_ERROR_PARTS(build(yolo_on_input(2, 2, 7, "anchors=1,1\nclasses=0\n"), "a.cfg"),
                     "a.cfg:7:", "classes", "must be at least 1");
}

TEST(YoloLayer, ChannelMismatchNamesLayersLineAndFilters) {
  const char* text =
      "[net]\nwidth=8\nheight=8\nchannels=3\n"
      "[convolutional]\nfilters=256\nsize=1\nactivation=linear\n"
      "[yolo]\nmask=0,1,2\nanchors=1,1, 2,2, 3,3\nnum=3\nclasses=80\n";
  EXPECT_ERROR_CONTAINS(build(text, "m.cfg"),
                        "m.cfg:9: layer 1 [yolo] expects (80+5)*3 = 255 channels from layer 0, "
                        "which has 256 (set filters=255");
  EXPECT_ERROR_CONTAINS(build(yolo_on_input(2, 2, 8, "anchors=1,1\nclasses=2\n"), "i.cfg"),
                        "i.cfg:5: layer 0 [yolo] expects (2+5)*1 = 7 channels from the network "
                        "input, which has 8");
}

// The message of the task's example, on the real yolov4-tiny.cfg with one wrong filters=.
TEST(YoloLayer, ChannelMismatchOnYolov4Tiny) {
  MISHNET_REQUIRE_SHARED_CFG("yolov4-tiny.cfg");
  for (const char* t : {"route", "maxpool", "upsample"})
    if (!layer_registry().count(t)) GTEST_SKIP() << "[" << t << "] is not registered yet";
  std::ifstream f(test::shared_cfg("yolov4-tiny.cfg"));
  std::stringstream ss;
  ss << f.rdbuf();
  std::string text = ss.str();
  size_t pos = text.find("filters=255");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 11, "filters=256");
  EXPECT_ERROR_CONTAINS(build(text, "yolov4-tiny.cfg"),
                        "layer 30 [yolo] expects (80+5)*3 = 255 channels from layer 29, which "
                        "has 256");
}

// Every [yolo] section of the public cfgs parses with no key left unread, except two cfgs whose
// anchors are broken (Darknet reads past its anchor array there).
TEST(YoloLayer, PublicCfgsParse) {
  if (!std::filesystem::exists(test::shared_cfg_dir())) GTEST_SKIP() << "no ../shared/darknet-cfg";
  int sections = 0;
  for (const auto& entry : std::filesystem::directory_iterator(test::shared_cfg_dir())) {
    if (entry.path().extension() != ".cfg") continue;
    Cfg cfg = parse_cfg_file(entry.path().string());
    std::string name = entry.path().filename().string();
    for (const CfgSection& s : cfg.sections) {
      if (s.type != "yolo") continue;
      ++sections;
      if (name == "cspx-p7-mish.cfg") {
        // num=16 with 20 anchors and masks up to 19.
        EXPECT_ERROR_PARTS(parse_yolo_options(s), "anchors", "has 40 values; num=16 needs 32");
        continue;
      }
      if (name == "cspx-p7-mish_hp.cfg") {
        // "61,45    61,45": a missing comma turns two anchors into 61, 4561, 45.
        EXPECT_ERROR_PARTS(parse_yolo_options(s), "anchors", "has 31 values; num=16 needs 32");
        continue;
      }
      try {
        parse_yolo_options(s);
      } catch (const Error& e) {
        ADD_FAILURE() << name << ": " << e.what();
        continue;
      }
      for (const CfgOption* o : s.unused())
        ADD_FAILURE() << name << ":" << o->line << ": key '" << o->key << "' left unread";
    }
  }
  EXPECT_GT(sections, 0);
}

// forward: logistic on x, y, objectness, classes; x, y scaled by scale_x_y; w, h raw.
TEST(YoloLayer, ForwardMatchesDarknetActivations) {
  std::mt19937_64 rng(test::test_seed());
  std::normal_distribution<float> dist(0.0f, 3.0f);
  const int w = 3, h = 2, classes = 3, anchors = 2, c = (classes + 5) * anchors;
  for (bool new_coords : {false, true}) {
    for (float scale : {1.0f, 1.05f, 2.0f}) {
      std::string keys = "mask=0,1\nnum=2\nanchors=1,2,3,4\nclasses=3\nscale_x_y=" +
                         std::to_string(scale) + "\nnew_coords=" + (new_coords ? "1" : "0") + "\n";
      NetworkOptions opt;
      opt.batch = 2;
      Network net = Network::from_cfg(parse_cfg_text(yolo_on_input(w, h, c, keys), "f.cfg"), opt);
      std::vector<float> in(size_t(2 * c * w * h));
      for (float& v : in) v = dist(rng);
      Tensor out = net.forward(in.data());
      const size_t per_image = size_t(c * w * h);
      for (int b = 0; b < 2; ++b)
        for (int a = 0; a < anchors; ++a)
          for (int e = 0; e < classes + 5; ++e)
            for (int p = 0; p < w * h; ++p) {
              size_t i = size_t(b) * per_image + at(a, e, p % w, p / w, classes, w, h);
              double x = in[i], expect = x;
              if (!new_coords && e != 2 && e != 3) expect = sigmoid(x);
              if (e < 2) expect = expect * scale - 0.5 * (scale - 1);
              // float32 logistic and affine: a few ulp.
              ASSERT_NEAR(out.data[i], expect, 1e-6 + 1e-6 * std::fabs(expect))
                  << "batch " << b << " anchor " << a << " entry " << e << " cell " << p
                  << " new_coords " << new_coords << " scale " << scale;
            }
    }
  }
}

// Hand-made raw conv outputs -> known boxes. Grid 4x2 read straight from a 4x2 network input,
// so anchors are in the same pixels as the grid.
struct HandMade {
  static constexpr int w = 4, h = 2, classes = 2, anchors = 2, c = (classes + 5) * anchors;
  std::vector<float> input = std::vector<float>(size_t(c * w * h), -20.0f);  // objectness ~0
  void set(int a, int col, int row, float tx, float ty, float tw, float th, float obj,
           std::vector<float> cls) {
    input[at(a, 0, col, row, classes, w, h)] = tx;
    input[at(a, 1, col, row, classes, w, h)] = ty;
    input[at(a, 2, col, row, classes, w, h)] = tw;
    input[at(a, 3, col, row, classes, w, h)] = th;
    input[at(a, 4, col, row, classes, w, h)] = obj;
    for (int k = 0; k < classes; ++k) input[at(a, 5 + k, col, row, classes, w, h)] = cls[size_t(k)];
  }
};

TEST(YoloLayer, DecodesHandMadeOutput) {
  // Anchors (in mask order): anchor 1 = (2, 1), anchor 0 = (1, 0.5): mask=1,0 reverses them.
  Network net = build(yolo_on_input(4, 2, 14, "mask=1,0\nnum=2\nanchors=1,0.5, 2,1\nclasses=2\n"));
  HandMade m;
  // Cell (2, 1), first anchor of the mask (= anchor 1): sigmoid(tx)=0.5, sigmoid(ty)=0.75,
  // w = e^ln2 * 2 / 4 = 1, h = e^0 * 1 / 2 = 0.5; objectness 0.8, classes 0.9 and 0.25.
  m.set(0, 2, 1, 0.0f, logit(0.75f), std::log(2.0f), 0.0f, logit(0.8f), {logit(0.9f), logit(0.25f)});
  // Cell (0, 0), second anchor (= anchor 0): objectness 0.6, class 1 scores 0.9 -> 0.54.
  m.set(1, 0, 0, logit(0.25f), 0.0f, 0.0f, std::log(3.0f), logit(0.6f), {logit(0.1f), logit(0.9f)});
  // Cell (3, 0), objectness 0.4 <= thresh 0.5: not a detection.
  m.set(0, 3, 0, 0.0f, 0.0f, 0.0f, 0.0f, logit(0.4f), {5.0f, 5.0f});
  net.forward(m.input.data());

  // Image 4x2, no letterbox: relative boxes unchanged. Tolerance: float32 decode, 1e-6.
  std::vector<Detection> d = get_detections(net, 4, 2, 0.5f, false);
  ASSERT_EQ(d.size(), 2u);
  // Darknet's order: cells row by row, so (0, 0) comes before (2, 1).
  EXPECT_NEAR(d[0].box.x, (0 + 0.25) / 4, 1e-6);
  EXPECT_NEAR(d[0].box.y, (0 + 0.5) / 2, 1e-6);
  EXPECT_NEAR(d[0].box.w, 1.0 * 1 / 4, 1e-6);
  EXPECT_NEAR(d[0].box.h, 3.0 * 0.5 / 2, 1e-6);
  EXPECT_NEAR(d[0].objectness, 0.6, 1e-6);
  EXPECT_EQ(d[0].prob[0], 0.0f);  // 0.6 * 0.1 = 0.06 <= thresh
  EXPECT_NEAR(d[0].prob[1], 0.6 * 0.9, 1e-6);
  EXPECT_EQ(d[0].classes, 2);

  EXPECT_NEAR(d[1].box.x, (2 + 0.5) / 4, 1e-6);
  EXPECT_NEAR(d[1].box.y, (1 + 0.75) / 2, 1e-6);
  EXPECT_NEAR(d[1].box.w, 2.0 * 2 / 4, 1e-6);
  EXPECT_NEAR(d[1].box.h, 1.0 * 1 / 2, 1e-6);
  EXPECT_NEAR(d[1].prob[0], 0.8 * 0.9, 1e-6);
  EXPECT_EQ(d[1].prob[1], 0.0f);  // 0.8 * 0.25 = 0.2 <= thresh

  // A lower threshold lets the third box in, and scores below it through.
  std::vector<Detection> all = get_detections(net, 4, 2, 0.1f, false);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_NEAR(all[1].box.x, (3 + 0.5) / 4, 1e-6);
  EXPECT_NEAR(all[2].prob[1], 0.8 * 0.25, 1e-6);
}

TEST(YoloLayer, ScaleXYLetsCentresReachCellEdges) {
  Network net = build(yolo_on_input(4, 2, 14, "mask=0,1\nnum=2\nanchors=1,1,2,2\nclasses=2\n"
                                               "scale_x_y=2.0\n"));
  HandMade m;
  // sigmoid 0.5 stays the cell centre; sigmoid 0.75 -> 0.75*2 - 0.5 = 1.0 (the cell's edge);
  // sigmoid 0.1 -> -0.3 (into the previous cell).
  m.set(0, 1, 0, 0.0f, logit(0.75f), 0.0f, 0.0f, logit(0.9f), {5.0f, 5.0f});
  m.set(1, 2, 1, logit(0.1f), 0.0f, 0.0f, 0.0f, logit(0.9f), {5.0f, 5.0f});
  net.forward(m.input.data());
  std::vector<Detection> d = get_detections(net, 4, 2, 0.5f, false);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0].box.x, (1 + 0.5) / 4, 1e-6);
  EXPECT_NEAR(d[0].box.y, (0 + 1.0) / 2, 1e-6);
  EXPECT_NEAR(d[1].box.x, (2 - 0.3) / 4, 1e-6);
  EXPECT_NEAR(d[1].box.y, (1 + 0.5) / 2, 1e-6);
}

TEST(YoloLayer, NewCoordsTakesOutputsAsTheyAre) {
  Network net = build(yolo_on_input(4, 2, 14, "mask=0,1\nnum=2\nanchors=1,1,2,4\nclasses=2\n"
                                               "new_coords=1\nscale_x_y=2.0\n"));
  HandMade m;
  // The conv already applied the logistic: x = 0.6*2 - 0.5 = 0.7, w = (2*0.3)^2 * 2 = 0.72.
  m.set(1, 3, 1, 0.6f, 0.25f, 0.3f, 0.5f, 0.7f, {0.9f, 0.2f});
  m.set(0, 0, 0, 0.5f, 0.5f, 0.5f, 0.5f, 0.4f, {1.0f, 1.0f});  // objectness 0.4: dropped
  net.forward(m.input.data());
  std::vector<Detection> d = get_detections(net, 4, 2, 0.5f, false);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].box.x, (3 + 0.7) / 4, 1e-6);
  EXPECT_NEAR(d[0].box.y, (1 + 0.0) / 2, 1e-6);
  EXPECT_NEAR(d[0].box.w, 0.3 * 0.3 * 4 * 2 / 4, 1e-6);
  EXPECT_NEAR(d[0].box.h, 0.5 * 0.5 * 4 * 4 / 2, 1e-6);
  EXPECT_NEAR(d[0].objectness, 0.7, 1e-6);
  EXPECT_NEAR(d[0].prob[0], 0.7 * 0.9, 1e-6);
  EXPECT_EQ(d[0].prob[1], 0.0f);  // 0.14 <= thresh
}

TEST(YoloLayer, LetterboxCorrection) {
  Network net = build(yolo_on_input(4, 2, 14, "mask=0,1\nnum=2\nanchors=1,1,2,2\nclasses=2\n"));
  HandMade m;
  // Box centre (0.5+0.5)/4 = 0.125, (0+sigmoid)/2; w = 1/4, h = 1/2.
  m.set(0, 0, 0, 0.0f, logit(0.6f), 0.0f, 0.0f, logit(0.9f), {5.0f, 5.0f});
  net.forward(m.input.data());
  // Image 8x2 letterboxed into 4x2: scaled to 4x1, 0.5 px bars above and below: the image
  // occupies y in [0.25, 0.75] of the network input, x all of it.
  std::vector<Detection> d = get_detections(net, 8, 2, 0.5f, true);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].box.x, 0.125, 1e-6);
  EXPECT_NEAR(d[0].box.w, 0.25, 1e-6);
  EXPECT_NEAR(d[0].box.y, (0.3 - 0.25) / 0.5, 1e-6);
  EXPECT_NEAR(d[0].box.h, 0.5 / 0.5, 1e-6);
  // Image 4x8 (tall) into 4x2: scaled to 1x2 (Darknet's integer division: 4*2/8), bars left
  // and right: x in [0.375, 0.625].
  d = get_detections(net, 4, 8, 0.5f, true);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].box.x, (0.125 - 0.375) / 0.25, 1e-6);
  EXPECT_NEAR(d[0].box.w, 0.25 / 0.25, 1e-6);
  EXPECT_NEAR(d[0].box.y, 0.3, 1e-6);
  // Resized, not letterboxed: nothing moves, whatever the image size.
  d = get_detections(net, 8, 2, 0.5f, false);
  EXPECT_NEAR(d[0].box.x, 0.125, 1e-6);
  EXPECT_NEAR(d[0].box.y, 0.3, 1e-6);
}

// Anchors are in network-input pixels and the grid is coarser than the input: decoding divides
// w, h by the network size and x, y by the grid size.
TEST(YoloLayer, DecodesAgainstNetworkSizeNotGrid) {
  Network net = build(yolo_on_input(4, 2, 14, "mask=0,1\nnum=2\nanchors=10,20,30,40\nclasses=2\n"));
  const auto& layer = dynamic_cast<const YoloLayer&>(net.layer(0));
  HandMade m;
  m.set(1, 2, 1, 0.0f, 0.0f, std::log(2.0f), 0.0f, logit(0.9f), {5.0f, 5.0f});
  net.forward(m.input.data());
  DetectionGeometry g;
  g.net_w = 416;
  g.net_h = 320;
  g.image_w = 416;
  g.image_h = 320;
  std::vector<Detection> d;
  layer.append_detections(net.output(0), 0, g, 0.5f, d);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_NEAR(d[0].box.x, 2.5 / 4, 1e-6);
  EXPECT_NEAR(d[0].box.y, 1.5 / 2, 1e-6);
  EXPECT_NEAR(d[0].box.w, 2 * 30.0 / 416, 1e-6);
  EXPECT_NEAR(d[0].box.h, 40.0 / 320, 1e-6);
}

TEST(YoloLayer, BatchEntriesDecodeSeparately) {
  NetworkOptions opt;
  opt.batch = 2;
  Network net = Network::from_cfg(
      parse_cfg_text(yolo_on_input(4, 2, 14, "mask=0,1\nnum=2\nanchors=1,1,2,2\nclasses=2\n"),
                     "b.cfg"),
      opt);
  HandMade first, second;
  first.set(0, 1, 1, 0.0f, 0.0f, 0.0f, 0.0f, logit(0.9f), {5.0f, 5.0f});
  second.set(1, 3, 0, 0.0f, 0.0f, 0.0f, 0.0f, logit(0.9f), {5.0f, 5.0f});
  second.set(1, 2, 0, 0.0f, 0.0f, 0.0f, 0.0f, logit(0.9f), {5.0f, 5.0f});
  std::vector<float> in = first.input;
  in.insert(in.end(), second.input.begin(), second.input.end());
  net.forward(in.data());
  EXPECT_EQ(get_detections(net, 4, 2, 0.5f, false, 0).size(), 1u);
  std::vector<Detection> d = get_detections(net, 4, 2, 0.5f, false, 1);
  ASSERT_EQ(d.size(), 2u);
  EXPECT_NEAR(d[0].box.x, 2.5 / 4, 1e-6);
  EXPECT_ERROR_CONTAINS(get_detections(net, 4, 2, 0.5f, false, 2), "batch index 2 is outside 0..1");
}

}  // namespace
}  // namespace mishnet
