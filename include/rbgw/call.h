/*
 * call.h: `rbgw call`: send one remote-backend call to any connection string, print the reply.
 */
#ifndef RBGW_CALL_H
#define RBGW_CALL_H

/**
 * argv[0] is "call".  Usage:
 *   rbgw call [--key=value ...] CONNSTR METHOD [name=string | name:=json ...]
 * Prints the reply line on stdout.  Returns the process exit status: 0 when the result is not
 * false, 1 when it is false (or rbgw answered false), 2 on a usage or configuration error.
 */
int rbgw_call_main(int argc, char **argv);

#endif
