/*
 * cache.h: the read cache's keys, store and flights (pure: no I/O, no clock of its own, no
 * logging).  The gateway side (cachegw.h) decides which calls use them and when.
 *
 * Two features share one notion of "the same read":
 *
 *   cache       a successful reply kept for cache-ttl ms and served to later identical reads
 *   coalescing  identical reads arriving while one is in flight wait for its reply instead of
 *               going upstream themselves
 *
 * The key (rbgw_cache_key) is derived per method from the method table: the method, the call's
 * DNS name (its callname parameter) in canonical form (dname.h: case, escapes and the trailing
 * dot folded, RFC 4343), and every other parameter in json11 form (members sorted, so the
 * byte order pdns or the REST ingress wrote them in does not matter).  The client's address
 * (lookup's remote and real-remote) is part of the key unless per_client is off: a responder
 * that answers by client address (geo answers, views) must never see one client's answer
 * served to another.  local (the address pdns was asked on) always is.
 *
 * Which reads use what (enum rbgw_cache_use), from the method table (method.h, .cache):
 *
 *   STORE  reads with a call name that is a DNS name: cached and coalesced (lookup, list,
 *          getDomainMetadata, getAllDomainMetadata, getDomainKeys, getTSIGKey, APILookup)
 *   SHARE  coalesced only: reads that name no DNS name (getAllDomains, getUpdatedMasters,
 *          getBeforeAndAfterNamesAbsolute, searchRecords, ...: no write could be matched to
 *          them), and getDomainInfo (.cache = SHARE_ONLY)
 *   NONE   writes, and reads whose parameters are not an object
 *
 * Store: entries (key, reply, expiry) are chained in a hash table and sit on one LRU list;
 * the whole (entry headers, keys, replies) is bounded by max_bytes, least recently used out
 * first; an entry over max_bytes / 8 is not stored.  Expiry is checked against the caller's
 * clock (the loop's time) when an entry is found: no timer per entry.  A lookup allocates
 * nothing and hands out a view of the stored reply.  Invalidation is lazy (cache.c): a write
 * leaves marks on the names it covers, and an entry found older than a mark on its name or a
 * parent's is dropped then.
 *
 * Flights: reads in flight, in a table of their own (intrusive: the caller's memory), so that
 * identical reads can find one to wait for, and so that a write can end them: a write to a
 * name drops every entry, and ends every flight, whose name is at or below that name or above
 * it (its zone apex and the zone-level reads: list, metadata, keys); a wildcard "*.x" counts as
 * x.  An ended flight is out of the table (nobody joins it any more) and stale: its reply is
 * still the answer of the reads waiting for it, which were sent before the write completed,
 * but it is not stored.  Reads without a name are ended by every write.
 */
#ifndef RBGW_CACHE_H
#define RBGW_CACHE_H

#include <stdbool.h>
#include <stdint.h>

#include "rbgw/buf.h"
#include "rbgw/json.h"
#include "rbgw/list.h"
#include "rbgw/method.h"

struct rbgw_cache_opts {
    uint32_t ttl_ms;  /* cache-ttl: how long a reply is served; 0: nothing is stored */
    size_t max_bytes; /* cache-size: entries, keys and replies together */
    bool per_client;  /* cache-per-client: remote and real-remote are part of the key */
    bool coalesce;    /* coalesce: identical reads in flight share one upstream call */
    uint64_t seed;    /* the key hash's seed: random per process (cachegw.c), fixed in tests */
};

/*
 * Counters, for the status line and metrics.  A read the cache or coalescing looked at is
 * exactly one of hits, coalesced and misses; upstream calls saved = hits + coalesced.
 */
struct rbgw_cache_stats {
    uint64_t hits;          /* reads answered from the cache */
    uint64_t coalesced;     /* reads answered with an identical read's reply (or failure) */
    uint64_t misses;        /* reads sent upstream */
    uint64_t bypassed;      /* reads neither could use: in a transaction, no key, or coalesced
                               only while coalescing is off */
    uint64_t inserts;       /* replies stored */
    uint64_t evictions;     /* entries dropped for room, least recently used first */
    uint64_t expired;       /* entries dropped when found past their TTL */
    uint64_t invalidations; /* entries dropped as stale after a write, or by a reload */
    uint64_t entries;       /* entries held now (stale ones not found since included) */
    uint64_t bytes;         /* bytes held now (entry headers, keys, replies) */
};

enum rbgw_cache_use {
    RBGW_CACHE_USE_NONE,  /* neither cached nor coalesced */
    RBGW_CACHE_USE_SHARE, /* coalesced only */
    RBGW_CACHE_USE_STORE, /* cached and coalesced */
};

/*
 * Key layout: byte 0 the method, byte 1 the length of the canonical name plus one (0: the key
 * holds no name), the canonical name, then the other parameters as one json11 object.
 */
#define RBGW_CACHE_KEY_NAME 2 /* offset of the canonical name */

