// The processes of a data-parallel run: this process's rank, the world size, and the
// collectives the trainer, the gradient reducer (grad_reducer.h) and SyncBatchNorm use.
// A process started by an MPI launcher (mpirun, srun: detected from the launcher's
// environment, see init()) joins the job; any other process is a group of one, where
// every collective is the identity and MPI is never initialized.
// Host memory moves over MPI (Debian's OpenMPI); CUDA tensors over NCCL, whose
// communicator is made on the first CUDA collective from an id rank 0 broadcasts over
// MPI. Every rank calls the same collectives in the same order (MPI's rule). Gradient
// allreduces run on a communicator of their own, so they can be in flight while the
// blocking collectives (SyncBatchNorm's statistics) run.
// Results that every rank must agree on bit for bit are combined in rank order on
// every rank (allgather, then a sum in order) or have one contributor per element.
#pragma once
#include <cstdint>
#include <string>

#include "framework/core/tensor.h"
#include "framework/ops/collective.h"

namespace nf::dist {

// Implements ops::Collective, which SyncBatchNorm takes (ops do not include this layer).
class ProcessGroup : public ops::Collective {
 public:
  int rank() const { return rank_; }
  int size() const override { return size_; }
  int local_rank() const { return local_rank_; }  // among the ranks on this machine
  bool is_root() const { return rank_ == 0; }
  bool distributed() const { return size_ > 1; }

  // Host collectives (blocking).
  // recv[r * n + i] = rank r's send[i].
  void allgather(const double* send, int64_t n, double* recv) const override;
  // Element-wise sums in place; exact where each element has one non-zero contributor.
  void allreduce_sum(double* data, int64_t n) const;
  void allreduce_sum(float* data, int64_t n) const;
  int64_t allreduce_max(int64_t v) const;
  std::string broadcast(const std::string& s) const;  // rank 0's string
  // Rank 0's values into t on every rank, in place (dense; CPU over MPI, CUDA over NCCL).
  void broadcast(Tensor& t) const;

  // Gradient allreduce (grad_reducer.h): start summing dense F32 t in place across ranks
  // (CPU: MPI_Iallreduce; CUDA: NCCL on the compute stream, ordered with later ops).
  // t must stay alive and untouched until wait_all().
  void allreduce_async(Tensor& t) const;
  void progress() const;  // lets MPI advance the allreduces in flight (no wait)
  void wait_all() const;  // until every started allreduce is done

  // Ends the whole job (every rank) with exit code `code`: MPI_Abort.
  [[noreturn]] void abort(int code) const;

 private:
  friend void init();
  friend void finalize();
  int rank_ = 0, size_ = 1, local_rank_ = 0;
};

// The run's group; a group of one until init() has joined an MPI job.
const ProcessGroup& world();

// Joins the MPI job when this process was started by an MPI launcher: OpenMPI's mpirun
// (OMPI_COMM_WORLD_SIZE), a PMIx launcher such as srun --mpi=pmix (PMIX_RANK), or a PMI
// one (PMI_RANK). Otherwise does nothing. Call once, first thing in main().
void init();
// MPI_Finalize when init() joined a job (normal exit).
void finalize();
// True when the environment says an MPI launcher started this process.
bool launched_by_mpi();

}  // namespace nf::dist
