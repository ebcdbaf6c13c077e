// Communicator management: new communicators get their per-peer counters when made, freed ones
// leave the lookup table (their counts stay for the report).
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

int MPI_Comm_free(MPI_Comm* comm) {
  if (!g_active) return PMPI_Comm_free(comm);
  Timed t(Fn::Comm_free);
  const MPI_Comm old = comm ? *comm : MPI_COMM_NULL;
  const int rc = PMPI_Comm_free(comm);
  if (rc == MPI_SUCCESS) g_comms.remove(old);
  return rc;
}

}  // extern "C"
