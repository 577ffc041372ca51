#include "strata-cli.h"

int
main (int argc, char **argv)
{
  return strata_cli_main (argc, argv);
}
