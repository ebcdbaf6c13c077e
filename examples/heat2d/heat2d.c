/* heat2d: 2-D Jacobi iteration for the heat equation on an N x N grid, block-decomposed over a
 * 2-D Cartesian grid of ranks, with a halo exchange (Isend/Irecv/Waitall) every iteration.
 *
 *   heat2d [-n N] [-i ITERATIONS] [-r REPORT_EVERY]
 *
 * Prints the grid checksum in hex-float form so runs can be compared bit for bit. Plain MPI:
 * ferry measures it without any change to the source. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int n, iterations, report_every;
} Options;

static int parse(int argc, char** argv, Options* o, int rank) {
  o->n = 512;
  o->iterations = 200;
  o->report_every = 0;
  for (int i = 1; i < argc; ++i) {
    const char* a = argv[i];
    if (i + 1 < argc && (!strcmp(a, "-n") || !strcmp(a, "-i") || !strcmp(a, "-r"))) {
      char* end = NULL;
      long v = strtol(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0 || v > 1000000000L) {
        if (rank == 0) fprintf(stderr, "heat2d: %s needs a positive integer, got \"%s\"\n", a, argv[i]);
        return 0;
      }
      if (!strcmp(a, "-n")) o->n = (int)v;
      else if (!strcmp(a, "-i")) o->iterations = (int)v;
      else o->report_every = (int)v;
    } else {
      if (rank == 0) fprintf(stderr, "usage: heat2d [-n N] [-i ITERATIONS] [-r REPORT_EVERY]\n");
      return 0;
    }
  }
  return 1;
}

/* Rows/columns [lo, hi) of block `coord` when `n` cells are split into `parts`. */
static void split(int n, int parts, int coord, int* lo, int* hi) {
  *lo = (int)((long)n * coord / parts);
  *hi = (int)((long)n * (coord + 1) / parts);
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  Options o;
  if (!parse(argc, argv, &o, rank)) {
    MPI_Finalize();
    return 2;
  }

  int dims[2] = {0, 0}, periods[2] = {0, 0}, coords[2];
  MPI_Dims_create(size, 2, dims);
  MPI_Comm cart;
  MPI_Cart_create(MPI_COMM_WORLD, 2, dims, periods, 0, &cart);
  MPI_Cart_coords(cart, rank, 2, coords);
  int up, down, left, right;
  MPI_Cart_shift(cart, 0, 1, &up, &down);
  MPI_Cart_shift(cart, 1, 1, &left, &right);

  int r0, r1, c0, c1;
  split(o.n, dims[0], coords[0], &r0, &r1);
  split(o.n, dims[1], coords[1], &c0, &c1);
  const int rows = r1 - r0, cols = c1 - c0, w = cols + 2;
  double* u = calloc((size_t)(rows + 2) * w, sizeof *u);
  double* v = calloc((size_t)(rows + 2) * w, sizeof *v);
  double* sendl = malloc((size_t)rows * sizeof *sendl);
  double* sendr = malloc((size_t)rows * sizeof *sendr);
  double* recvl = malloc((size_t)rows * sizeof *recvl);
  double* recvr = malloc((size_t)rows * sizeof *recvr);
  if (!u || !v || !sendl || !sendr || !recvl || !recvr) {
    fprintf(stderr, "heat2d: rank %d: out of memory\n", rank);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  /* Fixed boundary: the top edge of the global grid is hot. */
  if (r0 == 0)
    for (int j = 0; j < w; ++j) u[j] = v[j] = 100.0;

  const double t0 = MPI_Wtime();
  for (int it = 0; it < o.iterations; ++it) {
    MPI_Request req[8];
    int nreq = 0;
    MPI_Irecv(&u[0 * w + 1], cols, MPI_DOUBLE, up, 0, cart, &req[nreq++]);
    MPI_Irecv(&u[(rows + 1) * w + 1], cols, MPI_DOUBLE, down, 1, cart, &req[nreq++]);
    MPI_Irecv(recvl, rows, MPI_DOUBLE, left, 2, cart, &req[nreq++]);
    MPI_Irecv(recvr, rows, MPI_DOUBLE, right, 3, cart, &req[nreq++]);
    for (int i = 0; i < rows; ++i) {
      sendl[i] = u[(i + 1) * w + 1];
      sendr[i] = u[(i + 1) * w + cols];
    }
    MPI_Isend(&u[1 * w + 1], cols, MPI_DOUBLE, up, 1, cart, &req[nreq++]);
    MPI_Isend(&u[rows * w + 1], cols, MPI_DOUBLE, down, 0, cart, &req[nreq++]);
    MPI_Isend(sendl, rows, MPI_DOUBLE, left, 3, cart, &req[nreq++]);
    MPI_Isend(sendr, rows, MPI_DOUBLE, right, 2, cart, &req[nreq++]);
    MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
    if (left != MPI_PROC_NULL)
      for (int i = 0; i < rows; ++i) u[(i + 1) * w] = recvl[i];
    if (right != MPI_PROC_NULL)
      for (int i = 0; i < rows; ++i) u[(i + 1) * w + cols + 1] = recvr[i];

    for (int i = 1; i <= rows; ++i) {
      const int gi = r0 + i - 1;
      for (int j = 1; j <= cols; ++j) {
        const int gj = c0 + j - 1;
        if (gi == 0 || gi == o.n - 1 || gj == 0 || gj == o.n - 1) {
          v[i * w + j] = (gi == 0) ? 100.0 : 0.0;
        } else {
          v[i * w + j] = 0.25 * (u[(i - 1) * w + j] + u[(i + 1) * w + j] + u[i * w + j - 1] + u[i * w + j + 1]);
        }
      }
    }
    double* t = u;
    u = v;
    v = t;
    if (o.report_every && (it + 1) % o.report_every == 0 && rank == 0)
      printf("heat2d: iteration %d\n", it + 1);
  }
  const double elapsed = MPI_Wtime() - t0;

  /* Checksum summed in rank order on rank 0, so it does not depend on a reduction's order. */
  double local = 0;
  for (int i = 1; i <= rows; ++i)
    for (int j = 1; j <= cols; ++j) local += u[i * w + j];
  double* all = rank == 0 ? malloc((size_t)size * sizeof *all) : NULL;
  MPI_Gather(&local, 1, MPI_DOUBLE, all, 1, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double tmax = 0;
  MPI_Reduce(&elapsed, &tmax, 1, MPI_DOUBLE, MPI_MAX, 0, MPI_COMM_WORLD);
  if (rank == 0) {
    double sum = 0;
    for (int r = 0; r < size; ++r) sum += all[r];
    printf("heat2d: n=%d iterations=%d ranks=%d checksum=%a (%.12g)\n", o.n, o.iterations, size, sum, sum);
    printf("heat2d: time %.3f s\n", tmax);
    free(all);
  }
  free(u);
  free(v);
  free(sendl);
  free(sendr);
  free(recvl);
  free(recvr);
  MPI_Comm_free(&cart);
  MPI_Finalize();
  return 0;
}
