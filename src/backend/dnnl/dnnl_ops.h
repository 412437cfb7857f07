// oneDNN implementations of ops (the CPU backend). Each factory returns nullptr when oneDNN
// cannot run that description, and the caller falls back to the reference.
#pragma once
#include <memory>

#include "ops/conv2d.h"

namespace mishnet::dnnl_backend {

std::unique_ptr<ops::Conv2dOp> make_conv2d(const ops::Conv2dDesc& d);

}  // namespace mishnet::dnnl_backend
