// ProcessGroup over MPI (host memory) and NCCL (CUDA tensors); see process_group.h.
#include "framework/distributed/process_group.h"

#include <mpi.h>

#include <cstdlib>
#include <vector>

#include "framework/backends/cuda/nccl.h"

namespace nf::dist {

namespace {

ProcessGroup& the_world() {
  static ProcessGroup g;
  return g;
}

// MPI's state in this process: whether init() joined a job, the communicator of the
// gradient allreduces (a duplicate of MPI_COMM_WORLD) and the requests in flight on it.
struct Mpi {
  bool joined = false;
  MPI_Comm grads = MPI_COMM_NULL;
  std::vector<MPI_Request> pending;
};
Mpi& mpi() {
  static Mpi m;
  return m;
}

void check(int rc, const char* what) {
  if (rc == MPI_SUCCESS) return;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  throw Error(std::string(what) + ": " + std::string(msg, len));
}

// The NCCL communicator on `device`, made on first use (a collective call: every rank
// reaches its first CUDA collective at the same point of the run).
void ensure_nccl(const ProcessGroup& g, Device device) {
  if (cuda::nccl_ready()) return;
  cuda::NcclId id{};
  if (g.is_root()) id = cuda::nccl_unique_id();
  check(MPI_Bcast(id.data(), static_cast<int>(id.size()), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast (NCCL id)");
  cuda::nccl_init(id, g.rank(), g.size(), device);
}

int count_of(int64_t n) {
  NF_CHECK(n >= 0 && n <= INT32_MAX, "collective of " + std::to_string(n) + " elements: too large for one MPI call");
  return static_cast<int>(n);
}

}  // namespace

bool launched_by_mpi() {
  for (const char* var : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(var)) return true;
  return false;
}

void init() {
  if (!launched_by_mpi() || mpi().joined) return;
  int provided = 0;
  // Only the main thread calls MPI (data loader workers never do).
  check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
  mpi().joined = true;
  ProcessGroup& g = the_world();
  MPI_Comm_rank(MPI_COMM_WORLD, &g.rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &g.size_);
  MPI_Comm node;
  check(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g.rank_, MPI_INFO_NULL, &node), "MPI_Comm_split_type");
  MPI_Comm_rank(node, &g.local_rank_);
  MPI_Comm_free(&node);
  check(MPI_Comm_dup(MPI_COMM_WORLD, &mpi().grads), "MPI_Comm_dup");
  // Errors are reported where they happen (nf::Error), not by MPI's default abort.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(mpi().grads, MPI_ERRORS_RETURN);
}

void finalize() {
  if (!mpi().joined) return;
  MPI_Comm_free(&mpi().grads);
  MPI_Finalize();
  mpi().joined = false;
}

const ProcessGroup& world() { return the_world(); }

void ProcessGroup::allgather(const double* send, int64_t n, double* recv) const {
  if (!distributed()) {
    std::copy(send, send + n, recv);
    return;
  }
  check(MPI_Allgather(send, count_of(n), MPI_DOUBLE, recv, count_of(n), MPI_DOUBLE, MPI_COMM_WORLD), "MPI_Allgather");
}

void ProcessGroup::allreduce_sum(double* data, int64_t n) const {
  if (distributed())
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

void ProcessGroup::allreduce_sum(float* data, int64_t n) const {
  if (distributed())
    check(MPI_Allreduce(MPI_IN_PLACE, data, count_of(n), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "MPI_Allreduce");
}

int64_t ProcessGroup::allreduce_max(int64_t v) const {
  if (distributed())
    check(MPI_Allreduce(MPI_IN_PLACE, &v, 1, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD), "MPI_Allreduce (max)");
  return v;
}

std::string ProcessGroup::broadcast(const std::string& s) const {
  if (!distributed()) return s;
  int64_t len = static_cast<int64_t>(s.size());
  check(MPI_Bcast(&len, 1, MPI_INT64_T, 0, MPI_COMM_WORLD), "MPI_Bcast");
  std::string out = is_root() ? s : std::string(static_cast<size_t>(len), '\0');
  check(MPI_Bcast(out.data(), count_of(len), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
  return out;
}

void ProcessGroup::broadcast(Tensor& t) const {
  if (!distributed()) return;
  NF_CHECK(t.is_contiguous(), "broadcast: needs a dense tensor, got " + t.str());
  switch (t.device().type) {
    case DeviceType::CPU: {
      const int64_t bytes = t.numel() * static_cast<int64_t>(dtype_size(t.dtype()));
      check(MPI_Bcast(t.raw_data(), count_of(bytes), MPI_BYTE, 0, MPI_COMM_WORLD), "MPI_Bcast");
      break;
    }
    case DeviceType::CUDA:
      ensure_nccl(*this, t.device());
      cuda::nccl_broadcast(t, 0);
      break;
  }
}

void ProcessGroup::allreduce_async(Tensor& t) const {
  if (!distributed()) return;
  NF_CHECK(t.is_contiguous() && t.dtype() == DType::F32, "allreduce: needs a dense F32 tensor, got " + t.str());
  switch (t.device().type) {
    case DeviceType::CPU: {
      MPI_Request req;
      check(MPI_Iallreduce(MPI_IN_PLACE, t.data<float>(), count_of(t.numel()), MPI_FLOAT, MPI_SUM, mpi().grads, &req),
            "MPI_Iallreduce");
      mpi().pending.push_back(req);
      break;
    }
    case DeviceType::CUDA:
      ensure_nccl(*this, t.device());
      cuda::nccl_allreduce_sum(t);  // stream-ordered: nothing to wait for on the host
      break;
  }
}

void ProcessGroup::progress() const {
  std::vector<MPI_Request>& p = mpi().pending;
  if (p.empty()) return;
  int done = 0;
  check(MPI_Testall(static_cast<int>(p.size()), p.data(), &done, MPI_STATUSES_IGNORE), "MPI_Testall");
  if (done) p.clear();
}

void ProcessGroup::wait_all() const {
  std::vector<MPI_Request>& p = mpi().pending;
  if (p.empty()) return;
  check(MPI_Waitall(static_cast<int>(p.size()), p.data(), MPI_STATUSES_IGNORE), "MPI_Waitall");
  p.clear();
}

void ProcessGroup::abort(int code) const {
  if (mpi().joined) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace nf::dist
