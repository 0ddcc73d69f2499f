/* libFuzzer target: RTCP validation, iteration and every typed reader, including
 * transport-wide CC feedback; a feedback that parses is written back and must parse again
 * to the same statuses. */
#include <stdlib.h>
#include <string.h>

#include "media/rtcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static dc_twcc_packet twcc_pkts[65536], twcc_again[65536];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  uint8_t *copy = malloc(size ? size : 1); /* exact size: reads past the end trip ASan */
  memcpy(copy, data, size);
  (void)dc_rtcp_validate(copy, size);
  dc_rtcp_iter it;
  dc_rtcp_iter_init(&it, copy, size);
  dc_rtcp_pkt pkt;
  while (dc_rtcp_next(&it, &pkt) == DC_OK) {
    dc_rtcp_report rep;
    dc_rtcp_sdes sdes;
    dc_rtcp_bye bye;
    dc_rtcp_fb fb;
    dc_rtcp_remb remb;
    dc_rtcp_twcc tw;
    uint16_t seqs[256];
    switch (dc_rtcp_kind_of(&pkt)) {
    case DC_RTCP_SR:
    case DC_RTCP_RR: (void)dc_rtcp_parse_report(&pkt, &rep); break;
    case DC_RTCP_SDES: (void)dc_rtcp_parse_sdes(&pkt, &sdes); break;
    case DC_RTCP_BYE: (void)dc_rtcp_parse_bye(&pkt, &bye); break;
    case DC_RTCP_NACK:
      if (dc_rtcp_parse_fb(&pkt, &fb) == DC_OK)
        (void)dc_rtcp_nack_expand(&fb, seqs, 256);
      break;
    case DC_RTCP_FIR:
      if (dc_rtcp_parse_fb(&pkt, &fb) == DC_OK)
        for (size_t i = 0; i < dc_rtcp_fir_entries(&fb); i++) {
          uint32_t s;
          uint8_t n;
          dc_rtcp_fir_entry(&fb, i, &s, &n);
        }
      break;
    case DC_RTCP_REMB:
      if (dc_rtcp_parse_fb(&pkt, &fb) == DC_OK && dc_rtcp_parse_remb(&fb, &remb) == DC_OK)
        for (size_t i = 0; i < remb.n_ssrcs; i++)
          (void)dc_rtcp_remb_ssrc(&remb, i);
      break;
    case DC_RTCP_TWCC:
      if (dc_rtcp_parse_fb(&pkt, &fb) == DC_OK &&
          dc_rtcp_parse_twcc(&fb, &tw, twcc_pkts, 65536) == DC_OK && tw.status_count > 0) {
        uint8_t out[16384];
        dc_rtcp_writer w;
        dc_rtcp_writer_init(&w, out, sizeof out);
        if (dc_rtcp_write_twcc(&w, 1, 2, &tw, twcc_pkts) == DC_OK) {
          dc_rtcp_iter it2;
          dc_rtcp_pkt p2;
          dc_rtcp_fb fb2;
          dc_rtcp_twcc tw2;
          dc_rtcp_iter_init(&it2, out, w.len);
          if (dc_rtcp_next(&it2, &p2) != DC_OK || dc_rtcp_parse_fb(&p2, &fb2) != DC_OK ||
              dc_rtcp_parse_twcc(&fb2, &tw2, twcc_again, 65536) != DC_OK)
            abort();
          for (size_t i = 0; i < tw.status_count; i++)
            if (twcc_again[i].received != twcc_pkts[i].received ||
                (twcc_pkts[i].received && twcc_again[i].arrival_us != twcc_pkts[i].arrival_us))
              abort();
        }
      }
      break;
    default: break;
    }
  }
  free(copy);
  return 0;
}
