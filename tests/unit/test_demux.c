/* Unit tests for media/demux: RFC 7983 first-byte ranges and the RFC 5761 RTP/RTCP split. */
#include <glib.h>

#include "media/demux.h"

static void test_ranges(void) {
  uint8_t buf[32] = {0};
  buf[0] = 0x00, buf[1] = 0x01; /* STUN binding request */
  g_assert_cmpint(dc_demux(buf, 20), ==, DC_PKT_STUN);
  g_assert_cmpint(dc_demux(buf, 19), ==, DC_PKT_UNKNOWN); /* shorter than a STUN header */
  buf[0] = 22;                                            /* DTLS handshake record */
  g_assert_cmpint(dc_demux(buf, 13), ==, DC_PKT_DTLS);
  g_assert_cmpint(dc_demux(buf, 12), ==, DC_PKT_UNKNOWN);
  buf[0] = 63;
  g_assert_cmpint(dc_demux(buf, 20), ==, DC_PKT_DTLS);
  buf[0] = 17;
  g_assert_cmpint(dc_demux(buf, 20), ==, DC_PKT_ZRTP);
  buf[0] = 64;
  g_assert_cmpint(dc_demux(buf, 20), ==, DC_PKT_TURN_CHANNEL);
  buf[0] = 0x80, buf[1] = 111; /* Opus */
  g_assert_cmpint(dc_demux(buf, 12), ==, DC_PKT_RTP);
  buf[1] = 0x80 | 96; /* marker bit + 96 = 224: still RTP */
  g_assert_cmpint(dc_demux(buf, 12), ==, DC_PKT_RTP);
  for (int pt = 192; pt <= 223; pt++) {
    buf[1] = (uint8_t)pt;
    g_assert_cmpint(dc_demux(buf, 8), ==, DC_PKT_RTCP);
  }
  buf[0] = 0x81, buf[1] = 200;
  g_assert_cmpint(dc_demux(buf, 4), ==, DC_PKT_UNKNOWN);
  buf[0] = 0xC0; /* 192: outside every range */
  g_assert_cmpint(dc_demux(buf, 20), ==, DC_PKT_UNKNOWN);
  buf[0] = 100;
  g_assert_cmpint(dc_demux(buf, 20), ==, DC_PKT_UNKNOWN);
  g_assert_cmpint(dc_demux(buf, 0), ==, DC_PKT_UNKNOWN);
  g_assert_cmpstr(dc_pkt_kind_str(DC_PKT_RTCP), ==, "RTCP");
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/demux/ranges", test_ranges);
  return g_test_run();
}
