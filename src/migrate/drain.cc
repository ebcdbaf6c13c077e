// Message drain by bookmark exchange. Every rank counts, per communicator and peer, the
// messages it sent (when posted) and received (when completed). At a checkpoint each rank tells
// each other rank how many it sent it, on which communicator; what the receiver has not yet
// received is in flight, and is received now into ferry's buffers (g_drained), to be delivered
// first after the checkpoint. Communicators are named by uid, equal on every member.
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/log.h"
#include "migrate/drained.h"
#include "migrate/rank.h"
#include "monitor/wrap.h"

namespace ferry::migrate {

namespace {

constexpr int kFields = 3;  // uid, sender's rank in the communicator, messages sent

}  // namespace

bool drain_messages(std::string& error) noexcept {
  try {
    int size = 0;
    PMPI_Comm_size(MPI_COMM_WORLD, &size);
    std::vector<std::vector<std::int64_t>> to(static_cast<std::size_t>(size));
    for (const monitor::CommInfo* c : monitor::detail::g_comms.all()) {
      if (c->freed || c->inter || c->my_rank < 0) continue;
      for (int p = 0; p < c->size && p < static_cast<int>(c->world.size()); ++p) {
        const std::uint64_t sent = c->sent[p].get();
        if (sent == 0) continue;
        auto& out = to[static_cast<std::size_t>(c->world[static_cast<std::size_t>(p)])];
        out.push_back(static_cast<std::int64_t>(c->uid));
        out.push_back(c->my_rank);
        out.push_back(static_cast<std::int64_t>(sent));
      }
    }
    std::vector<int> send_counts(static_cast<std::size_t>(size)), send_displs(static_cast<std::size_t>(size));
    std::vector<std::int64_t> send_data;
    for (int w = 0; w < size; ++w) {
      send_displs[static_cast<std::size_t>(w)] = static_cast<int>(send_data.size());
      send_counts[static_cast<std::size_t>(w)] = static_cast<int>(to[static_cast<std::size_t>(w)].size());
      send_data.insert(send_data.end(), to[static_cast<std::size_t>(w)].begin(), to[static_cast<std::size_t>(w)].end());
    }
    std::vector<int> recv_counts(static_cast<std::size_t>(size)), recv_displs(static_cast<std::size_t>(size));
    PMPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT, MPI_COMM_WORLD);
    int total = 0;
    for (int w = 0; w < size; ++w) {
      recv_displs[static_cast<std::size_t>(w)] = total;
      total += recv_counts[static_cast<std::size_t>(w)];
    }
    std::vector<std::int64_t> recv_data(static_cast<std::size_t>(total));
    PMPI_Alltoallv(send_data.data(), send_counts.data(), send_displs.data(), MPI_INT64_T, recv_data.data(),
                   recv_counts.data(), recv_displs.data(), MPI_INT64_T, MPI_COMM_WORLD);

    std::uint64_t drained = 0, unreachable = 0;
    for (std::size_t i = 0; i + kFields <= recv_data.size(); i += kFields) {
      const auto uid = static_cast<std::uint64_t>(recv_data[i]);
      const int source = static_cast<int>(recv_data[i + 1]);
      const std::int64_t sent = recv_data[i + 2];
      monitor::CommInfo* c = monitor::detail::g_comms.by_uid(uid);
      if (c == nullptr || source < 0 || source >= c->size) {
        unreachable += static_cast<std::uint64_t>(sent);
        continue;
      }
      const std::int64_t missing = sent - static_cast<std::int64_t>(c->received[source].get()) -
                                   static_cast<std::int64_t>(g_drained.pending_from(uid, source)) +
                                   static_cast<std::int64_t>(g_drained.restored_from(uid, source));
      for (std::int64_t k = 0; k < missing; ++k) {
        MPI_Status st;
        PMPI_Probe(source, MPI_ANY_TAG, c->comm, &st);
        int bytes = 0;
        PMPI_Get_count(&st, MPI_BYTE, &bytes);
        DrainedMessage m;
        m.comm = uid;
        m.source = source;
        m.tag = st.MPI_TAG;
        m.data.resize(static_cast<std::size_t>(bytes));
        PMPI_Recv(m.data.data(), bytes, MPI_BYTE, source, st.MPI_TAG, c->comm, MPI_STATUS_IGNORE);
        g_drained.add(std::move(m));
        ++drained;
      }
      if (missing < 0) {
        error = "communicator " + std::to_string(uid) + ": rank " + std::to_string(source) + " says it sent " +
                std::to_string(sent) + " messages, fewer than were received from it";
        return false;
      }
    }
    if (unreachable > 0)
      core::log_warn(std::to_string(unreachable) + " message(s) were sent to this rank on a communicator it never used; "
                     "they cannot be drained and stay behind");
    if (drained > 0) core::log_debug("drained " + std::to_string(drained) + " message(s) in flight");
    return true;
  } catch (const std::exception& e) {
    error = e.what();
    return false;
  }
}

}  // namespace ferry::migrate
