/*
 * status.h: `rbgw status`: print a running rbgw's state from its admin endpoint (admin.h).
 */
#ifndef RBGW_STATUS_H
#define RBGW_STATUS_H

/**
 * argv[0] is "status".  Usage: rbgw status [--config=FILE] [ADDRESS].  Prints tables on
 * stdout.  Returns the exit status: 0 printed, 1 the endpoint could not be reached or read
 * (with a message on stderr), 2 usage or configuration error.
 */
int rbgw_status_main(int argc, char **argv);

#endif
