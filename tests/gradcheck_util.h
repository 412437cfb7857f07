// Finite-difference gradient checks of whole small networks, for layer tests.
//
// A network under check reads
//     [net] ... / [test_input] / <layers under test> / [test_dot_loss]
// (kGradcheckInput, kGradcheckLoss). [test_input] passes the network input through, so
// Network::delta(0) is dL/d(network input). [test_dot_loss] passes its input y through and is
// the loss L = sum_i r_i * y_i, with r given as the ground truth (one float per element of y
// per image): its dL/dy is r, which Network::forward_backward propagates backwards.
//
// gradcheck() runs forward_backward once for the analytic gradients (delta(0) and every
// trainable Param::grad), then compares them with central differences of L computed in double
// from the output, every forward starting from the same rng seed (dropout masks repeat).
// Piecewise-linear layers (max, ReLU) are exact between kinks: give them inputs whose values
// are further apart than the step (separated_values) so no difference crosses a kink.
#pragma once
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "mishnet/network.h"

namespace mishnet::test {

inline constexpr const char* kGradcheckInput = "[test_input]\n";
inline constexpr const char* kGradcheckLoss = "[test_dot_loss]\n";

// Builds a network from cfg text (strict parsing) with the given batch.
Network network_from_text(const std::string& cfg_text, int batch = 1);

// n uniform values in [lo, hi).
std::vector<float> random_values(size_t n, std::mt19937_64& rng, float lo = -1.0f, float hi = 1.0f);
// n distinct values at least `gap` apart, centred on 0, in random order.
std::vector<float> separated_values(size_t n, std::mt19937_64& rng, float gap = 0.05f);

// A copy of a tensor's data.
std::vector<float> to_vector(const Tensor& t);

// Runs an inference forward pass on `input` and returns a copy of layer `layer`'s output.
std::vector<float> forward_output(Network& net, const std::vector<float>& input, int layer);

// L = sum_i r_i * y_i in double, y the output of the last layer after the latest forward.
double dot_loss(const Network& net, const std::vector<float>& r);

struct GradcheckOptions {
  double step = 1e-2;     // central-difference step
  double abs_tol = 1e-3;  // pass when |analytic - numeric| <= abs_tol + rel_tol * max(|.|)
  double rel_tol = 1e-2;
  size_t max_entries = 512;  // per tensor (input, each Param): a random subset beyond this
  uint64_t seed = 1;         // rng seed of every forward, and of the subset choice
  bool check_input = true;
  bool check_params = true;
};

struct GradcheckMismatch {
  std::string what;  // "input[12]" or "layer 3 weights[1]"
  double analytic = 0, numeric = 0;
};

struct GradcheckResult {
  size_t checked = 0;        // entries compared
  double max_abs_error = 0;  // over all of them
  std::vector<GradcheckMismatch> mismatches;
  std::string describe(size_t max_lines = 10) const;
};

// Puts `net` in training mode and checks it (see the top of this file). `input` holds
// batch x network input floats, `r` batch x (per-image size of the loss layer's input).
// Parameters are restored afterwards; Param::grad holds the analytic gradients.
GradcheckResult gradcheck(Network& net, const std::vector<float>& input,
                          const std::vector<float>& r, const GradcheckOptions& options = {});

// gradcheck() with gtest failures: no mismatch, and at least one entry compared.
void expect_gradients_match(Network& net, const std::vector<float>& input,
                            const std::vector<float>& r, const GradcheckOptions& options = {});

}  // namespace mishnet::test
