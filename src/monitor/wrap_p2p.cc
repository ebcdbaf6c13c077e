// Point-to-point wrappers. Sends are counted when posted (after MPI accepted them), receives
// when they complete, so per-peer counts match what the message drain will compare. Every
// nonblocking operation is tracked in g_requests until it completes.
//
// After a checkpoint (or a restart from one) the messages the drain received on the
// application's behalf are held in migrate::g_drained. They arrived before anything MPI still
// has queued, so receives and probes serve them first: one relaxed load while none are held,
// and the slow path below only when some are. A drained message is delivered exactly as MPI
// would have delivered it (buffer, status, truncation error) and counted as a real receive.
#include <algorithm>
#include <atomic>
#include <climits>
#include <memory>
#include <new>
#include <optional>

#include "core/log.h"
#include "migrate/drained.h"
#include "monitor/wrap.h"

using ferry::migrate::g_drained;
using ferry::monitor::CommInfo;
using ferry::monitor::Fn;
using namespace ferry::monitor::detail;

namespace {

// The four blocking send modes differ only in the PMPI function they call.
template <class F>
int blocking_send(Fn fn, F pmpi, const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  Timed t(fn);
  const int rc = pmpi(buf, count, type, dest, tag, comm);
  if (rc == MPI_SUCCESS) count_send(comm, dest, count, type);
  return rc;
}

template <class F>
int nonblocking_send(Fn fn, F pmpi, const void* buf, int count, MPI_Datatype type, int dest, int tag,
                     MPI_Comm comm, MPI_Request* request) {
  Timed t(fn);
  const int rc = pmpi(buf, count, type, dest, tag, comm, request);
  if (rc == MPI_SUCCESS) {
    count_send(comm, dest, count, type);
    if (request != nullptr) g_requests.insert(*request, not_a_receive());
  }
  return rc;
}

// --- drained messages ----------------------------------------------------------------------

// The envelope of a delivered message: what its status reports.
struct Delivered {
  int source = 0;
  int tag = 0;
  std::size_t bytes = 0;  // in the receive buffer (less than the message when truncated)
  int error = MPI_SUCCESS;
};

void fill_status(MPI_Status* status, const Delivered& d) noexcept {
  if (status == MPI_STATUS_IGNORE) return;
  status->MPI_SOURCE = d.source;
  status->MPI_TAG = d.tag;
  status->MPI_ERROR = d.error;
  PMPI_Status_set_elements_x(status, MPI_BYTE, static_cast<MPI_Count>(d.bytes));
  PMPI_Status_set_cancelled(status, 0);
}

// Unpacks `elements` elements of `type` from a drained message's raw bytes (as received as
// MPI_BYTE, i.e. packed form) into `buf`. PMPI_Unpack takes int sizes: long messages go in
// chunks of whole elements, each placed one extent further.
int unpack(const std::uint8_t* data, std::size_t elements, int type_size, void* buf, MPI_Datatype type,
           MPI_Comm comm) noexcept {
  MPI_Aint lb = 0, extent = 0;
  if (const int rc = PMPI_Type_get_extent(type, &lb, &extent); rc != MPI_SUCCESS) return rc;
  const auto size = static_cast<std::size_t>(type_size);
  const std::size_t chunk = std::max<std::size_t>(1, static_cast<std::size_t>(INT_MAX) / size);
  for (std::size_t done = 0; done < elements;) {
    const std::size_t n = std::min(chunk, elements - done);
    int position = 0;
    const int rc = PMPI_Unpack(data + done * size, static_cast<int>(n * size), &position,
                               static_cast<char*>(buf) + static_cast<MPI_Aint>(done) * extent, static_cast<int>(n),
                               type, comm);
    if (rc != MPI_SUCCESS) return rc;
    done += n;
  }
  return MPI_SUCCESS;
}

// Takes the first drained message matching (source, tag) on `c` and delivers it into
// (buf, count, type), counting it as received. Nothing when none matches or the datatype is one
// MPI rejects (the caller then goes to MPI, which reports it).
std::optional<Delivered> deliver(CommInfo* c, void* buf, int count, MPI_Datatype type, int source, int tag,
                                 MPI_Comm comm) noexcept {
  try {
    int type_size = 0;
    if (count < 0 || PMPI_Type_size(type, &type_size) != MPI_SUCCESS || type_size < 0) return std::nullopt;
    std::optional<ferry::migrate::DrainedMessage> m = g_drained.take(c->uid, source, tag);
    if (!m) return std::nullopt;
    // From here on nothing throws: the message has left the store and must reach the application.
    const std::size_t bytes = m->data.size();
    const std::size_t capacity = static_cast<std::size_t>(count) * static_cast<std::size_t>(type_size);
    Delivered d{m->source, m->tag, std::min(bytes, capacity), MPI_SUCCESS};
    if (bytes > capacity) d.error = MPI_ERR_TRUNCATE;  // what fits is delivered, as MPI does
    const std::size_t elements = type_size > 0 ? d.bytes / static_cast<std::size_t>(type_size) : 0;
    if (elements > 0)
      if (const int rc = unpack(m->data.data(), elements, type_size, buf, type, comm); rc != MPI_SUCCESS) d.error = rc;
    // Consumed like a real receive, so counted like one, whatever the outcome.
    c->count_received(d.source);
    g_counters.messages_received.add(1);
    g_counters.bytes_received.add(bytes);
    return d;
  } catch (...) {
    return std::nullopt;
  }
}

// An error of a delivered receive goes through the communicator's error handler, as MPI's would
// (fatal by default).
int report(MPI_Comm comm, int error) noexcept {
  if (error != MPI_SUCCESS) PMPI_Comm_call_errhandler(comm, error);
  return error;
}

// MPI_Recv from drained messages. False: none matches; receive from MPI.
[[gnu::noinline]] bool recv_drained(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                                    MPI_Status* status, int& rc) noexcept {
  if (source == MPI_PROC_NULL) return false;
  CommInfo* c = g_comms.find(comm);
  if (c == nullptr) return false;
  const std::optional<Delivered> d = deliver(c, buf, count, type, source, tag, comm);
  if (!d) return false;
  fill_status(status, *d);
  rc = report(comm, d->error);
  return true;
}

// The generalized request an MPI_Irecv served from drained messages returns: complete at once,
// its status the delivered envelope. MPI calls these from C; they never throw.
int delivered_query(void* state, MPI_Status* status) noexcept {
  const auto* d = static_cast<const Delivered*>(state);
  fill_status(status, *d);
  return d->error;
}
int delivered_free(void* state) noexcept {
  delete static_cast<Delivered*>(state);
  return MPI_SUCCESS;
}
int delivered_cancel(void*, int) noexcept { return MPI_SUCCESS; }  // complete: nothing to cancel

// MPI_Irecv from drained messages. False: none matches; post the receive in MPI.
[[gnu::noinline]] bool irecv_drained(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm,
                                     MPI_Request* request, int& rc) noexcept {
  if (source == MPI_PROC_NULL || request == nullptr) return false;
  CommInfo* c = g_comms.find(comm);
  if (c == nullptr) return false;
  std::unique_ptr<Delivered> state(new (std::nothrow) Delivered);  // before taking: taking is final
  if (!state) return false;
  const std::optional<Delivered> d = deliver(c, buf, count, type, source, tag, comm);
  if (!d) return false;
  *state = *d;
  rc = PMPI_Grequest_start(delivered_query, delivered_free, delivered_cancel, state.get(), request);
  if (rc != MPI_SUCCESS) return true;  // MPI's error handler has spoken; the data are in the buffer
  state.release();                     // MPI owns it now: delivered_free deletes it
  PMPI_Grequest_complete(*request);
  // Outstanding until the application completes it; already counted, so not as a receive.
  g_requests.insert(*request, not_a_receive());
  return true;
}

// MPI_Probe/MPI_Iprobe: a matching drained message is what MPI_Recv will take next.
[[gnu::noinline]] bool probe_drained(int source, int tag, MPI_Comm comm, MPI_Status* status) noexcept {
  if (source == MPI_PROC_NULL) return false;
  try {
    CommInfo* c = g_comms.find(comm);
    if (c == nullptr) return false;
    const auto e = g_drained.peek(c->uid, source, tag);
    if (!e) return false;
    fill_status(status, Delivered{e->source, e->tag, e->bytes, MPI_SUCCESS});
    return true;
  } catch (...) {
    return false;
  }
}

// MPI_Sendrecv(_replace) whose receive a drained message serves: the send is posted first and
// completed last, never blocking before the receive is done (the peer may be in the same call).
// `send_buf`/`send_count`/`send_type` are what goes on the wire; `count_*` what is counted.
int sendrecv_drained(CommInfo* c, const void* send_buf, int send_count, MPI_Datatype send_type, int dest, int send_tag,
                     int counted_count, MPI_Datatype counted_type, void* recv_buf, int recv_count,
                     MPI_Datatype recv_type, int source, int recv_tag, MPI_Comm comm, MPI_Status* status) noexcept {
  MPI_Request send = MPI_REQUEST_NULL;
  if (const int rc = PMPI_Isend(send_buf, send_count, send_type, dest, send_tag, comm, &send); rc != MPI_SUCCESS)
    return rc;
  StatusSlot st(status);
  int recv_rc = MPI_SUCCESS;
  bool delivered = false;
  if (const std::optional<Delivered> d = deliver(c, recv_buf, recv_count, recv_type, source, recv_tag, comm)) {
    fill_status(st.get(), *d);
    recv_rc = d->error;
    delivered = true;
  } else {  // another thread took it meanwhile: an ordinary receive
    recv_rc = PMPI_Recv(recv_buf, recv_count, recv_type, source, recv_tag, comm, st.get());
    if (recv_rc == MPI_SUCCESS) count_receive(c, *st.get());
  }
  const int send_rc = PMPI_Wait(&send, MPI_STATUS_IGNORE);
  if (send_rc == MPI_SUCCESS) count_send(comm, dest, counted_count, counted_type);
  if (delivered && recv_rc != MPI_SUCCESS) return report(comm, recv_rc);
  return recv_rc != MPI_SUCCESS ? recv_rc : send_rc;
}

// Whether a drained message matches the receive side of a Sendrecv; its record if so.
CommInfo* drained_match(int source, int tag, MPI_Comm comm) noexcept {
  if (source == MPI_PROC_NULL) return nullptr;
  try {
    CommInfo* c = g_comms.find(comm);
    return c != nullptr && g_drained.peek(c->uid, source, tag) ? c : nullptr;
  } catch (...) {
    return nullptr;
  }
}

[[gnu::noinline]] bool sendrecv_replace_drained(void* buf, int count, MPI_Datatype type, int dest, int send_tag,
                                                int source, int recv_tag, MPI_Comm comm, MPI_Status* status,
                                                int& rc) noexcept {
  CommInfo* c = drained_match(source, recv_tag, comm);
  if (c == nullptr) return false;
  // The buffer is overwritten by the delivery while the send may still read it: send a packed copy.
  int pack_bytes = 0;
  if (count < 0 || PMPI_Pack_size(count, type, comm, &pack_bytes) != MPI_SUCCESS || pack_bytes < 0) return false;
  std::unique_ptr<char[]> packed(new (std::nothrow) char[static_cast<std::size_t>(pack_bytes) + 1]);
  if (!packed) return false;
  int position = 0;
  if (PMPI_Pack(buf, count, type, packed.get(), pack_bytes, &position, comm) != MPI_SUCCESS) return false;
  rc = sendrecv_drained(c, packed.get(), position, MPI_PACKED, dest, send_tag, count, type, buf, count, type, source,
                        recv_tag, comm, status);
  return true;
}

// Matched probes (MPI_Mprobe/Improbe/Mrecv) hand out MPI's message handles, which drained
// messages do not have: they are not served from the store. Said once, when it matters.
std::atomic<bool> g_warned_matched_probe{false};

[[gnu::noinline]] void warn_if_drained(CommInfo* c, int source, int tag) noexcept {
  try {
    if (c == nullptr || source == MPI_PROC_NULL || g_warned_matched_probe.load(std::memory_order_relaxed)) return;
    if (!g_drained.peek(c->uid, source, tag)) return;
    if (g_warned_matched_probe.exchange(true)) return;
    ferry::core::log_warn(
        "a matched probe (MPI_Mprobe/MPI_Improbe/MPI_Mrecv) matches a message drained at the checkpoint; matched "
        "probes are not served from drained messages, so it went to MPI and may see a later message first "
        "(warned once)");
  } catch (...) {
  }
}

}  // namespace

