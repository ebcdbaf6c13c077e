// Completion of requests: where nonblocking receives are counted, with the source from the
// status and the communicator from the request table.
#include <cstring>
#include <new>

#include "monitor/wrap.h"

namespace ferry::monitor::detail {

RequestBatch::RequestBatch(int count, const MPI_Request* requests, MPI_Status* user_statuses,
                           bool need_statuses) noexcept
    : count_(count < 0 ? 0 : count), handles_(inline_handles_), statuses_(user_statuses) {
  const auto n = static_cast<std::size_t>(count_);
  if (count_ > kInline) {
    handles_ = new (std::nothrow) MPI_Request[n];
    own_handles_ = handles_ != nullptr;
  }
  if (handles_ == nullptr) return;  // no memory: the call goes on, uncounted
  if (n > 0 && requests != nullptr) std::memcpy(handles_, requests, sizeof(MPI_Request) * n);
  if (!need_statuses || user_statuses != MPI_STATUSES_IGNORE) return;
  if (count_ <= kInline) {
    statuses_ = inline_statuses_;
    return;
  }
  statuses_ = new (std::nothrow) MPI_Status[n];
  own_statuses_ = statuses_ != nullptr;
  if (statuses_ == nullptr) statuses_ = MPI_STATUSES_IGNORE;
}

RequestBatch::~RequestBatch() {
  if (own_handles_) delete[] handles_;
  if (own_statuses_) delete[] statuses_;
}

void RequestBatch::completed_at(int status_pos, int index) noexcept {
  if (handles_ == nullptr || statuses_ == MPI_STATUSES_IGNORE) return;
  if (index < 0 || index >= count_ || status_pos < 0 || status_pos >= count_) return;
  if (CommInfo* c = g_requests.take(handles_[index])) count_receive(c, statuses_[status_pos]);
}

}  // namespace ferry::monitor::detail

using ferry::monitor::CommInfo;
using ferry::monitor::Fn;
using namespace ferry::monitor::detail;

extern "C" {

int MPI_Wait(MPI_Request* request, MPI_Status* status) {
  if (!g_active) return PMPI_Wait(request, status);
  Timed t(Fn::Wait);
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  StatusSlot st(status);
  const int rc = PMPI_Wait(request, st.get());
  if (rc == MPI_SUCCESS)
    if (CommInfo* c = g_requests.take(saved)) count_receive(c, *st.get());
  return rc;
}

int MPI_Test(MPI_Request* request, int* flag, MPI_Status* status) {
  if (!g_active) return PMPI_Test(request, flag, status);
  Timed t(Fn::Test);
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  StatusSlot st(status);
  const int rc = PMPI_Test(request, flag, st.get());
  if (rc == MPI_SUCCESS && flag && *flag)
    if (CommInfo* c = g_requests.take(saved)) count_receive(c, *st.get());
  return rc;
}

int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[]) {
  if (!g_active) return PMPI_Waitall(count, requests, statuses);
  Timed t(Fn::Waitall);
  RequestBatch batch(count, requests, statuses);
  const int rc = PMPI_Waitall(count, requests, batch.statuses());
  if (rc == MPI_SUCCESS)
    for (int i = 0; i < count; ++i) batch.completed(i);
  return rc;
}

int MPI_Testall(int count, MPI_Request requests[], int* flag, MPI_Status statuses[]) {
  if (!g_active) return PMPI_Testall(count, requests, flag, statuses);
  Timed t(Fn::Testall);
  RequestBatch batch(count, requests, statuses);
  const int rc = PMPI_Testall(count, requests, flag, batch.statuses());
  if (rc == MPI_SUCCESS && flag && *flag)
    for (int i = 0; i < count; ++i) batch.completed(i);
  return rc;
}

int MPI_Waitany(int count, MPI_Request requests[], int* index, MPI_Status* status) {
  if (!g_active) return PMPI_Waitany(count, requests, index, status);
  Timed t(Fn::Waitany);
  RequestBatch batch(count, requests, MPI_STATUSES_IGNORE, false);
  StatusSlot st(status);
  const int rc = PMPI_Waitany(count, requests, index, st.get());
  if (rc == MPI_SUCCESS && index && *index != MPI_UNDEFINED && *index >= 0 && *index < count)
    if (CommInfo* c = g_requests.take(batch.handle(*index))) count_receive(c, *st.get());
  return rc;
}

int MPI_Testany(int count, MPI_Request requests[], int* index, int* flag, MPI_Status* status) {
  if (!g_active) return PMPI_Testany(count, requests, index, flag, status);
  Timed t(Fn::Testany);
  RequestBatch batch(count, requests, MPI_STATUSES_IGNORE, false);
  StatusSlot st(status);
  const int rc = PMPI_Testany(count, requests, index, flag, st.get());
  if (rc == MPI_SUCCESS && flag && *flag && index && *index != MPI_UNDEFINED && *index >= 0 && *index < count)
    if (CommInfo* c = g_requests.take(batch.handle(*index))) count_receive(c, *st.get());
  return rc;
}

int MPI_Waitsome(int incount, MPI_Request requests[], int* outcount, int indices[], MPI_Status statuses[]) {
  if (!g_active) return PMPI_Waitsome(incount, requests, outcount, indices, statuses);
  Timed t(Fn::Waitsome);
  RequestBatch batch(incount, requests, statuses);
  const int rc = PMPI_Waitsome(incount, requests, outcount, indices, batch.statuses());
  if (rc == MPI_SUCCESS && outcount && *outcount != MPI_UNDEFINED)
    for (int k = 0; k < *outcount; ++k) batch.completed_at(k, indices[k]);
  return rc;
}

int MPI_Testsome(int incount, MPI_Request requests[], int* outcount, int indices[], MPI_Status statuses[]) {
  if (!g_active) return PMPI_Testsome(incount, requests, outcount, indices, statuses);
  Timed t(Fn::Testsome);
  RequestBatch batch(incount, requests, statuses);
  const int rc = PMPI_Testsome(incount, requests, outcount, indices, batch.statuses());
  if (rc == MPI_SUCCESS && outcount && *outcount != MPI_UNDEFINED)
    for (int k = 0; k < *outcount; ++k) batch.completed_at(k, indices[k]);
  return rc;
}

// A freed receive request completes unseen: forget it, so a reused handle is not mistaken for it.
int MPI_Request_free(MPI_Request* request) {
  if (!g_active) return PMPI_Request_free(request);
  g_counters.fn[static_cast<std::size_t>(Fn::Request_free)].calls.add(1);
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  const int rc = PMPI_Request_free(request);
  if (rc == MPI_SUCCESS) g_requests.take(saved);
  return rc;
}

}  // extern "C"
