/*
 * httphdr.h: the extra request headers of an http upstream (header=, header-file=).
 *
 * An http upstream may add its own headers to every request, typically credentials for the
 * responder ("Authorization: Bearer ...").  They come from two options, both repeatable:
 *
 *   header=NAME: VALUE    one header; a connection string cannot hold a comma, so a value
 *                         with a comma goes in a file
 *   header-file=PATH      a file of "NAME: VALUE" lines (blank lines and '#' lines skipped,
 *                         LF or CRLF line ends), so a secret stays out of the command line,
 *                         the process listing and the config echo
 *
 * Every header is checked once, at configuration time: NAME must be an HTTP token, VALUE must
 * hold no control byte (CR and LF above all: they would split the request's header block), and
 * NAME must not be one rbgw writes itself or one that changes framing (Host, Content-Length,
 * Transfer-Encoding, Connection, ...) or one that carries call parameters (X-RemoteBackend-*).
 * Error texts name the header and the source, never the value.  The result is rendered once
 * as "NAME: VALUE\r\n" lines that the translation appends to every request's head.
 */
#ifndef RBGW_HTTPHDR_H
#define RBGW_HTTPHDR_H

#include "rbgw/buf.h"
#include "rbgw/connstr.h"

#define RBGW_HTTPHDR_MAX_FILE 65536 /* bytes: a header file larger than this is refused */
#define RBGW_HTTPHDR_MAX 64         /* headers per upstream */

/**
 * Check one "NAME: VALUE" header (len bytes at line, no line end).  Returns 0 and sets *name
 * and *value (views into line; the value without surrounding blanks), or RBGW_ECONFIG with a
 * reason in err that does not quote the value.
 */
int rbgw_httphdr_parse(const char *line, size_t len, struct rbgw_str *name, struct rbgw_str *value,
                       char *err, size_t errlen) RBGW_MUSTCHECK;

/**
 * Read the header= and header-file= options of cs (files are read now), check every header
 * and append them to out as "NAME: VALUE\r\n" lines, header= first in the order written, then
 * each file's lines.  A header NAME given twice (in any spelling of case) is refused.  Returns
 * 0 (out may stay empty: no extra headers), or RBGW_ECONFIG with a reason in err ("header-file=
 * /etc/rbgw/auth: line 2: header Host is written by rbgw itself") and out unchanged.
 */
int rbgw_httphdr_build(const struct rbgw_connstr *cs, struct rbgw_buf *out, char *err,
                       size_t errlen) RBGW_MUSTCHECK;

#endif
