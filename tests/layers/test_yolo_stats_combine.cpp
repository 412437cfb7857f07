// The per-head figures of a batch trained on several GPUs (combine_yolo_stats): the figures of
// the slices the GPUs train, combined, equal those of the whole batch computed at once.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "layers/yolo.h"
#include "layers/yolo_loss.h"
#include "layers/yolo_loss_cases.h"
#include "test_util.h"

namespace mishnet {
namespace {

// The loss of images [first, first + count) of the case's batch.
YoloStats slice_stats(const test::YoloLossCase& c, int first, int count) {
  const size_t per_image = c.size() / size_t(c.g.batch);
  YoloLossGeometry g = c.g;
  g.batch = count;
  std::vector<float> delta(per_image * size_t(count));
  return yolo_loss(c.o, g, c.in.data() + per_image * size_t(first),
                   c.out.data() + per_image * size_t(first),
                   c.truth.data() + c.truth_stride * size_t(first), c.truth_stride, delta.data());
}

TEST(YoloStats, SlicesCombineToTheWholeBatch) {
  for (const std::string variant : {"mse", "ciou", "label_smooth", "everything"}) {
    SCOPED_TRACE(variant);
    const test::YoloLossCase c = test::make_yolo_loss_case(variant, test::test_seed(), 5);
    const YoloStats whole = slice_stats(c, 0, 5);
    // Three GPUs: slices of 2, 2 and 1 images (batch_partition's sizes).
    const YoloStats parts = combine_yolo_stats({slice_stats(c, 0, 2), slice_stats(c, 2, 2), slice_stats(c, 4, 1)});
    EXPECT_EQ(parts.images, whole.images);
    EXPECT_EQ(parts.count, whole.count);
    EXPECT_EQ(parts.class_count, whole.class_count);
    EXPECT_EQ(parts.rewritten_boxes, whole.rewritten_boxes);
    EXPECT_NEAR(parts.avg_iou, whole.avg_iou, 1e-6f);
    EXPECT_NEAR(parts.avg_class, whole.avg_class, 1e-6f);
    EXPECT_NEAR(parts.avg_obj, whole.avg_obj, 1e-6f);
    EXPECT_NEAR(parts.avg_no_obj, whole.avg_no_obj, 1e-6f);
    EXPECT_NEAR(parts.recall50, whole.recall50, 1e-6f);
    EXPECT_NEAR(parts.recall75, whole.recall75, 1e-6f);
    EXPECT_NEAR(parts.loss, whole.loss, 1e-9 * whole.loss);
    EXPECT_NEAR(parts.box_loss, whole.box_loss, 1e-9 * whole.box_loss + 1e-12);
    EXPECT_NEAR(parts.class_loss, whole.class_loss, 1e-9 * whole.class_loss + 1e-12);
    EXPECT_GT(whole.count, 0) << "the case trains some anchors";
  }
  EXPECT_EQ(combine_yolo_stats({}).images, 0);
}

}  // namespace
}  // namespace mishnet
