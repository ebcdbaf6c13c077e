/* Test application with a known pattern: rank k computes for k units per phase, then all meet
 * in MPI; between phases, point-to-point traffic of every kind whose exact counts the program
 * keeps itself and writes to EXPECT_FILE (argv[1]) for the test to compare with ferry's report.
 *
 *   pattern EXPECT_FILE [UNIT_SECONDS] [PHASES]
 *
 * Its stdout is deterministic, so runs with and without ferry can be compared byte for byte. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int g_rank, g_size;
static long g_sent_msgs, g_sent_bytes, g_recv_msgs, g_recv_bytes;
static long* g_sent_to;   /* world messages to each peer */
static long* g_recv_from;

static void sent(int peer, int bytes) {
  g_sent_msgs++;
  g_sent_bytes += bytes;
  g_sent_to[peer]++;
}
static void received(int peer, int bytes) {
  g_recv_msgs++;
  g_recv_bytes += bytes;
  g_recv_from[peer]++;
}

static void spin(double seconds) {
  const double end = MPI_Wtime() + seconds;
  volatile double x = 0;
  while (MPI_Wtime() < end)
    for (int i = 0; i < 1000; ++i) x += i * 0.5;
}

static void traffic(MPI_Comm dup, int phase) {
  const int right = (g_rank + 1) % g_size, left = (g_rank + g_size - 1) % g_size;
  char buf[4096];
  memset(buf, phase, sizeof buf);
  MPI_Status st;

  /* Blocking ring: rank r sends r+1 small (eager) messages of 8*(i+1) bytes; ANY_TAG receive. */
  for (int i = 0; i < g_rank + 1; ++i) {
    MPI_Send(buf, 8 * (i + 1), MPI_CHAR, right, i, MPI_COMM_WORLD);
    sent(right, 8 * (i + 1));
  }
  for (int i = 0; i < left + 1; ++i) {
    MPI_Recv(buf, sizeof buf, MPI_CHAR, left, MPI_ANY_TAG, MPI_COMM_WORLD, &st);
    received(left, 8 * (i + 1));
  }

  /* Nonblocking the other way: Irecv from right + Isend to left, completed by Waitall. */
  {
    MPI_Request r[2];
    char in[100];
    MPI_Irecv(in, sizeof in, MPI_CHAR, right, 7, MPI_COMM_WORLD, &r[0]);
    MPI_Isend(buf, 100, MPI_CHAR, left, 7, MPI_COMM_WORLD, &r[1]);
    MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
    sent(left, 100);
    received(right, 100);
  }
  /* Sendrecv. */
  {
    char in[64];
    MPI_Sendrecv(buf, 64, MPI_CHAR, right, 9, in, sizeof in, MPI_CHAR, left, 9, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    sent(right, 64);
    received(left, 64);
  }
  /* ANY_SOURCE with Probe, Ssend on a duplicated communicator. */
  {
    MPI_Request r;
    MPI_Issend(buf, 32, MPI_CHAR, right, 11, dup, &r);
    MPI_Probe(MPI_ANY_SOURCE, 11, dup, &st);
    int n;
    MPI_Get_count(&st, MPI_CHAR, &n);
    MPI_Recv(buf + 2048, n, MPI_CHAR, st.MPI_SOURCE, 11, dup, MPI_STATUS_IGNORE);
    int done = 0;
    while (!done) MPI_Test(&r, &done, MPI_STATUS_IGNORE);
    g_sent_msgs++; g_sent_bytes += 32;   /* on `dup`: not in the world matrix */
    g_recv_msgs++; g_recv_bytes += n;
  }
  /* Matched probes: Mprobe + Mrecv, and Improbe + Imrecv + Wait. */
  {
    MPI_Send(buf, 40, MPI_CHAR, right, 31, MPI_COMM_WORLD);
    MPI_Send(buf, 48, MPI_CHAR, right, 32, MPI_COMM_WORLD);
    sent(right, 40);
    sent(right, 48);
    MPI_Message m;
    MPI_Mprobe(left, 31, MPI_COMM_WORLD, &m, &st);
    MPI_Mrecv(buf + 1024, 40, MPI_CHAR, &m, MPI_STATUS_IGNORE);
    received(left, 40);
    int found = 0;
    while (!found) MPI_Improbe(left, 32, MPI_COMM_WORLD, &found, &m, &st);
    MPI_Request r;
    MPI_Imrecv(buf + 1024, 48, MPI_CHAR, &m, &r);
    MPI_Wait(&r, MPI_STATUS_IGNORE);
    received(left, 48);
  }
  /* Waitany / Waitsome over two receives from left. */
  {
    MPI_Request r[2];
    char a[16], b[24];
    MPI_Irecv(a, sizeof a, MPI_CHAR, left, 21, MPI_COMM_WORLD, &r[0]);
    MPI_Irecv(b, sizeof b, MPI_CHAR, left, 22, MPI_COMM_WORLD, &r[1]);
    MPI_Send(buf, 16, MPI_CHAR, right, 21, MPI_COMM_WORLD);
    MPI_Send(buf, 24, MPI_CHAR, right, 22, MPI_COMM_WORLD);
    sent(right, 16);
    sent(right, 24);
    int idx;
    MPI_Waitany(2, r, &idx, MPI_STATUS_IGNORE);
    int out, indices[2];
    MPI_Waitsome(2, r, &out, indices, MPI_STATUSES_IGNORE);
    received(left, 16);
    received(left, 24);
  }
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &g_size);
  if (argc < 2) {
    if (g_rank == 0) fprintf(stderr, "usage: pattern EXPECT_FILE [UNIT_SECONDS] [PHASES]\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  const double unit = argc > 2 ? atof(argv[2]) : 0.1;
  const int phases = argc > 3 ? atoi(argv[3]) : 3;
  g_sent_to = calloc((size_t)g_size, sizeof(long));
  g_recv_from = calloc((size_t)g_size, sizeof(long));
  MPI_Comm dup;
  MPI_Comm_dup(MPI_COMM_WORLD, &dup);

  double checksum = 0;
  for (int p = 0; p < phases; ++p) {
    spin(unit * g_rank);
    MPI_Barrier(MPI_COMM_WORLD);
    traffic(dup, p);
    double mine = g_rank + p, sum = 0;
    MPI_Allreduce(&mine, &sum, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    checksum += sum;
  }
  MPI_Comm_free(&dup);

  /* Each rank appends its own line; rank order via a token passed around. */
  int token = 0;
  if (g_rank > 0) {
    MPI_Recv(&token, 1, MPI_INT, g_rank - 1, 99, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    received(g_rank - 1, (int)sizeof token);
  }
  if (g_rank < g_size - 1) sent(g_rank + 1, (int)sizeof token); /* sent just below */
  FILE* f = fopen(argv[1], g_rank == 0 ? "w" : "a");
  if (f) {
    fprintf(f, "%d %ld %ld %ld %ld", g_rank, g_sent_msgs, g_sent_bytes, g_recv_msgs, g_recv_bytes);
    for (int i = 0; i < g_size; ++i) fprintf(f, " %ld", g_sent_to[i]);
    for (int i = 0; i < g_size; ++i) fprintf(f, " %ld", g_recv_from[i]);
    fprintf(f, "\n");
    fclose(f);
  }
  if (g_rank < g_size - 1) MPI_Send(&token, 1, MPI_INT, g_rank + 1, 99, MPI_COMM_WORLD);
  if (g_rank == 0) printf("pattern: ranks=%d phases=%d checksum=%.1f\n", g_size, phases, checksum);
  free(g_sent_to);
  free(g_recv_from);
  MPI_Finalize();
  return 0;
}
