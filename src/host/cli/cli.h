/* cli.h: the fce-gpu command line: subcommands and a table-driven option parser. One table
 * drives both parsing and --help, so they cannot drift apart. */
#ifndef FCE_CLI_H
#define FCE_CLI_H

/* Runs the command line; returns the process exit code: 0 success, 1 runtime failure (message
 * already printed), 2 usage or configuration error. */
int fce_cli_main(int argc, char **argv);

#endif
