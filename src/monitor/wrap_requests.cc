// Completion of requests: where nonblocking receives are counted, with the source from the
// status and the communicator from the request table, and where every tracked request leaves
// the table. A request has completed when MPI set its handle to MPI_REQUEST_NULL: that holds
// whatever the return code and whether or not the application wanted statuses, and it leaves
// persistent requests (which stay active, and are never tracked) alone.
#include <cstring>
#include <new>

#include "monitor/wrap.h"

namespace ferry::monitor::detail {

CommInfo g_not_a_receive;
CommInfo g_cancelled_receive;

namespace {

// Receives the application cancelled → their communicator, while g_requests holds them as
// cancelled_receive(). Only MPI_Cancel writes here, so the common path never looks.
RequestTable g_cancelled;

[[gnu::noinline]] void retire_cancelled(MPI_Request handle, const MPI_Status* status) noexcept {
  CommInfo* c = g_cancelled.take(handle);
  if (c == nullptr || status == nullptr) return;
  int cancelled = 0;
  if (PMPI_Test_cancelled(status, &cancelled) == MPI_SUCCESS && !cancelled) count_receive(c, *status);
}

// Forgets a request the application no longer owes anything; counts it when it was a receive
// and `status` is its completed status (null: completed with an error, or freed unseen).
inline void retire(MPI_Request handle, const MPI_Status* status) noexcept {
  CommInfo* c = g_requests.take(handle);
  if (c == nullptr || c == not_a_receive()) return;
  if (c == cancelled_receive()) {
    retire_cancelled(handle, status);
    return;
  }
  if (status != nullptr) count_receive(c, *status);
}

// MPI_ERR_IN_STATUS: each status says how its request ended; otherwise the return code does
// (statuses' MPI_ERROR fields are then not necessarily set).
inline bool succeeded(int rc, const MPI_Status* statuses, int pos) noexcept {
  if (rc == MPI_SUCCESS) return true;
  return rc == MPI_ERR_IN_STATUS && statuses != MPI_STATUSES_IGNORE && statuses[pos].MPI_ERROR == MPI_SUCCESS;
}

}  // namespace

std::size_t outstanding_requests() noexcept { return g_requests.size() + g_messages.size(); }

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

void RequestBatch::completed_at(int status_pos, int index, int rc) noexcept {
  // No status (none could be allocated): the request still leaves the table, uncounted.
  const bool have_status = statuses_ != MPI_STATUSES_IGNORE && status_pos >= 0 && status_pos < count_;
  retire(handles_[index], have_status && succeeded(rc, statuses_, status_pos) ? &statuses_[status_pos] : nullptr);
}

void RequestBatch::completed_all(const MPI_Request* after, int rc) noexcept {
  if (handles_ == nullptr || after == nullptr) return;
  for (int i = 0; i < count_; ++i)
    if (handles_[i] != MPI_REQUEST_NULL && after[i] == MPI_REQUEST_NULL) completed_at(i, i, rc);
}

void RequestBatch::completed_some(const MPI_Request* after, int outcount, const int* indices, int rc) noexcept {
  if (handles_ == nullptr || after == nullptr || indices == nullptr || outcount == MPI_UNDEFINED) return;
  for (int k = 0; k < outcount && k < count_; ++k) {
    const int i = indices[k];
    if (i >= 0 && i < count_ && handles_[i] != MPI_REQUEST_NULL && after[i] == MPI_REQUEST_NULL)
      completed_at(k, i, rc);
  }
}

}  // namespace ferry::monitor::detail

using ferry::monitor::CommInfo;
using ferry::monitor::Fn;
using namespace ferry::monitor::detail;

namespace {

// Single-request completion: `saved` is the handle before the call, `now` after it.
inline void completed_one(MPI_Request saved, const MPI_Request* now, int rc, const MPI_Status* status) noexcept {
  if (saved != MPI_REQUEST_NULL && now != nullptr && *now == MPI_REQUEST_NULL)
    retire(saved, rc == MPI_SUCCESS ? status : nullptr);
}

}  // namespace

