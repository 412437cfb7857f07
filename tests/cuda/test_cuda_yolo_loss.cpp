// The [yolo] loss on a CUDA device (backend/cuda/yolo_loss_kernels.h) against the CPU loss:
// every option set of tests/layers/yolo_loss_cases.h, and a small network whose [yolo] head
// trains on the device (truth upload, the loss read back, the gradient through the conv).
// Skipped (with the reason) without a device; none of these has run yet.
//
// Tolerance: the kernels run the CPU's steps (kernels/yolo_loss_steps.h) in the CPU's order and
// sum in the same order (YoloLossSteps.* proves the order on the CPU), so what differs is the
// device's exp/log (double: within 1 ulp of glibc's; the float logistic of the focal factor a
// few ulp) and nvcc's fused multiply-adds: relative differences of about 1e-6 in a delta. A
// decision (ignore_thresh, the best anchor) flipped by such a difference would show up as one
// entry off by the size of a delta; the random cases keep away from ties, so none is expected.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "cuda/cuda_test_util.h"
#include "layers/yolo.h"
#include "layers/yolo_loss.h"
#include "layers/yolo_loss_cases.h"
#include "mishnet/cfg.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/yolo_loss_kernels.h"
#include "core/network_cuda_training.h"
#endif

namespace mishnet {
namespace {

#if defined(MISHNET_HAVE_CUDA)

void expect_same_figures(const YoloStats& gpu, const YoloStats& cpu, const std::string& what) {
  EXPECT_EQ(gpu.count, cpu.count) << what;
  EXPECT_EQ(gpu.rewritten_boxes, cpu.rewritten_boxes) << what;
  EXPECT_NEAR(gpu.avg_iou, cpu.avg_iou, 1e-5) << what;
  EXPECT_NEAR(gpu.avg_class, cpu.avg_class, 1e-5) << what;
  EXPECT_NEAR(gpu.avg_obj, cpu.avg_obj, 1e-5) << what;
  EXPECT_NEAR(gpu.avg_no_obj, cpu.avg_no_obj, 1e-5) << what;
  EXPECT_NEAR(gpu.recall50, cpu.recall50, 1e-6) << what;
  EXPECT_NEAR(gpu.loss, cpu.loss, 1e-5 * (1 + std::fabs(cpu.loss))) << what;
  EXPECT_NEAR(gpu.box_loss, cpu.box_loss, 1e-5 * (1 + std::fabs(cpu.box_loss))) << what;
  EXPECT_NEAR(gpu.darknet_loss, cpu.darknet_loss, 1e-5 * (1 + std::fabs(cpu.darknet_loss))) << what;
}

TEST(CudaYoloLoss, DeviceLossMatchesTheCpuForEveryOptionSet) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  cuda::Stream stream;
  for (const std::string& v : test::yolo_loss_variants()) {
    const test::YoloLossCase c = test::make_yolo_loss_case(v, test::test_seed());
    std::vector<float> cpu_delta(c.size());
    const YoloStats cpu = yolo_loss(c.o, c.g, c.in.data(), c.out.data(), c.truth.data(),
                                    c.truth_stride, cpu_delta.data());

    const cuda::DeviceArray<float> in(c.in), out(c.out), truth(c.truth);
    // Stale values: every entry must be written.
    cuda::DeviceArray<float> delta(std::vector<float>(c.size(), 123.0f));
    cuda::YoloLossWorkspace w(yolo_loss_params(c.o, c.g), c.g.batch);
    const kernels::YoloLossTotals totals =
        w.run(in.data(), out.data(), truth.data(), c.truth_stride, delta.data(),
              -c.o.delta_normalizer, stream.handle());
    const YoloStats gpu = yolo_stats(c.o, c.g, totals);
    test::expect_close(delta.to_host(), cpu_delta, 1e-4f, 1e-6f, "delta, " + v);
    expect_same_figures(gpu, cpu, v);
  }
}

// A conv and a [yolo] head: the head trains on the device; its loss, figures, gradient and the
// conv's parameter gradients as on the CPU.
TEST(CudaYoloLoss, AYoloHeadTrainsOnTheDevice) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const std::string cfg = R"([net]
width=32
height=32
channels=3
batch=3

[convolutional]
filters=27
size=3
stride=4
pad=1
activation=linear

[yolo]
mask=0,2,3
anchors=4,6, 10,8, 12,20, 24,16, 30,30
classes=4
num=5
iou_loss=ciou
iou_normalizer=0.07
iou_thresh=0.213
ignore_thresh=0.4
scale_x_y=1.05
max=6
)";
  NetworkOptions o;
  o.batch = 3;
  const uint64_t seed = test::test_seed();
  Network cpu = Network::from_cfg(parse_cfg_text(cfg, "yolo.cfg"), o);
  Network host = Network::from_cfg(parse_cfg_text(cfg, "yolo.cfg"), o);
  cpu.set_training(true);
  host.set_training(true);
  init_weights(cpu, seed);
  std::copy(cpu.param_data(), cpu.param_data() + cpu.num_params(), host.param_data());
  host.parameters_changed();
  const std::vector<float> input =
      test::uniform_values(cpu.input_shape().size(), uint32_t(seed), 0.0f, 1.0f);
  std::vector<float> truth(cpu.truth_floats() * 3, 0.0f);
  const float boxes[][5] = {{0.3f, 0.4f, 0.3f, 0.5f, 1}, {0.3f, 0.4f, 0.2f, 0.2f, 3},
                            {0.8f, 0.7f, 0.4f, 0.3f, 0}, {1.0f, 0.1f, 0.1f, 0.2f, 2}};
  for (int b = 0; b < 3; ++b)
    for (int k = 0; k < 4 - b; ++k)
      std::copy(boxes[k], boxes[k] + 5, truth.begin() + long(size_t(b) * cpu.truth_floats() + 5 * size_t(k)));

  std::mt19937_64 r1(seed), r2(seed);
  cpu.zero_grads();
  const float cpu_loss = cpu.forward_backward(input.data(), truth.data(), r1);
  CudaTrainingNetwork gpu(host, 0);
  EXPECT_EQ(gpu.plan().place[1], TrainPlace::device);
  gpu.zero_grads();
  const float gpu_loss = gpu.forward_backward(input.data(), truth.data(), r2);
  EXPECT_NEAR(gpu_loss, cpu_loss, 1e-3f * std::fabs(cpu_loss) + 1e-5f);
  const auto& cpu_head = dynamic_cast<const YoloLayer&>(cpu.layer(1));
  const auto& gpu_head = dynamic_cast<const YoloLayer&>(host.layer(1));
  EXPECT_GT(cpu_head.last_stats().count, 0);
  expect_same_figures(gpu_head.last_stats(), cpu_head.last_stats(), "network head");
  const Tensor cpu_delta = cpu.delta(1);
  test::expect_close(gpu.delta(1), std::vector<float>(cpu_delta.data, cpu_delta.data + cpu_delta.size()),
                     1e-3f, 1e-5f, "head gradient");
  const std::vector<float> g = gpu.gradients();
  const std::vector<float> want(cpu.grad_data(), cpu.grad_data() + cpu.num_params());
  float scale = 0;
  for (float x : want) scale = std::max(scale, std::fabs(x));
  test::expect_close(g, want, 1e-3f, 1e-3f * scale, "conv parameter gradients");
}

