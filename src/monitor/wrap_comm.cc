// Communicator management: new communicators get their per-peer counters when made, freed ones
// leave the lookup table (their counts stay for the report). Registering each communicator when
// it is made, not when first used, is also what gives it the same uid on every member: members
// make communicators collectively, hence in the same order, but may use them in any order.
#include "monitor/wrap.h"

using ferry::monitor::Fn;
using namespace ferry::monitor::detail;

extern "C" {

// Local queries: counted, not timed. They are the cheapest calls an application makes and often
// the most frequent; two clock reads would be most of their cost.
int MPI_Comm_rank(MPI_Comm comm, int* rank) {
  if (g_active) g_counters.fn[static_cast<std::size_t>(Fn::Comm_rank)].calls.add(1);
  return PMPI_Comm_rank(comm, rank);
}

int MPI_Comm_size(MPI_Comm comm, int* size) {
  if (g_active) g_counters.fn[static_cast<std::size_t>(Fn::Comm_size)].calls.add(1);
  return PMPI_Comm_size(comm, size);
}

int MPI_Comm_dup(MPI_Comm comm, MPI_Comm* newcomm) {
  if (!g_active) return PMPI_Comm_dup(comm, newcomm);
  Timed t(Fn::Comm_dup);
  const int rc = PMPI_Comm_dup(comm, newcomm);
  if (rc == MPI_SUCCESS) g_comms.add(*newcomm);
  return rc;
}

int MPI_Comm_split(MPI_Comm comm, int color, int key, MPI_Comm* newcomm) {
  if (!g_active) return PMPI_Comm_split(comm, color, key, newcomm);
  Timed t(Fn::Comm_split);
  const int rc = PMPI_Comm_split(comm, color, key, newcomm);
  if (rc == MPI_SUCCESS) g_comms.add(*newcomm);
  return rc;
}

int MPI_Comm_create(MPI_Comm comm, MPI_Group group, MPI_Comm* newcomm) {
  if (!g_active) return PMPI_Comm_create(comm, group, newcomm);
  Timed t(Fn::Comm_create);
  const int rc = PMPI_Comm_create(comm, group, newcomm);
  if (rc == MPI_SUCCESS) g_comms.add(*newcomm);
  return rc;
}

// Further constructors: not timed (they are not among the reported functions), only registered.
#define FERRY_COMM_CONSTRUCTOR(NAME, PARAMS, ARGS, NEWCOMM)      \
  int MPI_##NAME PARAMS {                                        \
    const int rc = PMPI_##NAME ARGS;                             \
    if (g_active && rc == MPI_SUCCESS && (NEWCOMM) != nullptr) g_comms.add(*(NEWCOMM)); \
    return rc;                                                   \
  }

FERRY_COMM_CONSTRUCTOR(Comm_dup_with_info, (MPI_Comm comm, MPI_Info info, MPI_Comm* newcomm), (comm, info, newcomm),
                       newcomm)
FERRY_COMM_CONSTRUCTOR(Comm_split_type, (MPI_Comm comm, int split_type, int key, MPI_Info info, MPI_Comm* newcomm),
                       (comm, split_type, key, info, newcomm), newcomm)
FERRY_COMM_CONSTRUCTOR(Comm_create_group, (MPI_Comm comm, MPI_Group group, int tag, MPI_Comm* newcomm),
                       (comm, group, tag, newcomm), newcomm)
FERRY_COMM_CONSTRUCTOR(Cart_create,
                       (MPI_Comm old_comm, int ndims, const int dims[], const int periods[], int reorder,
                        MPI_Comm* comm_cart),
                       (old_comm, ndims, dims, periods, reorder, comm_cart), comm_cart)
FERRY_COMM_CONSTRUCTOR(Cart_sub, (MPI_Comm comm, const int remain_dims[], MPI_Comm* new_comm),
                       (comm, remain_dims, new_comm), new_comm)
FERRY_COMM_CONSTRUCTOR(Graph_create,
                       (MPI_Comm comm_old, int nnodes, const int index[], const int edges[], int reorder,
                        MPI_Comm* comm_graph),
                       (comm_old, nnodes, index, edges, reorder, comm_graph), comm_graph)
FERRY_COMM_CONSTRUCTOR(Dist_graph_create,
                       (MPI_Comm comm_old, int n, const int nodes[], const int degrees[], const int targets[],
                        const int weights[], MPI_Info info, int reorder, MPI_Comm* newcomm),
                       (comm_old, n, nodes, degrees, targets, weights, info, reorder, newcomm), newcomm)
FERRY_COMM_CONSTRUCTOR(Dist_graph_create_adjacent,
                       (MPI_Comm comm_old, int indegree, const int sources[], const int sourceweights[],
                        int outdegree, const int destinations[], const int destweights[], MPI_Info info,
                        int reorder, MPI_Comm* comm_dist_graph),
                       (comm_old, indegree, sources, sourceweights, outdegree, destinations, destweights, info,
                        reorder, comm_dist_graph),
                       comm_dist_graph)
FERRY_COMM_CONSTRUCTOR(Intercomm_create,
                       (MPI_Comm local_comm, int local_leader, MPI_Comm bridge_comm, int remote_leader, int tag,
                        MPI_Comm* newintercomm),
                       (local_comm, local_leader, bridge_comm, remote_leader, tag, newintercomm), newintercomm)
FERRY_COMM_CONSTRUCTOR(Intercomm_merge, (MPI_Comm intercomm, int high, MPI_Comm* newintracomm),
                       (intercomm, high, newintracomm), newintracomm)

// The new communicator is not usable before the request completes, so it is registered on first
// use; the request is tracked like any nonblocking operation.
int MPI_Comm_idup(MPI_Comm comm, MPI_Comm* newcomm, MPI_Request* request) {
  const int rc = PMPI_Comm_idup(comm, newcomm, request);
  if (g_active && rc == MPI_SUCCESS && request != nullptr) g_requests.insert(*request, not_a_receive());
  return rc;
}

int MPI_Comm_disconnect(MPI_Comm* comm) {
  const MPI_Comm old = comm ? *comm : MPI_COMM_NULL;
  const int rc = PMPI_Comm_disconnect(comm);
  if (g_active && rc == MPI_SUCCESS) g_comms.remove(old);
  return rc;
}

int MPI_Comm_free(MPI_Comm* comm) {
  if (!g_active) return PMPI_Comm_free(comm);
  Timed t(Fn::Comm_free);
  const MPI_Comm old = comm ? *comm : MPI_COMM_NULL;
  const int rc = PMPI_Comm_free(comm);
  if (rc == MPI_SUCCESS) g_comms.remove(old);
  return rc;
}

}  // extern "C"