extern "C" {

int MPI_Send(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  if (!g_active) return PMPI_Send(buf, count, type, dest, tag, comm);
  return blocking_send(Fn::Send, PMPI_Send, buf, count, type, dest, tag, comm);
}

int MPI_Ssend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  if (!g_active) return PMPI_Ssend(buf, count, type, dest, tag, comm);
  return blocking_send(Fn::Ssend, PMPI_Ssend, buf, count, type, dest, tag, comm);
}

int MPI_Bsend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  if (!g_active) return PMPI_Bsend(buf, count, type, dest, tag, comm);
  return blocking_send(Fn::Bsend, PMPI_Bsend, buf, count, type, dest, tag, comm);
}

int MPI_Rsend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm) {
  if (!g_active) return PMPI_Rsend(buf, count, type, dest, tag, comm);
  return blocking_send(Fn::Rsend, PMPI_Rsend, buf, count, type, dest, tag, comm);
}

int MPI_Isend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request* req) {
  if (!g_active) return PMPI_Isend(buf, count, type, dest, tag, comm, req);
  return nonblocking_send(Fn::Isend, PMPI_Isend, buf, count, type, dest, tag, comm, req);
}

int MPI_Issend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request* req) {
  if (!g_active) return PMPI_Issend(buf, count, type, dest, tag, comm, req);
  return nonblocking_send(Fn::Issend, PMPI_Issend, buf, count, type, dest, tag, comm, req);
}

