/* attempts.h — failed attempts per address (a token bucket each), so that guessing a join
 * token or an operator key costs time: `burst` failures at once, then one per `refill_ms`.
 * The bridge counts invalid tokens and refused keys by the client's address; while an
 * address is over its allowance those requests are refused unread (too-many-attempts, 429).
 *
 * Left out: counting by anything but the address (a district's points may share one NAT
 * address, so the allowance is generous and recovers within a minute).
 */
#ifndef DC_ATTEMPTS_H
#define DC_ATTEMPTS_H

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct dc_attempts dc_attempts;

dc_attempts *dc_attempts_new(unsigned burst, unsigned refill_ms);
void dc_attempts_free(dc_attempts *a);
/* Whether the address may try now (it has an allowance left). */
bool dc_attempts_allowed(dc_attempts *a, const char *address, int64_t now_ms);
/* A failure from the address: it spends one of its allowance. Returns what is left. */
unsigned dc_attempts_failed(dc_attempts *a, const char *address, int64_t now_ms);
/* Forgets addresses whose allowance is whole again (call now and then). */
void dc_attempts_prune(dc_attempts *a, int64_t now_ms);
unsigned dc_attempts_tracked(const dc_attempts *a);

#endif