/**
 * Append the key of a call of method m with parameters params to out (which the caller
 * resets), and say how the read may be used.  NONE leaves out as it was.
 */
enum rbgw_cache_use rbgw_cache_key(enum rbgw_method m, const struct rbgw_json *params,
                                   bool per_client, struct rbgw_buf *out);

/**
 * The same key from the call's text, without a tree: params is the text of its "parameters"
 * value (NULL when it has none; the caller's scan found the call valid).  Values go into the
 * key as written, so for a call in json11 form (pdns's connectors, the REST ingress) the key
 * is byte for byte rbgw_cache_key's; another spelling of a value only makes another key.
 * Returns an enum rbgw_cache_use, or -1 (out unchanged) when the tree must decide: escapes
 * in a member's key or in the call name, parameters that are not an object.
 */
int rbgw_cache_key_text(enum rbgw_method m, struct rbgw_str params, bool per_client,
                        struct rbgw_buf *out);

/** The canonical name a key holds (RBGW_CACHE_KEY_NAME on); false when it holds none. */
bool rbgw_cache_key_name(struct rbgw_str key, struct rbgw_str *name);

struct rbgw_cache;

/** Hash of a key, with the cache's seed (for its store and its flights). */
uint64_t rbgw_cache_hash(const struct rbgw_cache *c, struct rbgw_str key);

/* A read in flight (the caller's memory, alive until rbgw_cache_flight_remove). */
struct rbgw_cache_flight {
    struct rbgw_str key;   /* its key (the caller's memory, as long as the flight) */
    uint64_t hash;         /* rbgw_cache_hash(key) */
    bool store;            /* RBGW_CACHE_USE_STORE: its reply may be stored */
    bool stale;            /* a write or a reload ended it: its reply must not be stored */
    bool listed;           /* in the cache's flight table */
    struct rbgw_list link; /* in its bucket of the flight table while listed */
};

/** An empty cache with these options. */
struct rbgw_cache *rbgw_cache_new(const struct rbgw_cache_opts *opts);
/** Free it and every entry; no flight may be listed. */
void rbgw_cache_free(struct rbgw_cache *c);
/**
 * New options (a reload): every entry is dropped and every flight ended, since what was
 * cached may come from upstreams or routes that changed.
 */
void rbgw_cache_configure(struct rbgw_cache *c, const struct rbgw_cache_opts *opts);
const struct rbgw_cache_opts *rbgw_cache_opts(const struct rbgw_cache *c);
/** The counters (the gateway side counts hits, coalesced, misses, bypassed in them). */
struct rbgw_cache_stats *rbgw_cache_stats(struct rbgw_cache *c);
/** A buffer for building keys, kept between calls (no allocation once it has grown). */
struct rbgw_buf *rbgw_cache_scratch(struct rbgw_cache *c);

/**
 * The reply stored under key if it is fresh at now (loop time, ms): true and *reply (valid
 * until the cache is next changed); false if there is none.  A stale entry found is dropped.
 * The entry found becomes the most recently used.  Allocates nothing.
 */
bool rbgw_cache_get(struct rbgw_cache *c, struct rbgw_str key, uint64_t hash, uint64_t now,
                    struct rbgw_str *reply);
/**
 * Store reply under key (copied) until now + ttl_ms, replacing an older entry, then drop
 * entries from the least recently used end until the cache fits max_bytes.  Nothing happens
 * when ttl_ms is 0 or the entry would be over max_bytes / 8.
 */
void rbgw_cache_put(struct rbgw_cache *c, struct rbgw_str key, uint64_t hash, struct rbgw_str reply,
                    uint64_t now);

/**
 * A write to name (text form) completed at now: the entries, and the flights, at, above or
 * below it (a wildcard "*.x" as x) are stale from now on, and so are the flights without a
 * name.  Entries are dropped when next found (counted in invalidations then); flights are
 * ended at once.  Text that is no DNS name makes everything stale.
 */
void rbgw_cache_invalidate(struct rbgw_cache *c, struct rbgw_str name, uint64_t now);
/** Every entry is stale from now on, every flight ended. */
void rbgw_cache_invalidate_all(struct rbgw_cache *c);
/** End the flights of coalesced-only reads (a write of zone state: setNotified, ...). */
void rbgw_cache_end_shared(struct rbgw_cache *c);

/** List a flight (key, hash and store set): identical reads may find it. */
void rbgw_cache_flight_add(struct rbgw_cache *c, struct rbgw_cache_flight *f);
/** A listed flight with this key, or NULL. */
struct rbgw_cache_flight *rbgw_cache_flight_find(struct rbgw_cache *c, struct rbgw_str key,
                                                 uint64_t hash);
/** Take f out of the table (if listed); idempotent. */
void rbgw_cache_flight_remove(struct rbgw_cache *c, struct rbgw_cache_flight *f);

#endif
