/*
 * merge.h: read=merge: the replies of every member of a pool become the one reply pdns reads
 * (pure).  docs/fanout.md, "Merging replies", describes the result from the operator's side.
 */
#ifndef RBGW_MERGE_H
#define RBGW_MERGE_H

#include "rbgw/buf.h"
#include "rbgw/method.h"

/**
 * Merge read replies by the method's merge rule (method.h): for methods whose result is a
 * record or DomainInfo array (lookup, APILookup, list, searchRecords, getAllDomains,
 * getUpdatedMasters, getUnfreshSlaveInfos, getTSIGKeys, getDomainKeys) concatenate the arrays
 * of successful replies (DomainInfo lists: keep the first entry per zone name); for other
 * methods the first successful reply in member order wins (the first with data, else the
 * first empty success).  Record objects are copied as written (key order, number text).  Every
 * "log" array, those of false replies included, is concatenated in member order.
 * replies[i] is NULL (.p == NULL) for a failed leg.  Writes one JSON object line to out.
 * Returns 0, or RBGW_EPROTO when no leg succeeded (out untouched).
 */
int rbgw_merge_replies(struct rbgw_arena *a, enum rbgw_method m, const struct rbgw_str *replies,
                       size_t n, struct rbgw_buf *out) RBGW_MUSTCHECK;

#endif
