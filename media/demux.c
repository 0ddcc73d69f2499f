/* demux.c — RFC 7983 first-byte demultiplexing; see demux.h. */
#include "media/demux.h"

dc_pkt_kind dc_demux(const uint8_t *data, size_t len) {
  if (len == 0)
    return DC_PKT_UNKNOWN;
  uint8_t b = data[0];
  if (b <= 3)
    return len >= 20 ? DC_PKT_STUN : DC_PKT_UNKNOWN;
  if (b >= 16 && b <= 19)
    return DC_PKT_ZRTP;
  if (b >= 20 && b <= 63)
    return len >= 13 ? DC_PKT_DTLS : DC_PKT_UNKNOWN; /* 13-byte DTLS record header */
  if (b >= 64 && b <= 79)
    return DC_PKT_TURN_CHANNEL;
  if (b >= 128 && b <= 191) {
    if (len < 2)
      return DC_PKT_UNKNOWN;
    uint8_t pt = data[1];
    if (pt >= 192 && pt <= 223)
      return len >= 8 ? DC_PKT_RTCP : DC_PKT_UNKNOWN;
    return len >= 12 ? DC_PKT_RTP : DC_PKT_UNKNOWN;
  }
  return DC_PKT_UNKNOWN;
}

const char *dc_pkt_kind_str(dc_pkt_kind kind) {
  switch (kind) {
  case DC_PKT_UNKNOWN: return "unknown";
  case DC_PKT_STUN: return "STUN";
  case DC_PKT_ZRTP: return "ZRTP";
  case DC_PKT_DTLS: return "DTLS";
  case DC_PKT_TURN_CHANNEL: return "TURN channel";
  case DC_PKT_RTP: return "RTP";
  case DC_PKT_RTCP: return "RTCP";
  }
  return "unknown";
}
