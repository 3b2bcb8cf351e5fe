// The CPU allocator behind Storage: 64-byte aligned blocks, with a cache of freed
// large blocks keyed by their exact (page-rounded) size. A training step allocates
// the same sizes in the same order every time, so from the second step on every
// large tensor reuses a block: no page faults, no zeroing by the kernel, no
// brk/munmap churn (which was ~20% of a ResNet-20 step before this cache).
// Small blocks (< kCacheMin) go straight to malloc, which already recycles them.
// The cache is bounded (kCacheMaxBytes); beyond it freed blocks go back to the OS.
// Thread-safe: data-loader workers allocate too.
#pragma once
#include <cstddef>

namespace nf {

void* cpu_alloc(size_t nbytes);
void cpu_free(void* p, size_t nbytes);  // nbytes: what cpu_alloc was asked for

// Bytes held in the cache (free, ready for reuse); tests and benchmarks read it.
size_t cpu_cached_bytes();
// Returns every cached block to the OS.
void cpu_release_cache();

}  // namespace nf
