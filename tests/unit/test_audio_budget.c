/* What the bridge keeps from a receiver's video for its audio (bridge/room.c): the tier's
 * mix, and the RED copies it sends that receiver, as audio.c decides them: none on a
 * clean link, one with --red-always from the first packet, more on deep loss (on the highland
 * tier only where it comes in runs), whose copies are the mixer's smaller encode. */
#include <glib.h>

#include "bridge/room_private.h"

static void test_clean_link_pays_no_copy(void) {
  for (int t = 0; t < DC_TIER_COUNT; t++) {
    g_assert_cmpuint(dc_audio_down_policy_bps((dc_tier)t, true, 0, false, false), ==, link_profiles[t].audio_bps);
    g_assert_cmpuint(dc_audio_down_policy_bps((dc_tier)t, false, 0, false, false), ==, link_profiles[t].audio_bps);
  }
}

static void test_red_always_counts_one_copy(void) {
  for (int t = 0; t < DC_TIER_COUNT; t++) {
    uint64_t bps = dc_audio_down_policy_bps((dc_tier)t, true, 0, false, true);
    g_test_message("%d: %" G_GUINT64_FORMAT " bit/s with --red-always", t, bps);
    g_assert_cmpuint(bps, ==, link_profiles[t].audio_bps + link_profiles[t].mix_copy_bps);
    /* a receiver that did not negotiate RED gets none, whatever the option */
    g_assert_cmpuint(dc_audio_down_policy_bps((dc_tier)t, false, 0, false, true), ==, link_profiles[t].audio_bps);
  }
}

static void test_loss_counts_the_copies_sent(void) {
  unsigned ten_percent = 26; /* 1/256 */
  uint64_t standard = dc_audio_down_policy_bps(DC_TIER_STANDARD, true, ten_percent, false, false);
  uint64_t highland = dc_audio_down_policy_bps(DC_TIER_HIGHLAND, true, ten_percent, false, false);
  g_test_message("10 %% loss: standard %" G_GUINT64_FORMAT ", highland %" G_GUINT64_FORMAT " bit/s", standard, highland);
  g_assert_cmpuint(standard, ==, link_profiles[DC_TIER_STANDARD].audio_bps + 2 * link_profiles[DC_TIER_STANDARD].mix_copy_bps);
  g_assert_cmpuint(highland, ==, link_profiles[DC_TIER_HIGHLAND].audio_bps + link_profiles[DC_TIER_HIGHLAND].mix_copy_bps);
  /* --red-always adds nothing where loss already brought copies */
  g_assert_cmpuint(dc_audio_down_policy_bps(DC_TIER_STANDARD, true, ten_percent, false, true), ==, standard);
  g_assert_cmpuint(dc_audio_down_policy_bps(DC_TIER_STANDARD, false, ten_percent, false, false), ==,
                   link_profiles[DC_TIER_STANDARD].audio_bps);
  /* a highland link that loses in runs takes a second copy, and its budget counts it */
  g_assert_cmpuint(dc_audio_down_policy_bps(DC_TIER_HIGHLAND, true, ten_percent, true, false), ==,
                   link_profiles[DC_TIER_HIGHLAND].audio_bps + 2 * link_profiles[DC_TIER_HIGHLAND].mix_copy_bps);
}

/* The highland mix's copy is the 8 kbit/s encode: reserving the full frame's rate for it took
 * ~8 kbit/s from a 128 kbit/s point's video for nothing. A point's own uplink copy is its
 * frame again, at the full rate. */
static void test_highland_copy_is_the_small_encode(void) {
  const dc_link_profile *h = &link_profiles[DC_TIER_HIGHLAND];
  g_assert_cmpuint(h->mix_copy_bps, >=, DC_MIX_COPY_BITRATE);
  g_assert_cmpuint(h->mix_copy_bps, <, DC_MIX_COPY_BITRATE + 2000);
  g_assert_cmpuint(h->mix_copy_bps, <, h->red_copy_bps);
}

int main(int argc, char **argv) {
  g_test_init(&argc, &argv, NULL);
  g_test_add_func("/audio-budget/clean-link-pays-no-copy", test_clean_link_pays_no_copy);
  g_test_add_func("/audio-budget/red-always-counts-one-copy", test_red_always_counts_one_copy);
  g_test_add_func("/audio-budget/loss-counts-the-copies-sent", test_loss_counts_the_copies_sent);
  g_test_add_func("/audio-budget/highland-copy-is-the-small-encode", test_highland_copy_is_the_small_encode);
  return g_test_run();
}
