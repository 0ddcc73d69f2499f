/* demux.h — which protocol a datagram on the shared ICE socket carries.
 *
 * With BUNDLE and rtcp-mux, STUN, DTLS, RTP and RTCP all arrive on one 5-tuple. RFC 7983 §7
 * tells them apart by the first byte (0–3 STUN, 20–63 DTLS, 128–191 RTP/RTCP); RFC 5761 §4
 * then splits RTP from RTCP by the second byte: payload types 192–223 are RTCP, a range no
 * dynamic RTP payload type may use under rtcp-mux. ZRTP (16–19) and TURN channel data
 * (64–79) are recognised only to be dropped: libnice consumes TURN framing before us.
 */
#ifndef DC_DEMUX_H
#define DC_DEMUX_H

#include <stddef.h>
#include <stdint.h>

typedef enum {
  DC_PKT_UNKNOWN = 0,
  DC_PKT_STUN,
  DC_PKT_ZRTP,
  DC_PKT_DTLS,
  DC_PKT_TURN_CHANNEL,
  DC_PKT_RTP,
  DC_PKT_RTCP,
} dc_pkt_kind;

/* Classifies by the first two bytes only; lengths are checked by each protocol's parser.
 * Datagrams too short to carry their protocol's fixed header are DC_PKT_UNKNOWN. */
dc_pkt_kind dc_demux(const uint8_t *data, size_t len);

const char *dc_pkt_kind_str(dc_pkt_kind kind);

#endif
