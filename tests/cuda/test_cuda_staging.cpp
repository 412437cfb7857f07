// The bookkeeping of GPU training's double-buffered input staging (backend/cuda/staging_slots.h)
// on the CPU: a staged mini-batch is found by its host address, a slot in use is never handed
// out for staging, and a staged mini-batch nobody took is overwritten rather than blocking.
#include <gtest/gtest.h>

#include "backend/cuda/staging_slots.h"
#include "test_util.h"

namespace mishnet {
namespace {

using cuda::StagingSlots;
using State = StagingSlots::State;

TEST(CudaGeometry, StagingSlotsAlternateOneAhead) {
  StagingSlots s;
  float a[1], b[1];
  // The trainer's pattern: A is uploaded by the forward itself, B staged while A trains, then
  // A's buffer refilled and staged while B trains, and so on.
  EXPECT_FALSE(s.take(a).has_value());
  int sb = s.begin(b);
  s.finish(sb);
  EXPECT_EQ(s.state(sb), State::staged);
  auto got = s.take(b);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, sb);
  // While B trains, A is staged into the other slot.
  int sa = s.begin(a);
  EXPECT_NE(sa, sb);
  s.finish(sa);
  s.release(sb);
  got = s.take(a);
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, sa);
  // Next stage while A trains: the freed slot.
  EXPECT_EQ(s.begin(b), sb);
}

TEST(CudaGeometry, StagingSlotsNeverHandOutASlotInUse) {
  StagingSlots s;
  float a[1], b[1], c[1];
  const int sa = s.begin(a);
  s.finish(sa);
  ASSERT_TRUE(s.take(a).has_value());  // in use
  const int sb = s.begin(b);
  s.finish(sb);
  // B was staged but never taken (e.g. the network changed): staging C reuses B's slot, never
  // A's, which the running forward still reads.
  EXPECT_EQ(s.begin(c), sb);
  s.finish(sb);
  EXPECT_FALSE(s.take(b).has_value()) << "B's contents were overwritten";
  EXPECT_EQ(s.take(c).value(), sb);
  // Both in use: no slot to stage into.
  EXPECT_ERROR_CONTAINS(s.begin(b), "both slots are busy");
  s.release(sa);
  EXPECT_EQ(s.begin(b), sa);
}

TEST(CudaGeometry, StagingSlotsRejectOutOfOrderCalls) {
  StagingSlots s;
  float a[1];
  EXPECT_ERROR_CONTAINS(s.finish(0), "wrong state");
  EXPECT_ERROR_CONTAINS(s.release(1), "wrong state");
  EXPECT_ERROR_CONTAINS(s.release(2), "there are 2");
  const int sa = s.begin(a);
  EXPECT_FALSE(s.take(a).has_value()) << "not staged until its copy is queued";
  s.finish(sa);
  s.drop_staged();
  EXPECT_FALSE(s.take(a).has_value());
  EXPECT_EQ(s.state(sa), State::free);
}

}  // namespace
}  // namespace mishnet
