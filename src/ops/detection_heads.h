// Inference activations of the detection heads ([yolo], [region]); decoding to boxes happens
// afterwards in src/detect/ from the activated outputs.
#pragma once

namespace mishnet::ops {

// Geometry of a head's output: `anchors` blocks of `entries` channels (x, y, w, h, objectness,
// classes...) over a grid of `spatial` = w*h cells, per image.
struct HeadDesc {
  int batch = 1;
  int anchors = 1;
  int entries = 0;
  int spatial = 0;
};

// Darknet's forward_yolo_layer in inference: logistic on x, y, objectness and classes (none when
// new_coords), then x, y = x * scale_x_y - (scale_x_y - 1) / 2. w, h pass through.
void yolo_activate_reference(const HeadDesc& d, const float* src, float* dst, float scale_x_y,
                             bool new_coords);

// The same with the vectorised logistic of ops/vector_math.h (within a few ulp of the
// reference's expf): what the CPU layer runs, in inference and training.
void yolo_activate(const HeadDesc& d, const float* src, float* dst, float scale_x_y,
                   bool new_coords);

// Darknet's forward_region_layer in inference: logistic on objectness (entry 4) and, when
// `softmax`, a softmax over the classes (entries 5..) of each anchor and cell. Coordinates pass
// through raw (the decoder applies the logistic to x, y). Layout stays NCHW.
void region_activate_reference(const HeadDesc& d, const float* src, float* dst, bool softmax);

}  // namespace mishnet::ops
