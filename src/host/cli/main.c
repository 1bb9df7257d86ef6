/* main.c: the fce-gpu entry point; everything is in cli.c. */
#include "cli/cli.h"

int main(int argc, char **argv) { return fce_cli_main(argc, argv); }
