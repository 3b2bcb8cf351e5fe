// Device memory for Storage (the hooks declared in framework/core/storage.h).
// A caching allocator, as PyTorch's: freed blocks are kept in per-device free lists
// keyed by their rounded size and handed out again, so a steady-state training step
// makes no cudaMalloc/cudaFree. Sizes round up to 512 B (small) or 2 MiB (from 1 MiB
// on), so the same tensor shapes map to the same blocks. Reuse is safe without events
// because every kernel and copy runs on the device's one stream (stream order).
// When cudaMalloc fails, the cache is released and the allocation tried once more.
// Copies run on that stream too. Host->device: the host bytes go into the next of a
// ring of pinned staging buffers (after waiting on that slot's event, i.e. for its
// previous copy), then cudaMemcpyAsync from there; the call returns at once and the
// copy overlaps the GPU's queued work (the next batch uploads during this step).
// Device->host: cudaMemcpyAsync, then a wait for the stream, so the host sees
// finished values.
#include <array>
#include <cstring>
#include <map>
#include <mutex>
#include <vector>

#include "framework/backends/cuda/context.h"
#include "framework/core/error.h"
#include "framework/core/storage.h"

namespace nf {

namespace {

struct Cache {
  std::mutex mu;
  std::map<std::pair<int, size_t>, std::vector<void*>> free;  // (device, rounded size) -> blocks
  size_t cached_bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed (no CUDA calls at exit)
  return *c;
}

// The block size for a request of n bytes (cuda_alloc and cuda_free both derive it).
size_t round_size(size_t n) {
  constexpr size_t kSmall = 512, kLarge = size_t{2} << 20;
  if (n == 0) n = 1;
  if (n < (size_t{1} << 20)) return (n + kSmall - 1) / kSmall * kSmall;
  return (n + kLarge - 1) / kLarge * kLarge;
}

void release_locked(Cache& c) {
  for (auto& [key, blocks] : c.free) {
    cuda::Scope s(Device::cuda(key.first));
    for (void* p : blocks) cudaFree(p);
  }
  c.free.clear();
  c.cached_bytes = 0;
}

}  // namespace

bool cuda_available() {
  static const bool available = [] {
    int n = 0;
    return cudaGetDeviceCount(&n) == cudaSuccess && n > 0;
  }();
  return available;
}

void* cuda_alloc(size_t nbytes, int device) {
  NF_CHECK(cuda_available(), "no CUDA GPU was found on this machine");
  const size_t size = round_size(nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  auto it = c.free.find({device, size});
  void* p = nullptr;
  if (it != c.free.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    c.cached_bytes -= size;
  } else {
    cuda::Scope s(Device::cuda(device));
    if (cudaMalloc(&p, size) != cudaSuccess) {
      cudaGetLastError();  // clear the sticky-free error state of a failed allocation
      cuda::synchronize();
      release_locked(c);
      cuda::check(cudaMalloc(&p, size), ("cudaMalloc of " + std::to_string(size) + " bytes").c_str());
    }
  }
  return p;
}

void cuda_free(void* p, size_t nbytes, int device) {
  if (!p) return;
  const size_t size = round_size(nbytes);
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  c.free[{device, size}].push_back(p);
  c.cached_bytes += size;
}

size_t cuda_cached_bytes() {
  std::lock_guard<std::mutex> lock(cache().mu);
  return cache().cached_bytes;
}

namespace {

struct StagingSlot {
  void* host = nullptr;  // pinned
  size_t bytes = 0;
  cudaEvent_t done = nullptr;  // recorded after the copy out of this slot
};

struct StagingRing {
  std::mutex mu;
  std::map<int, std::array<StagingSlot, 4>> slots;  // per device
  std::map<int, size_t> next;
};

StagingRing& staging() {
  static StagingRing* r = new StagingRing;  // never destroyed (no CUDA calls at exit)
  return *r;
}

void upload(void* dst, const void* src, size_t n, int device) {
  StagingRing& ring = staging();
  std::lock_guard<std::mutex> lock(ring.mu);
  StagingSlot& slot = ring.slots[device][ring.next[device]++ % 4];
  if (slot.done) cuda::check(cudaEventSynchronize(slot.done), "cudaEventSynchronize");
  else cuda::check(cudaEventCreateWithFlags(&slot.done, cudaEventDisableTiming), "cudaEventCreate");
  if (slot.bytes < n) {
    if (slot.host) cuda::check(cudaFreeHost(slot.host), "cudaFreeHost");
    slot.host = nullptr;
    slot.bytes = 0;
    cuda::check(cudaHostAlloc(&slot.host, n, cudaHostAllocDefault), "cudaHostAlloc");
    slot.bytes = n;
  }
  std::memcpy(slot.host, src, n);
  cuda::check(cudaMemcpyAsync(dst, slot.host, n, cudaMemcpyHostToDevice, cuda::stream()), "cudaMemcpyAsync");
  cuda::check(cudaEventRecord(slot.done, cuda::stream()), "cudaEventRecord");
}

}  // namespace

void cuda_copy(void* dst, const void* src, size_t n, bool to_device, bool from_device, int device) {
  cuda::Scope scope(Device::cuda(device));
  if (to_device && !from_device) return upload(dst, src, n, device);
  const cudaMemcpyKind kind = to_device ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost;
  cuda::check(cudaMemcpyAsync(dst, src, n, kind, cuda::stream()), "cudaMemcpyAsync");
  if (!to_device) cuda::synchronize();
}

void cuda_synchronize(int device) {
  cuda::Scope scope(Device::cuda(device));
  cuda::synchronize();
}

void* cuda_host_alloc(size_t nbytes) {
  void* p = nullptr;
  cuda::check(cudaHostAlloc(&p, nbytes == 0 ? 1 : nbytes, cudaHostAllocDefault), "cudaHostAlloc");
  return p;
}

void cuda_host_free(void* p) {
  if (p) cudaFreeHost(p);
}

}  // namespace nf
