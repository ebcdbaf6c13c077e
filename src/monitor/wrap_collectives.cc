// Collectives, blocking and nonblocking: timed and counted. Their bytes are this rank's own
// contribution (what it sends into the operation), kept apart from point-to-point bytes so that
// message counts stay exact for the drain. Nonblocking ones are tracked in the request table
// until completed, like every nonblocking operation.
#include "monitor/wrap.h"

using ferry::monitor::Fn;
using namespace ferry::monitor::detail;

namespace {

int comm_size(MPI_Comm comm) noexcept {
  const ferry::monitor::CommInfo* c = g_comms.find(comm);
  return c ? c->size : 0;
}

int rank_in(MPI_Comm comm) noexcept {
  int r = -1;
  PMPI_Comm_rank(comm, &r);
  return r;
}

std::uint64_t sum_bytes(const int counts[], MPI_Datatype type, MPI_Comm comm) noexcept {
  if (counts == nullptr) return 0;
  std::uint64_t n = 0;
  const int size = comm_size(comm);
  for (int i = 0; i < size; ++i) n += payload_bytes(counts[i], type);
  return n;
}

std::uint64_t sum_bytes_w(const int counts[], const MPI_Datatype types[], MPI_Comm comm) noexcept {
  if (counts == nullptr || types == nullptr) return 0;
  std::uint64_t n = 0;
  const int size = comm_size(comm);
  for (int i = 0; i < size; ++i) n += payload_bytes(counts[i], types[i]);
  return n;
}

void count_collective_bytes(std::uint64_t bytes) noexcept { g_counters.collective_bytes.add(bytes); }

}  // namespace

// One wrapper: pass through when inactive, else time the call and count the bytes it sends.
#define FERRY_COLLECTIVE(NAME, PARAMS, ARGS, BYTES)          \
  int MPI_##NAME PARAMS {                                    \
    if (!g_active) return PMPI_##NAME ARGS;                  \
    Timed t(Fn::NAME);                                       \
    const int rc = PMPI_##NAME ARGS;                         \
    if (rc == MPI_SUCCESS) count_collective_bytes(BYTES);    \
    return rc;                                               \
  }

// The nonblocking twin also tracks its request until it completes: a checkpoint must not be
// taken while a collective is in flight.
#define FERRY_NONBLOCKING_COLLECTIVE(NAME, PARAMS, ARGS, BYTES)                 \
  int MPI_##NAME PARAMS {                                                     \
    if (!g_active) return PMPI_##NAME ARGS;                                   \
    Timed t(Fn::NAME);                                                        \
    const int rc = PMPI_##NAME ARGS;                                          \
    if (rc == MPI_SUCCESS) {                                                  \
      count_collective_bytes(BYTES);                                          \
      if (request != nullptr) g_requests.insert(*request, not_a_receive());   \
    }                                                                         \
    return rc;                                                                \
  }

#define FERRY_BLOCKING_AND_NONBLOCKING(NAME, INAME, PARAMS, ARGS, BYTES)                              \
  FERRY_COLLECTIVE(NAME, (FERRY_UNPAREN PARAMS), (FERRY_UNPAREN ARGS), BYTES)                         \
  FERRY_NONBLOCKING_COLLECTIVE(INAME, (FERRY_UNPAREN PARAMS, MPI_Request* request),                   \
                               (FERRY_UNPAREN ARGS, request), BYTES)
#define FERRY_UNPAREN(...) __VA_ARGS__