int MPI_Ibsend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request* req) {
  if (!g_active) return PMPI_Ibsend(buf, count, type, dest, tag, comm, req);
  return nonblocking_send(Fn::Ibsend, PMPI_Ibsend, buf, count, type, dest, tag, comm, req);
}

int MPI_Irsend(const void* buf, int count, MPI_Datatype type, int dest, int tag, MPI_Comm comm, MPI_Request* req) {
  if (!g_active) return PMPI_Irsend(buf, count, type, dest, tag, comm, req);
  return nonblocking_send(Fn::Irsend, PMPI_Irsend, buf, count, type, dest, tag, comm, req);
}

int MPI_Irecv(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Request* req) {
  if (!g_active) return PMPI_Irecv(buf, count, type, source, tag, comm, req);
  Timed t(Fn::Irecv);
  int rc = MPI_SUCCESS;
  if (!g_drained.empty() && irecv_drained(buf, count, type, source, tag, comm, req, rc)) return rc;
  rc = PMPI_Irecv(buf, count, type, source, tag, comm, req);
  if (rc == MPI_SUCCESS && req != nullptr) {
    CommInfo* c = source == MPI_PROC_NULL ? nullptr : g_comms.find(comm);
    g_requests.insert(*req, c != nullptr ? c : not_a_receive());
  }
  return rc;
}

