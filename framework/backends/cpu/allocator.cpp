#include "framework/backends/cpu/allocator.h"

#include <cstdlib>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

namespace nf {

namespace {

constexpr size_t kAlign = 64;
constexpr size_t kPage = 4096;
constexpr size_t kCacheMin = size_t{1} << 16;        // 64 KiB
constexpr size_t kCacheMaxBytes = size_t{1} << 30;   // 1 GiB of free blocks at most

size_t block_size(size_t nbytes) {
  if (nbytes < kCacheMin) return nbytes == 0 ? kAlign : (nbytes + kAlign - 1) / kAlign * kAlign;
  return (nbytes + kPage - 1) / kPage * kPage;
}

struct Cache {
  std::mutex mu;
  std::unordered_map<size_t, std::vector<void*>> free_blocks;  // size -> blocks
  size_t bytes = 0;
};

Cache& cache() {
  static Cache* c = new Cache;  // never destroyed: Storage may be freed during exit
  return *c;
}

}  // namespace

void* cpu_alloc(size_t nbytes) {
  const size_t size = block_size(nbytes);
  if (size >= kCacheMin) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    auto it = c.free_blocks.find(size);
    if (it != c.free_blocks.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      c.bytes -= size;
      return p;
    }
  }
  void* p = std::aligned_alloc(size >= kCacheMin ? kPage : kAlign, size);
  if (!p) throw std::bad_alloc();
  return p;
}

void cpu_free(void* p, size_t nbytes) {
  if (!p) return;
  const size_t size = block_size(nbytes);
  if (size >= kCacheMin) {
    Cache& c = cache();
    std::lock_guard<std::mutex> lock(c.mu);
    if (c.bytes + size <= kCacheMaxBytes) {
      c.free_blocks[size].push_back(p);
      c.bytes += size;
      return;
    }
  }
  std::free(p);
}

size_t cpu_cached_bytes() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.bytes;
}

void cpu_release_cache() {
  Cache& c = cache();
  std::lock_guard<std::mutex> lock(c.mu);
  for (auto& [size, blocks] : c.free_blocks)
    for (void* p : blocks) std::free(p);
  c.free_blocks.clear();
  c.bytes = 0;
}

}  // namespace nf