extern "C" {

FERRY_BLOCKING_AND_NONBLOCKING(Barrier, Ibarrier, (MPI_Comm comm), (comm), 0)
FERRY_BLOCKING_AND_NONBLOCKING(Bcast, Ibcast, (void* buf, int count, MPI_Datatype type, int root, MPI_Comm comm),
                               (buf, count, type, root, comm),
                               rank_in(comm) == root ? payload_bytes(count, type) : 0)
FERRY_BLOCKING_AND_NONBLOCKING(Gather, Igather,
                               (const void* sbuf, int scount, MPI_Datatype stype, void* rbuf, int rcount,
                                MPI_Datatype rtype, int root, MPI_Comm comm),
                               (sbuf, scount, stype, rbuf, rcount, rtype, root, comm), payload_bytes(scount, stype))
FERRY_BLOCKING_AND_NONBLOCKING(Gatherv, Igatherv,
                               (const void* sbuf, int scount, MPI_Datatype stype, void* rbuf, const int rcounts[],
                                const int displs[], MPI_Datatype rtype, int root, MPI_Comm comm),
                               (sbuf, scount, stype, rbuf, rcounts, displs, rtype, root, comm),
                               payload_bytes(scount, stype))
FERRY_BLOCKING_AND_NONBLOCKING(Scatter, Iscatter,
                               (const void* sbuf, int scount, MPI_Datatype stype, void* rbuf, int rcount,
                                MPI_Datatype rtype, int root, MPI_Comm comm),
                               (sbuf, scount, stype, rbuf, rcount, rtype, root, comm),
                               rank_in(comm) == root ? payload_bytes(scount, stype) * comm_size(comm) : 0)
FERRY_BLOCKING_AND_NONBLOCKING(Scatterv, Iscatterv,
                               (const void* sbuf, const int scounts[], const int displs[], MPI_Datatype stype,
                                void* rbuf, int rcount, MPI_Datatype rtype, int root, MPI_Comm comm),
                               (sbuf, scounts, displs, stype, rbuf, rcount, rtype, root, comm),
                               rank_in(comm) == root ? sum_bytes(scounts, stype, comm) : 0)
FERRY_BLOCKING_AND_NONBLOCKING(Allgather, Iallgather,
                               (const void* sbuf, int scount, MPI_Datatype stype, void* rbuf, int rcount,
                                MPI_Datatype rtype, MPI_Comm comm),
                               (sbuf, scount, stype, rbuf, rcount, rtype, comm), payload_bytes(scount, stype))
FERRY_BLOCKING_AND_NONBLOCKING(Allgatherv, Iallgatherv,
                               (const void* sbuf, int scount, MPI_Datatype stype, void* rbuf, const int rcounts[],
                                const int displs[], MPI_Datatype rtype, MPI_Comm comm),
                               (sbuf, scount, stype, rbuf, rcounts, displs, rtype, comm),
                               payload_bytes(scount, stype))
FERRY_BLOCKING_AND_NONBLOCKING(Alltoall, Ialltoall,
                               (const void* sbuf, int scount, MPI_Datatype stype, void* rbuf, int rcount,
                                MPI_Datatype rtype, MPI_Comm comm),
                               (sbuf, scount, stype, rbuf, rcount, rtype, comm),
                               payload_bytes(scount, stype) * comm_size(comm))
FERRY_BLOCKING_AND_NONBLOCKING(Alltoallv, Ialltoallv,
                               (const void* sbuf, const int scounts[], const int sdispls[], MPI_Datatype stype,
                                void* rbuf, const int rcounts[], const int rdispls[], MPI_Datatype rtype,
                                MPI_Comm comm),
                               (sbuf, scounts, sdispls, stype, rbuf, rcounts, rdispls, rtype, comm),
                               sum_bytes(scounts, stype, comm))
FERRY_BLOCKING_AND_NONBLOCKING(Alltoallw, Ialltoallw,
                               (const void* sbuf, const int scounts[], const int sdispls[],
                                const MPI_Datatype stypes[], void* rbuf, const int rcounts[], const int rdispls[],
                                const MPI_Datatype rtypes[], MPI_Comm comm),
                               (sbuf, scounts, sdispls, stypes, rbuf, rcounts, rdispls, rtypes, comm),
                               sum_bytes_w(scounts, stypes, comm))
FERRY_BLOCKING_AND_NONBLOCKING(Reduce, Ireduce,
                               (const void* sbuf, void* rbuf, int count, MPI_Datatype type, MPI_Op op, int root,
                                MPI_Comm comm),
                               (sbuf, rbuf, count, type, op, root, comm), payload_bytes(count, type))
FERRY_BLOCKING_AND_NONBLOCKING(Allreduce, Iallreduce,
                               (const void* sbuf, void* rbuf, int count, MPI_Datatype type, MPI_Op op,
                                MPI_Comm comm),
                               (sbuf, rbuf, count, type, op, comm), payload_bytes(count, type))
FERRY_BLOCKING_AND_NONBLOCKING(Reduce_scatter, Ireduce_scatter,
                               (const void* sbuf, void* rbuf, const int rcounts[], MPI_Datatype type, MPI_Op op,
                                MPI_Comm comm),
                               (sbuf, rbuf, rcounts, type, op, comm), sum_bytes(rcounts, type, comm))
FERRY_BLOCKING_AND_NONBLOCKING(Reduce_scatter_block, Ireduce_scatter_block,
                               (const void* sbuf, void* rbuf, int rcount, MPI_Datatype type, MPI_Op op,
                                MPI_Comm comm),
                               (sbuf, rbuf, rcount, type, op, comm), payload_bytes(rcount, type) * comm_size(comm))
FERRY_BLOCKING_AND_NONBLOCKING(Scan, Iscan,
                               (const void* sbuf, void* rbuf, int count, MPI_Datatype type, MPI_Op op,
                                MPI_Comm comm),
                               (sbuf, rbuf, count, type, op, comm), payload_bytes(count, type))
FERRY_BLOCKING_AND_NONBLOCKING(Exscan, Iexscan,
                               (const void* sbuf, void* rbuf, int count, MPI_Datatype type, MPI_Op op,
                                MPI_Comm comm),
                               (sbuf, rbuf, count, type, op, comm), payload_bytes(count, type))

}  // extern "C"
