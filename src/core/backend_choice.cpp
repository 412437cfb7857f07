#include "core/backend_choice.h"

#include "mishnet/error.h"

#if defined(MISHNET_HAVE_CUDA)
#include "backend/cuda/device.h"
#endif

namespace mishnet {

BackendChoice choose_backend(const DeviceRequest& request, const DeviceSituation& machine) {
  if (request.gpu && request.cpu)
    fail("-gpu ", *request.gpu, " and -cpu contradict each other: give one of them");
  if (request.gpu && request.reference)
    fail("--reference runs the reference ops on the CPU: it cannot be combined with -gpu ",
         *request.gpu);
  if (request.gpu && *request.gpu < 0)
    fail("-gpu ", *request.gpu, ": a GPU index is 0 or more (-cpu runs on the CPU)");
  BackendChoice c;
  if (request.reference) {
    c.backend = BackendKind::reference;
    return c;
  }
  if (request.cpu) return c;
  if (!machine.cuda_built) {
    if (request.gpu)
      fail("-gpu ", *request.gpu, ": mishnet was built without CUDA (configure with "
           "-DMISHNET_CUDA=ON and a CUDA toolkit); it runs on the CPU only");
    return c;
  }
  if (machine.devices.empty()) {
    if (request.gpu)
      fail("-gpu ", *request.gpu, ": this CUDA build sees no device (", machine.no_device_reason,
           "); leave -gpu out or give -cpu to run on the CPU");
    c.message = "CUDA build, no device (" + machine.no_device_reason + "): running on the CPU";
    return c;
  }
  const int gpu = request.gpu.value_or(0);
  if (size_t(gpu) >= machine.devices.size()) {
    std::string have;
    for (size_t i = 0; i < machine.devices.size(); ++i)
      have += (i ? ", GPU " : "GPU ") + std::to_string(i) + " (" + machine.devices[i] + ")";
    fail("-gpu ", gpu, ": no such CUDA device; this machine has ", have);
  }
  c.backend = BackendKind::cuda;
  c.device = gpu;
  c.message = "running on GPU " + std::to_string(gpu) + " (" + machine.devices[size_t(gpu)] + ")";
  return c;
}

DeviceSituation current_device_situation() {
  DeviceSituation s;
#if defined(MISHNET_HAVE_CUDA)
  s.cuda_built = true;
  const cuda::DeviceQuery q = cuda::query_devices();
  for (const cuda::DeviceInfo& d : q.devices) s.devices.push_back(d.name);
  s.no_device_reason = q.no_device_reason;
#endif
  return s;
}

}  // namespace mishnet
