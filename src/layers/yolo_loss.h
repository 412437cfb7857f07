// The training loss of a [yolo] layer: Darknet's (AlexeyAB) forward_yolo_layer deltas, with
// mishnet's sign and a loss value whose gradient they are wherever Darknet's deltas are a true
// gradient (docs/yolo-loss.md lists where they are not).
#pragma once
#include <cstddef>

#include "kernels/yolo_loss_steps.h"
#include "layers/yolo.h"

namespace mishnet {

struct YoloLossGeometry {
  int batch = 1;
  int grid_w = 0, grid_h = 0;  // the layer's output width and height
  int net_w = 0, net_h = 0;    // network input size (anchors are in its pixels)
  int layer_index = 0;         // for error messages
};

// Throws mishnet::Error, naming the layer, image and box, on a truth with a class id outside
// 0..classes-1 (or not an integer) or coordinates outside [0,1]: the loss steps assume valid
// truths, so this runs on the host before them (CPU and GPU).
void check_yolo_truths(const YoloOptions& o, const float* truth, size_t truth_stride, int batch,
                       int layer);

// The options and geometry as the loss steps read them; the pointers point into `o` (the GPU
// replaces them with device copies).
kernels::YoloLossParams yolo_loss_params(const YoloOptions& o, const YoloLossGeometry& g);

// The loss and Darknet's figures from a batch's sums (CPU and GPU).
YoloStats yolo_stats(const YoloOptions& o, const YoloLossGeometry& g,
                     const kernels::YoloLossTotals& totals);

// Computes the loss of one batch. `input` is the layer's input (the conv output, before the
// [yolo] activations), `output` the activated output of the forward pass, `truth` truth_stride
// floats per image (YoloLayer::truth_floats() layout). Writes dL/d(input) into `delta` (every
// element; the layer's backward adds it to the input gradient) and returns the loss and the
// figures Darknet prints. Throws mishnet::Error on a truth with a class id outside 0..classes-1
// or coordinates outside [0,1].
YoloStats yolo_loss(const YoloOptions& o, const YoloLossGeometry& g, const float* input,
                    const float* output, const float* truth, size_t truth_stride, float* delta);

}  // namespace mishnet