int MPI_Recv(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Status* status) {
  if (!g_active) return PMPI_Recv(buf, count, type, source, tag, comm, status);
  Timed t(Fn::Recv);
  int rc = MPI_SUCCESS;
  if (!g_drained.empty() && recv_drained(buf, count, type, source, tag, comm, status, rc)) return rc;
  StatusSlot st(status);
  rc = PMPI_Recv(buf, count, type, source, tag, comm, st.get());
  if (rc == MPI_SUCCESS) count_receive(g_comms.find(comm), *st.get());
  return rc;
}

int MPI_Sendrecv(const void* sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag, void* recvbuf,
                 int recvcount, MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm, MPI_Status* status) {
  if (!g_active)
    return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source, recvtag,
                         comm, status);
  Timed t(Fn::Sendrecv);
  if (!g_drained.empty())
    if (CommInfo* c = drained_match(source, recvtag, comm))
      return sendrecv_drained(c, sendbuf, sendcount, sendtype, dest, sendtag, sendcount, sendtype, recvbuf, recvcount,
                              recvtype, source, recvtag, comm, status);
  StatusSlot st(status);
  const int rc = PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source,
                               recvtag, comm, st.get());
  if (rc == MPI_SUCCESS) {
    count_send(comm, dest, sendcount, sendtype);
    count_receive(g_comms.find(comm), *st.get());
  }
  return rc;
}

