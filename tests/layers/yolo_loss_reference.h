// The pre-refactor [yolo] loss, kept as a test oracle (yolo_loss_reference.cpp).
#pragma once
#include <cstddef>

#include "layers/yolo_loss.h"

namespace mishnet::test {

// What mishnet::yolo_loss computed before the device refactor; same arguments and results.
YoloStats reference_yolo_loss(const YoloOptions& o, const YoloLossGeometry& g,
                              const float* input, const float* output, const float* truth,
                              size_t truth_stride, float* delta);

}  // namespace mishnet::test
