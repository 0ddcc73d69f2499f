/* router.h — the video router's per-slot core, sans-IO.
 *
 * A slot is one outgoing video stream of a receiver (its main slot or a thumbnail), with the
 * bridge's own SSRC. Whichever source and simulcast layer feeds it, the receiver must see
 * one continuous VP8 stream: dc_slot_forward rewrites SSRC, sequence number, timestamp,
 * PictureID and TL0PICIDX (RFC 7741 §4.2) so that a switch looks like the next frame, and
 * it switches to a newly wanted source or layer only where that one starts a key frame
 * (RFC 7741 §4.3); until then the old one keeps flowing. Gaps that are real loss stay gaps:
 * offsets change only at a switch, so the receiver's NACKs still name real packets.
 *
 * dc_pli_throttle keeps a source from being asked for key frames more than a few times a
 * second, however many receivers switch to it (RFC 4585 §6.3.1 PLI; RFC 5104 §4.3.1 FIR).
 *
 * Left out here (the rest of the router issue): layer choice from bandwidth estimates, the
 * packet cache answering NACKs, RTX, and the slot map.
 */
#ifndef DC_ROUTER_H
#define DC_ROUTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "media/bytes.h"

#define DC_SLOT_NONE (-1)

typedef struct {
  uint32_t out_ssrc;
  uint8_t out_pt;
  /* what feeds the slot now, and what should */
  int64_t source, want_source; /* DC_SLOT_NONE: nothing */
  int layer, want_layer;
  /* continuity: out = in + delta, per field */
  bool started;
  uint32_t in_ssrc;
  uint16_t seq_delta, last_seq;
  uint32_t ts_delta, last_ts;
  uint16_t pid_delta, last_pid;
  uint8_t tl0_delta, last_tl0;
  uint64_t last_us;
  unsigned switches;
} dc_slot;

void dc_slot_init(dc_slot *s, uint32_t out_ssrc, uint8_t out_pt);
/* What the slot should carry from now on; the switch happens at that source's next key
 * frame. DC_SLOT_NONE stops the slot at once. */
void dc_slot_want(dc_slot *s, int64_t source, int layer);
/* True when the slot waits for a key frame from its wanted source (ask for one). */
bool dc_slot_needs_keyframe(const dc_slot *s);

typedef enum {
  DC_SLOT_DROP,    /* not for this slot (another source or layer, or no key frame yet) */
  DC_SLOT_SEND,    /* buf was rewritten in place: send it */
  DC_SLOT_INVALID, /* not a VP8 RTP packet we can forward */
} dc_slot_result;

/* buf holds len bytes of a decrypted RTP packet from `source` at simulcast `layer`.
 * now_us is the caller's clock (for the frame gap used at a switch). */
dc_slot_result dc_slot_forward(dc_slot *s, int64_t source, int layer, uint8_t *buf, size_t len,
                               uint64_t now_us);

typedef struct {
  uint64_t interval_us;
  uint64_t last_us;
  bool ever;
} dc_pli_throttle;

/* True when a key-frame request may go to the source now (and records it). */
bool dc_pli_allow(dc_pli_throttle *t, uint64_t now_us);

#endif
