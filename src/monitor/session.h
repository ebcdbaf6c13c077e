// The life of ferry inside one rank: from MPI_Init (FERRY_ENABLE checked, config loaded, counters
// and sampler started, direct-mode collector on rank 0) to MPI_Finalize (final sample, report).
#pragma once

namespace ferry::monitor {

/// Called by the MPI_Init / MPI_Init_thread wrappers right after PMPI_Init succeeded.
void session_start(int thread_level) noexcept;
/// Called by the MPI_Finalize wrapper before PMPI_Finalize.
void session_finish() noexcept;

}  // namespace ferry::monitor
