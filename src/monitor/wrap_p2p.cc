// Point-to-point wrappers. Sends are counted when posted (after MPI accepted them), receives
// when they complete, so per-peer counts match what the message drain will compare.
#include "monitor/wrap.h"

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
  if (rc == MPI_SUCCESS) count_send(comm, dest, count, type);
  return rc;
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
  const int rc = PMPI_Irecv(buf, count, type, source, tag, comm, req);
  if (rc == MPI_SUCCESS && source != MPI_PROC_NULL && req != nullptr) g_requests.insert(*req, g_comms.find(comm));
  return rc;
}

int MPI_Recv(void* buf, int count, MPI_Datatype type, int source, int tag, MPI_Comm comm, MPI_Status* status) {
  if (!g_active) return PMPI_Recv(buf, count, type, source, tag, comm, status);
  Timed t(Fn::Recv);
  StatusSlot st(status);
  const int rc = PMPI_Recv(buf, count, type, source, tag, comm, st.get());
  if (rc == MPI_SUCCESS) count_receive(g_comms.find(comm), *st.get());
  return rc;
}

int MPI_Sendrecv(const void* sendbuf, int sendcount, MPI_Datatype sendtype, int dest, int sendtag, void* recvbuf,
                 int recvcount, MPI_Datatype recvtype, int source, int recvtag, MPI_Comm comm, MPI_Status* status) {
  if (!g_active)
    return PMPI_Sendrecv(sendbuf, sendcount, sendtype, dest, sendtag, recvbuf, recvcount, recvtype, source, recvtag,
                         comm, status);
  Timed t(Fn::Sendrecv);
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
  StatusSlot st(status);
  const int rc = PMPI_Sendrecv_replace(buf, count, type, dest, sendtag, source, recvtag, comm, st.get());
  if (rc == MPI_SUCCESS) {
    count_send(comm, dest, count, type);
    count_receive(g_comms.find(comm), *st.get());
  }
  return rc;
}

int MPI_Probe(int source, int tag, MPI_Comm comm, MPI_Status* status) {
  if (!g_active) return PMPI_Probe(source, tag, comm, status);
  Timed t(Fn::Probe);
  return PMPI_Probe(source, tag, comm, status);
}

int MPI_Iprobe(int source, int tag, MPI_Comm comm, int* flag, MPI_Status* status) {
  if (!g_active) return PMPI_Iprobe(source, tag, comm, flag, status);
  Timed t(Fn::Iprobe);
  return PMPI_Iprobe(source, tag, comm, flag, status);
}

// Matched probes: the message's communicator is remembered until MPI_Mrecv/Imrecv takes it.
int MPI_Mprobe(int source, int tag, MPI_Comm comm, MPI_Message* message, MPI_Status* status) {
  if (!g_active) return PMPI_Mprobe(source, tag, comm, message, status);
  Timed t(Fn::Mprobe);
  const int rc = PMPI_Mprobe(source, tag, comm, message, status);
  if (rc == MPI_SUCCESS && message && *message != MPI_MESSAGE_NO_PROC)
    g_messages.insert(message_key(*message), g_comms.find(comm));
  return rc;
}

int MPI_Improbe(int source, int tag, MPI_Comm comm, int* flag, MPI_Message* message, MPI_Status* status) {
  if (!g_active) return PMPI_Improbe(source, tag, comm, flag, message, status);
  Timed t(Fn::Improbe);
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
    if (CommInfo* c = g_messages.take(message_key(saved))) count_receive(c, *st.get());
  return rc;
}

int MPI_Imrecv(void* buf, int count, MPI_Datatype type, MPI_Message* message, MPI_Request* request) {
  if (!g_active) return PMPI_Imrecv(buf, count, type, message, request);
  Timed t(Fn::Imrecv);
  const MPI_Message saved = message ? *message : MPI_MESSAGE_NULL;
  const int rc = PMPI_Imrecv(buf, count, type, message, request);
  if (rc == MPI_SUCCESS && request)
    if (CommInfo* c = g_messages.take(message_key(saved))) g_requests.insert(*request, c);
  return rc;
}

}  // extern "C"
