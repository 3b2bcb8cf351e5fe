// The CPU allocator behind Storage: cpu_alloc/cpu_free (declared in
// framework/core/storage.h, defined in allocator.cpp) hand out 64-byte aligned
// blocks, with a cache of freed large blocks keyed by their exact (page-rounded)
// size. A training step allocates the same sizes in the same order every time, so
// from the second step on every large tensor reuses a block: no page faults, no
// zeroing by the kernel, no brk/munmap churn (which was ~20% of a ResNet-20 step
// before this cache).
// Small blocks (< kCacheMin) go straight to malloc, which already recycles them.
// The cache is bounded (kCacheMaxBytes); beyond it freed blocks go back to the OS.
// Thread-safe: data-loader workers allocate too.
#pragma once
#include <cstddef>

#include "framework/core/storage.h"

namespace nf {

// Bytes held in the cache (free, ready for reuse); tests and benchmarks read it.
size_t cpu_cached_bytes();
// Returns every cached block to the OS.
void cpu_release_cache();

}  // namespace nf
