// NCCL collectives on CUDA tensors, for framework/dist (GPU data parallelism). One
// communicator per process, on the process's device, made from a unique id that rank 0
// creates and the process group broadcasts over MPI. Collectives are enqueued on the
// device's compute stream (context.h), so they are ordered with the ops before and after
// them: nothing waits on the host. Pure C++ header; unavailable.cpp stubs it (throws)
// in a build without CUDA.
#pragma once
#include <array>

#include "framework/core/tensor.h"

namespace nf::cuda {

using NcclId = std::array<char, 128>;  // ncclUniqueId's bytes

int device_count();  // CUDA devices this process sees (0 without a driver)

NcclId nccl_unique_id();  // on rank 0 only
// Joins the communicator of `size` ranks on `device` (collective: every rank calls it).
void nccl_init(const NcclId& id, int rank, int size, Device device);
bool nccl_ready();
// Sum in place across ranks: a dense F32 tensor on the communicator's device.
void nccl_allreduce_sum(Tensor& t);
// `root`'s bytes into every rank's t (dense, any dtype), in place.
void nccl_broadcast(Tensor& t, int root);

}  // namespace nf::cuda
