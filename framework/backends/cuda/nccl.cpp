// NCCL communicator and collectives (nccl.h), on the device's compute stream.
#include "framework/backends/cuda/nccl.h"

#include <nccl.h>

#include <cstring>

#include "framework/backends/cuda/context.h"

namespace nf::cuda {

namespace {

struct Comm {
  ncclComm_t comm = nullptr;
  Device device = Device::cpu();
};
Comm& comm() {
  static Comm c;
  return c;
}

void check(ncclResult_t r, const char* what) {
  NF_CHECK(r == ncclSuccess, std::string(what) + ": " + ncclGetErrorString(r));
}

ncclDataType_t nccl_type(DType t) {
  switch (t) {
    case DType::F32: return ncclFloat32;
    case DType::F16: return ncclFloat16;
    case DType::BF16: return ncclBfloat16;
    case DType::I64: return ncclInt64;
  }
  throw Error("nccl: unsupported dtype");
}

void check_tensor(const Tensor& t, const char* what) {
  NF_CHECK(comm().comm, std::string(what) + ": the NCCL communicator is not initialized");
  NF_CHECK(t.device() == comm().device, std::string(what) + ": tensor on " + t.device().str() +
                                            ", the communicator is on " + comm().device.str());
  NF_CHECK(t.is_contiguous(), std::string(what) + ": needs a dense tensor, got " + t.str());
}

}  // namespace

int device_count() {
  int n = 0;
  return cudaGetDeviceCount(&n) == cudaSuccess ? n : 0;
}

NcclId nccl_unique_id() {
  ncclUniqueId id;
  check(ncclGetUniqueId(&id), "ncclGetUniqueId");
  NcclId out;
  static_assert(sizeof id == sizeof out);
  std::memcpy(out.data(), &id, sizeof id);
  return out;
}

void nccl_init(const NcclId& id_bytes, int rank, int size, Device device) {
  NF_CHECK(!comm().comm, "nccl_init: called twice");
  ncclUniqueId id;
  std::memcpy(&id, id_bytes.data(), sizeof id);
  Scope scope(device);
  check(ncclCommInitRank(&comm().comm, size, id, rank), "ncclCommInitRank");
  comm().device = device;
}

bool nccl_ready() { return comm().comm != nullptr; }

void nccl_allreduce_sum(Tensor& t) {
  check_tensor(t, "nccl_allreduce_sum");
  NF_CHECK(t.dtype() == DType::F32, "nccl_allreduce_sum: F32 only, got " + t.str());
  Scope scope(t.device());
  check(ncclAllReduce(t.data<float>(), t.data<float>(), t.numel(), ncclFloat32, ncclSum, comm().comm, stream()),
        "ncclAllReduce");
}

void nccl_broadcast(Tensor& t, int root) {
  check_tensor(t, "nccl_broadcast");
  Scope scope(t.device());
  void* p = t.raw_data();
  check(ncclBroadcast(p, p, t.numel(), nccl_type(t.dtype()), root, comm().comm, stream()), "ncclBroadcast");
}

}  // namespace nf::cuda