int MPI_Sendrecv_replace(void* buf, int count, MPI_Datatype type, int dest, int sendtag, int source, int recvtag,
                         MPI_Comm comm, MPI_Status* status) {
  if (!g_active) return PMPI_Sendrecv_replace(buf, count, type, dest, sendtag, source, recvtag, comm, status);
  Timed t(Fn::Sendrecv_replace);
  int rc = MPI_SUCCESS;
  if (!g_drained.empty() &&
      sendrecv_replace_drained(buf, count, type, dest, sendtag, source, recvtag, comm, status, rc))
    return rc;
  StatusSlot st(status);
  rc = PMPI_Sendrecv_replace(buf, count, type, dest, sendtag, source, recvtag, comm, st.get());
  if (rc == MPI_SUCCESS) {
    count_send(comm, dest, count, type);
    count_receive(g_comms.find(comm), *st.get());
  }
  return rc;
}

int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status* status) {
  if (!g_active) return PMPI_Probe(source, tag, comm, status);
  Timed t(Fn::Probe);
  if (!g_drained.empty() && probe_drained(source, tag, comm, status)) return MPI_SUCCESS;
  return PMPI_Probe(source, tag, comm, status);
}

int MPI_Iprobe(int source, int tag, MPI_Comm comm, int* flag, MPI_Status* status) {
  if (!g_active) return PMPI_Iprobe(source, tag, comm, flag, status);
  Timed t(Fn::Iprobe);
  if (!g_drained.empty() && flag != nullptr && probe_drained(source, tag, comm, status)) {
    *flag = 1;
    return MPI_SUCCESS;
  }
  return PMPI_Iprobe(source, tag, comm, flag, status);
}

// Matched probes: the message's communicator is remembered until MPI_Mrecv/Imrecv takes it.
int MPI_Mprobe(int source, int tag, MPI_Comm comm, MPI_Message* message, MPI_Status* status) {
  if (!g_active) return PMPI_Mprobe(source, tag, comm, message, status);
  Timed t(Fn::Mprobe);
  if (!g_drained.empty()) warn_if_drained(g_comms.find(comm), source, tag);
  const int rc = PMPI_Mprobe(source, tag, comm, message, status);
  if (rc == MPI_SUCCESS && message && *message != MPI_MESSAGE_NO_PROC)
    g_messages.insert(message_key(*message), g_comms.find(comm));
  return rc;
}

int MPI_Improbe(int source, int tag, MPI_Comm comm, int* flag, MPI_Message* message, MPI_Status* status) {
  if (!g_active) return PMPI_Improbe(source, tag, comm, flag, message, status);
  Timed t(Fn::Improbe);
  if (!g_drained.empty()) warn_if_drained(g_comms.find(comm), source, tag);
  const int rc = PMPI_Improbe(source, tag, comm, flag, message, status);
  if (rc == MPI_SUCCESS && flag && *flag && message && *message != MPI_MESSAGE_NO_PROC)
    g_messages.insert(message_key(*message), g_comms.find(comm));
  return rc;
}

int MPI_Mrecv(void* buf, int count, MPI_Datatype type, MPI_Message* message, MPI_Status* status) {
  if (!g_active) return PMPI_Mrecv(buf, count, type, message, status);
  Timed t(Fn::Mrecv);
  const MPI_Message saved = message ? *message : MPI_MESSAGE_NULL;
  StatusSlot st(status);
  const int rc = PMPI_Mrecv(buf, count, type, message, st.get());
  if (rc == MPI_SUCCESS)
    if (CommInfo* c = g_messages.take(message_key(saved))) {
      count_receive(c, *st.get());
      // A drained message with this envelope should have come first (MPI's order per sender).
      if (!g_drained.empty()) warn_if_drained(c, st.get()->MPI_SOURCE, st.get()->MPI_TAG);
    }
  return rc;
}

int MPI_Imrecv(void* buf, int count, MPI_Datatype type, MPI_Message* message, MPI_Request* request) {
  if (!g_active) return PMPI_Imrecv(buf, count, type, message, request);
  Timed t(Fn::Imrecv);
  const MPI_Message saved = message ? *message : MPI_MESSAGE_NULL;
  const int rc = PMPI_Imrecv(buf, count, type, message, request);
  if (rc == MPI_SUCCESS && request) {
    // MPI_MESSAGE_NO_PROC was never tracked: its request is outstanding all the same.
    CommInfo* c = g_messages.take(message_key(saved));
    g_requests.insert(*request, c != nullptr ? c : not_a_receive());
  }
  return rc;
}

}  // extern "C"