// A truth the loss cannot use is refused on the host, before any launch, with the CPU's error.
TEST(CudaYoloLoss, InvalidTruthIsRefusedWithTheCpuError) {
  MISHNET_REQUIRE_CUDA_DEVICE();
  const std::string cfg = "[net]\nwidth=8\nheight=8\nchannels=14\nbatch=1\n[yolo]\nclasses=2\n"
                          "num=2\nanchors=2,2, 4,4\nmax=3\n";
  NetworkOptions o;
  o.batch = 1;
  Network host = Network::from_cfg(parse_cfg_text(cfg, "yolo.cfg"), o);
  host.set_training(true);
  CudaTrainingNetwork gpu(host, 0);
  const std::vector<float> input(host.input_shape().size(), 0.1f);
  std::vector<float> truth(host.truth_floats(), 0.0f);
  const float box[5] = {0.5f, 0.5f, 0.2f, 0.2f, 2.0f};  // class 2 of classes=2
  std::copy(box, box + 5, truth.begin());
  std::mt19937_64 rng(1);
  EXPECT_ERROR_CONTAINS(gpu.forward_backward(input.data(), truth.data(), rng),
                        "[yolo] layer 0: image 0 truth box 0 has class id 2");
}

#else

TEST(CudaYoloLoss, NeedsACudaBuild) { GTEST_SKIP() << "built without CUDA: GPU test not run"; }

#endif

}  // namespace
}  // namespace mishnet
