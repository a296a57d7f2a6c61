// main() for GoogleTest binaries run under mpirun: MPI around the tests, the
// layout from the command line (after GoogleTest's own flags), full output from
// rank 0 and only failures, marked with their rank, from the others.
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string>

#include "parallel/mpi_session.h"
#include "tests/mpi/mpi_test_util.h"

namespace condense::testing {

Layout& layout() {
  static Layout l;
  return l;
}

namespace {

class FailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (r.failed())
      std::cerr << "[rank " << rank_ << "] " << (r.file_name() ? r.file_name() : "") << ":"
                << r.line_number() << ": " << r.summary() << std::endl;
  }

 private:
  int rank_;
};

void parse_layout(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&] {
      if (i + 1 >= argc) {
        std::cerr << "missing value after " << a << "\n";
        std::exit(2);
      }
      return std::atoi(argv[++i]);
    };
    if (a == "--tp")
      layout().tp = value();
    else if (a == "--pp")
      layout().pp = value();
    else if (a == "--micro-batches")
      layout().micro_batches = value();
    else if (a == "--zero1")
      layout().zero1 = true;
    else if (a == "--tied")
      layout().tied = true;
    else {
      std::cerr << "unknown argument " << a << "\n";
      std::exit(2);
    }
  }
}

}  // namespace
}  // namespace condense::testing

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  condense::parallel::MpiSession mpi;
  condense::testing::parse_layout(argc, argv);
  const int rank = condense::testing::world_rank();
  if (rank != 0) {
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new condense::testing::FailurePrinter(rank));
  }
  return RUN_ALL_TESTS();
}
