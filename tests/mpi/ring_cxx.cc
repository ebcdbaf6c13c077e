// A C++ MPI application (built with the C++ bindings' compiler flags, as mpicxx would): every
// rank sends `count` messages of `bytes` bytes to its right neighbour and receives as many from
// its left, with std::vector buffers. ferry, preloaded, must count exactly that.
//
//   ring_cxx COUNT BYTES
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int count = argc > 1 ? std::atoi(argv[1]) : 10;
  const int bytes = argc > 2 ? std::atoi(argv[2]) : 1000;
  std::vector<char> out(static_cast<std::size_t>(bytes), 'x'), in(static_cast<std::size_t>(bytes));
  const int right = (rank + 1) % size, left = (rank + size - 1) % size;
  for (int i = 0; i < count; ++i) {
    MPI_Request r[2];
    MPI_Irecv(in.data(), bytes, MPI_CHAR, left, i, MPI_COMM_WORLD, &r[0]);
    MPI_Isend(out.data(), bytes, MPI_CHAR, right, i, MPI_COMM_WORLD, &r[1]);
    MPI_Waitall(2, r, MPI_STATUSES_IGNORE);
  }
  long total = 0, mine = count;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0) std::printf("ring_cxx: %ld messages\n", total);
  MPI_Finalize();
  return 0;
}
