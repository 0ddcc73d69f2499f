/* request.h — the parts of an operator's HTTP request the API reads by hand (libsoup has
 * parsed the HTTP itself): an /api/ path's segments and ids, and one cookie's value from a
 * Cookie header (RFC 6265 §5.4 form: "name=value; name=value"). Untrusted bytes, so
 * tests/fuzz/fuzz_api_request runs both. Left out: quoted cookie values, percent-decoding
 * (our paths and cookies never need them; a segment with '%' simply names nothing).
 */
#ifndef DC_REQUEST_H
#define DC_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DC_API_MAX_SEGMENTS 6
#define DC_API_SEGMENT_LEN 32

/* "/api/meetings/12/live" → {"meetings", "12", "live"}: the count, or -1 for a path that is
 * not under /api/, has more or longer segments than we have, or an empty one. */
int dc_api_path_segments(const char *path, char seg[DC_API_MAX_SEGMENTS][DC_API_SEGMENT_LEN]);
/* A positive decimal id (no sign, no spaces, at most 18 digits). */
bool dc_api_parse_id(const char *s, int64_t *out);
/* The value of cookie `name` in a Cookie header, copied into out (NUL-terminated); false
 * when absent or longer than cap - 1. */
bool dc_cookie_value(const char *header, const char *name, char *out, size_t cap);

#endif
