// NumPy .npy files (format version 1.0) of little-endian float32, C order: how layer outputs
// leave mishnet for comparison with other frameworks (numpy.load reads them directly).
#pragma once
#include <cstddef>
#include <string>
#include <vector>

namespace mishnet {

struct NpyArray {
  std::vector<size_t> shape;
  std::vector<float> data;
};

// Writes `data` (product of `shape` floats) to `path`. Throws naming the file on failure.
void save_npy(const std::string& path, const float* data, const std::vector<size_t>& shape);
// Reads a float32 little-endian C-order .npy (format 1.0 or 2.0). Throws naming the file for
// anything else (other dtypes, Fortran order, truncated data).
NpyArray load_npy(const std::string& path);

}  // namespace mishnet
