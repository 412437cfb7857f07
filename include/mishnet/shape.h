// Shape of a batch of feature maps, always NCHW in the network's own tensors.
#pragma once
#include <cstddef>
#include <ostream>

namespace mishnet {

struct Shape {
  int n = 1;  // batch
  int c = 0;  // channels
  int h = 0;  // height
  int w = 0;  // width

  size_t per_image() const { return size_t(c) * size_t(h) * size_t(w); }
  size_t size() const { return size_t(n) * per_image(); }
  bool operator==(const Shape&) const = default;
};

inline std::ostream& operator<<(std::ostream& os, const Shape& s) {
  return os << s.w << 'x' << s.h << 'x' << s.c;
}

// A non-owning view of float data with a shape; the network's arena owns the memory.
struct Tensor {
  float* data = nullptr;
  Shape shape;
  size_t size() const { return shape.size(); }
  float* image(int b) const { return data + size_t(b) * shape.per_image(); }
};

}  // namespace mishnet
