// Fully connected op (Darknet's [connected]): one plain reference implementation and optimised
// ones behind InnerProductOp, as for conv2d.
#pragma once
#include <memory>

#include "mishnet/layer.h"

namespace mishnet::ops {

struct InnerProductDesc {
  int batch = 1;
  int inputs = 0;   // floats per image in
  int outputs = 0;  // floats per image out

  size_t weights_count() const { return size_t(outputs) * size_t(inputs); }
};

// Weights are Darknet's layout: [outputs][inputs] (row o holds the weights of output o);
// src is batch x inputs, dst batch x outputs.
class InnerProductOp {
 public:
  virtual ~InnerProductOp() = default;
  // Called whenever the weights or bias change (once for inference); may reorder them.
  virtual void set_weights(const float* weights, const float* bias) = 0;
  virtual void forward(const float* src, float* dst) = 0;
  virtual const char* impl_name() const = 0;
};

// dst = src * weights^T + bias. bias may be null.
void inner_product_reference(const InnerProductDesc& d, const float* src, const float* weights,
                             const float* bias, float* dst);

// The fastest implementation the backend has, falling back to the reference.
std::unique_ptr<InnerProductOp> make_inner_product(const InnerProductDesc& d, BackendKind backend);
std::unique_ptr<InnerProductOp> make_inner_product_reference(const InnerProductDesc& d);

}  // namespace mishnet::ops

namespace mishnet::ops {

// Training (ADD semantics): dsrc += ddst x W, dweights += ddst^T x src. Weights [outputs][inputs].
void inner_product_backward_data_reference(const InnerProductDesc& d, const float* ddst,
                                           const float* weights, float* dsrc);
void inner_product_backward_weights_reference(const InnerProductDesc& d, const float* src,
                                              const float* ddst, float* dweights);

}  // namespace mishnet::ops
