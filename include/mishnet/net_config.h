// The [net] section: input geometry and the training options Darknet users set there.
#pragma once
#include <string>
#include <vector>

#include "mishnet/cfg.h"

namespace mishnet {

enum class LearningRatePolicy { constant, step, steps, exp, poly, sigmoid, random, sgdr };

struct NetConfig {
  // Input geometry
  int batch = 1;
  int subdivisions = 1;
  int width = 0;
  int height = 0;
  int channels = 3;
  int inputs = 0;  // for networks without spatial input (width=height=1)

  // Optimisation
  float learning_rate = 0.001f;
  float momentum = 0.9f;
  float decay = 0.0001f;
  int max_batches = 0;
  int burn_in = 0;
  float power = 4.0f;
  LearningRatePolicy policy = LearningRatePolicy::constant;
  int step = 1;
  float scale = 1.0f;
  std::vector<int> steps;
  std::vector<float> scales;
  float gamma = 0.0f;
  int sgdr_cycle = 0;
  float sgdr_mult = 2.0f;
  bool adam = false;
  float adam_b1 = 0.9f, adam_b2 = 0.999f, adam_eps = 1e-7f;
  float label_smooth_eps = 0.0f;
  float ema_alpha = 0.0f;
  float loss_scale = 1.0f;
  int savelast = 100;
  int saveweights = 1000;

  // Augmentation
  bool flip = true;
  float angle = 0.0f;
  float aspect = 1.0f;
  float saturation = 1.0f;
  float exposure = 1.0f;
  float hue = 0.0f;
  int blur = 0;
  int gaussian_noise = 0;
  int mixup = 0;
  int cutmix = 0;
  int mosaic = 0;
  int mosaic_bound = 0;
  int letter_box = 0;
  int min_crop = 0;
  int max_crop = 0;
  int track = 0;
  // Multi-scale training ([yolo] random=): sizes are multiples of this.
  int resize_step = 32;
  // Training memory against speed (Darknet's key, its GPU meaning aside): 0 rebuilds in backward
  // only the outputs that are cheap to rebuild; 1 or more also those of convolutions with an
  // expensive activation (Mish, Swish, logistic), for about a third less memory and a slower step.
  int optimized_memory = 0;
  // cuDNN workspace limit per convolution algorithm, in MB of 2^20 bytes (Darknet's key and
  // default): the GPU backend picks the fastest algorithm whose workspace fits.
  double workspace_size_limit_MB = 1024.0;
  // Mixed-precision GPU training (a mishnet extension, 0 or 1, default 0): only the GPU
  // training path reads it; the CPU path ignores it with a note on stderr. See docs/gpu.md.
  bool mixed_precision = false;

  // Reads every key of [net]; keys left unread are reported by the caller.
  static NetConfig parse(const CfgSection& net);
};

}  // namespace mishnet
