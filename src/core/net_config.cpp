#include "mishnet/net_config.h"

#include "mishnet/error.h"

namespace mishnet {

namespace {

LearningRatePolicy parse_policy(const CfgSection& s) {
  std::string p = s.get_string("policy", "constant");
  if (p == "constant") return LearningRatePolicy::constant;
  if (p == "step") return LearningRatePolicy::step;
  if (p == "steps") return LearningRatePolicy::steps;
  if (p == "exp") return LearningRatePolicy::exp;
  if (p == "poly") return LearningRatePolicy::poly;
  if (p == "sigmoid") return LearningRatePolicy::sigmoid;
  if (p == "random") return LearningRatePolicy::random;
  if (p == "sgdr") return LearningRatePolicy::sgdr;
  s.fail_key("policy", "unknown learning-rate policy '" + p +
                           "' (expected constant, step, steps, exp, poly, sigmoid, random or sgdr)");
}

}  // namespace

NetConfig NetConfig::parse(const CfgSection& s) {
  NetConfig c;
  c.batch = s.get_int("batch", 1);
  c.subdivisions = s.get_int("subdivisions", 1);
  c.width = s.get_int("width", 0);
  c.height = s.get_int("height", 0);
  c.channels = s.get_int("channels", 3);
  c.inputs = s.get_int("inputs", c.width * c.height * c.channels);
  if (c.batch < 1) s.fail_key("batch", "must be at least 1");
  if (c.subdivisions < 1) s.fail_key("subdivisions", "must be at least 1");
  if (c.channels < 1) s.fail_key("channels", "must be at least 1");
  if (c.width < 0 || c.height < 0) s.fail_key("width", "width and height must not be negative");

  c.learning_rate = s.get_float("learning_rate", c.learning_rate);
  c.momentum = s.get_float("momentum", c.momentum);
  c.decay = s.get_float("decay", c.decay);
  c.max_batches = s.get_int("max_batches", 0);
  c.burn_in = s.get_int("burn_in", 0);
  c.power = s.get_float("power", c.power);
  c.policy = parse_policy(s);
  c.step = s.get_int("step", 1);
  c.scale = s.get_float("scale", 1.0f);
  c.steps = s.get_ints("steps");
  c.scales = s.get_floats("scales");
  if (c.policy == LearningRatePolicy::steps && c.steps.size() != c.scales.size())
    s.fail_key("scales", "steps and scales must have the same number of entries");
  c.gamma = s.get_float("gamma", 0.0f);
  c.sgdr_cycle = s.get_int("sgdr_cycle", c.max_batches);
  c.sgdr_mult = s.get_float("sgdr_mult", 2.0f);
  c.adam = s.get_bool("adam", false);
  c.adam_b1 = s.get_float("B1", c.adam_b1);
  c.adam_b2 = s.get_float("B2", c.adam_b2);
  c.adam_eps = s.get_float("eps", c.adam_eps);
  c.label_smooth_eps = s.get_float("label_smooth_eps", 0.0f);
  c.ema_alpha = s.get_float("ema_alpha", 0.0f);
  c.loss_scale = s.get_float("loss_scale", 1.0f);
  c.savelast = s.get_int("savelast", 100);
  c.saveweights = s.get_int("saveweights", 1000);

  c.flip = s.get_bool("flip", true);
  c.angle = s.get_float("angle", 0.0f);
  c.aspect = s.get_float("aspect", 1.0f);
  c.saturation = s.get_float("saturation", 1.0f);
  c.exposure = s.get_float("exposure", 1.0f);
  c.hue = s.get_float("hue", 0.0f);
  c.blur = s.get_int("blur", 0);
  c.gaussian_noise = s.get_int("gaussian_noise", 0);
  c.mixup = s.get_int("mixup", 0);
  c.cutmix = s.get_int("cutmix", 0);
  c.mosaic = s.get_int("mosaic", 0);
  c.mosaic_bound = s.get_int("mosaic_bound", 0);
  c.letter_box = s.get_int("letter_box", 0);
  c.min_crop = s.get_int("min_crop", 0);
  c.max_crop = s.get_int("max_crop", 0);
  c.track = s.get_int("track", 0);
  c.resize_step = s.get_int("resize_step", 32);
  c.optimized_memory = s.get_int("optimized_memory", 0);
  c.workspace_size_limit_MB = s.get_float("workspace_size_limit_MB", 1024.0f);
  if (!(c.workspace_size_limit_MB >= 0.0))
    s.fail_key("workspace_size_limit_MB", "must be at least 0 (MB of cuDNN workspace)");
  c.mixed_precision = s.get_bool("mixed_precision", false);  // 0 or 1, else file:line error

  // Keys Darknet reads in [net] that mishnet accepts but does not act on: they tune Darknet's
  // own runtime (CUDA streams, time-steps of recurrent nets, adversarial attacks, ...).
  for (const char* k :
       {"max_chart_loss", "time_steps", "train_time_steps", "sequential_subdivisions",
        "try_fix_nan", "cudnn_half", "adversarial_lr",
        "attention", "contrastive", "unsupervised", "dynamic_minibatch", "rgb", "center",
        "random", "max_crop", "init_sequential_subdivisions", "mini_batch", "clip",
        "num_sigmoid", "show_receptive_field", "equidistant_point", "batches_per_cycle",
        "inputs"})
    s.accept(k);
  return c;
}

}  // namespace mishnet
