#include "cli/cli.h"

int main(int argc, char** argv) {
  resque::JobRegistry registry;
  return resque::cli::Main(argc, argv, registry);
}
