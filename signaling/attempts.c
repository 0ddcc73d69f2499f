/* attempts.c — failed attempts per address; see attempts.h. */
#include "signaling/attempts.h"

typedef struct {
  double tokens;
  int64_t at_ms;
} bucket;

struct dc_attempts {
  GHashTable *by_address; /* char* -> bucket* */
  unsigned burst, refill_ms;
};

dc_attempts *dc_attempts_new(unsigned burst, unsigned refill_ms) {
  dc_attempts *a = g_new0(dc_attempts, 1);
  a->by_address = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
  a->burst = MAX(burst, 1);
  a->refill_ms = MAX(refill_ms, 1);
  return a;
}

void dc_attempts_free(dc_attempts *a) {
  if (!a)
    return;
  g_hash_table_unref(a->by_address);
  g_free(a);
}

/* The address's bucket brought up to now; NULL when it has none (a whole allowance). */
static bucket *refill(dc_attempts *a, const char *address, int64_t now_ms) {
  bucket *b = g_hash_table_lookup(a->by_address, address);
  if (b && now_ms > b->at_ms) {
    b->tokens = MIN((double)a->burst, b->tokens + (double)(now_ms - b->at_ms) / a->refill_ms);
    b->at_ms = now_ms;
  }
  return b;
}

bool dc_attempts_allowed(dc_attempts *a, const char *address, int64_t now_ms) {
  bucket *b = refill(a, address ? address : "", now_ms);
  return !b || b->tokens >= 1;
}

unsigned dc_attempts_failed(dc_attempts *a, const char *address, int64_t now_ms) {
  const char *key = address ? address : "";
  bucket *b = refill(a, key, now_ms);
  if (!b) {
    b = g_new(bucket, 1);
    *b = (bucket){a->burst, now_ms};
    g_hash_table_insert(a->by_address, g_strdup(key), b);
  }
  b->tokens = MAX(b->tokens - 1, 0);
  return (unsigned)b->tokens;
}

static gboolean whole(gpointer key, gpointer value, gpointer data) {
  const dc_attempts *a = ((gpointer *)data)[0];
  int64_t now = *(int64_t *)((gpointer *)data)[1];
  const bucket *b = value;
  return b->tokens + (double)(now - b->at_ms) / a->refill_ms >= a->burst;
}

void dc_attempts_prune(dc_attempts *a, int64_t now_ms) {
  gpointer data[] = {a, &now_ms};
  g_hash_table_foreach_remove(a->by_address, whole, data);
}

unsigned dc_attempts_tracked(const dc_attempts *a) { return g_hash_table_size(a->by_address); }