extern "C" {

int MPI_Wait(MPI_Request* request, MPI_Status* status) {
  if (!g_active) return PMPI_Wait(request, status);
  Timed t(Fn::Wait);
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  StatusSlot st(status);
  const int rc = PMPI_Wait(request, st.get());
  completed_one(saved, request, rc, st.get());
  return rc;
}

int MPI_Test(MPI_Request* request, int* flag, MPI_Status* status) {
  if (!g_active) return PMPI_Test(request, flag, status);
  Timed t(Fn::Test);
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  StatusSlot st(status);
  const int rc = PMPI_Test(request, flag, st.get());
  completed_one(saved, request, rc, st.get());
  return rc;
}

int MPI_Waitall(int count, MPI_Request requests[], MPI_Status statuses[]) {
  if (!g_active) return PMPI_Waitall(count, requests, statuses);
  Timed t(Fn::Waitall);
  RequestBatch batch(count, requests, statuses);
  const int rc = PMPI_Waitall(count, requests, batch.statuses());
  batch.completed_all(requests, rc);
  return rc;
}

int MPI_Testall(int count, MPI_Request requests[], int* flag, MPI_Status statuses[]) {
  if (!g_active) return PMPI_Testall(count, requests, flag, statuses);
  Timed t(Fn::Testall);
  RequestBatch batch(count, requests, statuses);
  const int rc = PMPI_Testall(count, requests, flag, batch.statuses());
  if (rc != MPI_SUCCESS || (flag && *flag)) batch.completed_all(requests, rc);  // flag 0: none touched
  return rc;
}

int MPI_Waitany(int count, MPI_Request requests[], int* index, MPI_Status* status) {
  if (!g_active) return PMPI_Waitany(count, requests, index, status);
  Timed t(Fn::Waitany);
  RequestBatch batch(count, requests, MPI_STATUSES_IGNORE, false);
  StatusSlot st(status);
  const int rc = PMPI_Waitany(count, requests, index, st.get());
  if (index && *index != MPI_UNDEFINED && *index >= 0 && *index < count)
    completed_one(batch.handle(*index), &requests[*index], rc, st.get());
  return rc;
}

int MPI_Testany(int count, MPI_Request requests[], int* index, int* flag, MPI_Status* status) {
  if (!g_active) return PMPI_Testany(count, requests, index, flag, status);
  Timed t(Fn::Testany);
  RequestBatch batch(count, requests, MPI_STATUSES_IGNORE, false);
  StatusSlot st(status);
  const int rc = PMPI_Testany(count, requests, index, flag, st.get());
  if (flag && *flag && index && *index != MPI_UNDEFINED && *index >= 0 && *index < count)
    completed_one(batch.handle(*index), &requests[*index], rc, st.get());
  return rc;
}

int MPI_Waitsome(int incount, MPI_Request requests[], int* outcount, int indices[], MPI_Status statuses[]) {
  if (!g_active) return PMPI_Waitsome(incount, requests, outcount, indices, statuses);
  Timed t(Fn::Waitsome);
  RequestBatch batch(incount, requests, statuses);
  const int rc = PMPI_Waitsome(incount, requests, outcount, indices, batch.statuses());
  if (outcount) batch.completed_some(requests, *outcount, indices, rc);
  return rc;
}

int MPI_Testsome(int incount, MPI_Request requests[], int* outcount, int indices[], MPI_Status statuses[]) {
  if (!g_active) return PMPI_Testsome(incount, requests, outcount, indices, statuses);
  Timed t(Fn::Testsome);
  RequestBatch batch(incount, requests, statuses);
  const int rc = PMPI_Testsome(incount, requests, outcount, indices, batch.statuses());
  if (outcount) batch.completed_some(requests, *outcount, indices, rc);
  return rc;
}

// A freed request completes unseen: forget it, so a reused handle is not mistaken for it. A
// receive freed while active is not counted (its status is never seen).
int MPI_Request_free(MPI_Request* request) {
  if (!g_active) return PMPI_Request_free(request);
  g_counters.fn[static_cast<std::size_t>(Fn::Request_free)].calls.add(1);
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  const int rc = PMPI_Request_free(request);
  if (rc == MPI_SUCCESS) retire(saved, nullptr);
  return rc;
}

// Cancelling does not complete a request (the application still waits for it), but a receive
// that was cancelled received nothing: mark it so its completion checks MPI_Test_cancelled.
// Not timed or counted (not among the reported functions).
int MPI_Cancel(MPI_Request* request) {
  const MPI_Request saved = request ? *request : MPI_REQUEST_NULL;
  const int rc = PMPI_Cancel(request);
  if (!g_active || rc != MPI_SUCCESS || saved == MPI_REQUEST_NULL) return rc;
  if (CommInfo* c = g_requests.take(saved)) {
    if (is_receive(c)) {
      g_cancelled.insert(saved, c);
      c = cancelled_receive();
    }
    g_requests.insert(saved, c);
  }
  return rc;
}

}  // extern "C"
