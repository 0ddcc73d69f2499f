/* bytes.h — status codes and network-byte-order helpers shared by libdiemcau-media.
 *
 * Every parser in media/ reports failure with a dc_status instead of a bare -1, so a caller
 * (and a log line) can say *why* a packet was dropped without a second look at the bytes.
 * The big-endian readers and writers are static inline because they sit on the per-packet
 * path; they never check bounds themselves: callers check lengths first, once.
 */
#ifndef DC_BYTES_H
#define DC_BYTES_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  DC_OK = 0,
  DC_ERR_TRUNCATED,   /* shorter than its own header or length fields say */
  DC_ERR_MALFORMED,   /* fields that contradict each other or the spec */
  DC_ERR_UNSUPPORTED, /* well-formed, but a version or type we do not handle */
  DC_ERR_NO_SPACE,    /* the caller's output buffer is too small */
  DC_ERR_NOT_FOUND,   /* the asked-for element is not present */
  DC_ERR_AUTH,        /* authentication tag did not verify */
  DC_ERR_REPLAY,      /* already seen, or too old for the replay window */
  DC_ERR_STATE,       /* not allowed in the object's current state */
  DC_ERR_INTERNAL,    /* a library below us failed; see the log of that library */
} dc_status;

/* A short English phrase for logs and error replies; never NULL. */
const char *dc_status_str(dc_status status);

static inline uint16_t dc_rd16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static inline uint32_t dc_rd24(const uint8_t *p) {
  return (uint32_t)p[0] << 16 | (uint32_t)p[1] << 8 | p[2];
}
static inline uint32_t dc_rd32(const uint8_t *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t dc_rd64(const uint8_t *p) {
  return (uint64_t)dc_rd32(p) << 32 | dc_rd32(p + 4);
}
static inline void dc_wr16(uint8_t *p, uint16_t v) {
  p[0] = (uint8_t)(v >> 8);
  p[1] = (uint8_t)v;
}
static inline void dc_wr24(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 16);
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)v;
}
static inline void dc_wr32(uint8_t *p, uint32_t v) {
  p[0] = (uint8_t)(v >> 24);
  p[1] = (uint8_t)(v >> 16);
  p[2] = (uint8_t)(v >> 8);
  p[3] = (uint8_t)v;
}
static inline void dc_wr64(uint8_t *p, uint64_t v) {
  dc_wr32(p, (uint32_t)(v >> 32));
  dc_wr32(p + 4, (uint32_t)v);
}

#endif
