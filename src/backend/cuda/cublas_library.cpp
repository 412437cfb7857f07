#include "backend/cuda/cublas_library.h"

#include <dlfcn.h>

#include <mutex>
#include <string>

#include "mishnet/error.h"

#ifndef MISHNET_CUBLAS_LIBRARY
#error "MISHNET_CUBLAS_LIBRARY (the cuBLAS soname) is set by CMakeLists.txt"
#endif

namespace mishnet::cuda::blas {

namespace {

struct Library {
  void* handle = nullptr;
  std::string error;  // why it did not load
  decltype(&cublasCreate_v2) create = nullptr;
  decltype(&cublasDestroy_v2) destroy = nullptr;
  decltype(&cublasSetStream_v2) set_stream = nullptr;
  decltype(&cublasSetMathMode) set_math_mode = nullptr;
  decltype(&cublasSgemm_v2) sgemm = nullptr;
  decltype(&cublasGetProperty) get_property = nullptr;
  decltype(&cublasGetStatusName) status_name = nullptr;
  decltype(&cublasGetStatusString) status_string = nullptr;
};

template <typename F>
bool bind(Library& lib, F& fn, const char* name) {
  fn = reinterpret_cast<F>(dlsym(lib.handle, name));
  if (!fn) lib.error = std::string(MISHNET_CUBLAS_LIBRARY) + " has no " + name;
  return fn != nullptr;
}

std::once_flag once;
Library lib;

// The library, or nullptr with lib.error set.
const Library* try_load() {
  std::call_once(once, [] {
    lib.handle = dlopen(MISHNET_CUBLAS_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (!lib.handle) {
      const char* e = dlerror();
      lib.error = std::string("cannot load ") + MISHNET_CUBLAS_LIBRARY + ": " + (e ? e : "?");
      return;
    }
    const bool ok = bind(lib, lib.create, "cublasCreate_v2") &&
                    bind(lib, lib.destroy, "cublasDestroy_v2") &&
                    bind(lib, lib.set_stream, "cublasSetStream_v2") &&
                    bind(lib, lib.set_math_mode, "cublasSetMathMode") &&
                    bind(lib, lib.sgemm, "cublasSgemm_v2") &&
                    bind(lib, lib.get_property, "cublasGetProperty") &&
                    bind(lib, lib.status_name, "cublasGetStatusName") &&
                    bind(lib, lib.status_string, "cublasGetStatusString");
    if (!ok) {
      dlclose(lib.handle);
      lib.handle = nullptr;
    }
  });
  return lib.handle ? &lib : nullptr;
}

const Library& load() {
  const Library* l = try_load();
  if (!l) fail("cuBLAS: ", lib.error);
  return *l;
}

}  // namespace

cublasStatus_t create(cublasHandle_t* handle) { return load().create(handle); }
cublasStatus_t destroy(cublasHandle_t handle) { return load().destroy(handle); }
cublasStatus_t set_stream(cublasHandle_t handle, cudaStream_t stream) {
  return load().set_stream(handle, stream);
}
cublasStatus_t set_math_mode(cublasHandle_t handle, cublasMath_t mode) {
  return load().set_math_mode(handle, mode);
}
cublasStatus_t sgemm(cublasHandle_t handle, cublasOperation_t transa, cublasOperation_t transb,
                     int m, int n, int k, const float* alpha, const float* a, int lda,
                     const float* b, int ldb, const float* beta, float* c, int ldc) {
  return load().sgemm(handle, transa, transb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
cublasStatus_t get_property(libraryPropertyType type, int* value) {
  return load().get_property(type, value);
}

const char* status_name(cublasStatus_t status) {
  if (const Library* l = try_load()) return l->status_name(status);
  thread_local std::string text;
  text = "cuBLAS status " + std::to_string(int(status));
  return text.c_str();
}
const char* status_string(cublasStatus_t status) {
  if (const Library* l = try_load()) return l->status_string(status);
  return status_name(status);
}

bool loaded() { return lib.handle != nullptr; }

}  // namespace mishnet::cuda::blas
