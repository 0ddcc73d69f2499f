/* media_receive.c — the endpoint's received streams (webrtcbin's pad-added, on its streaming
 * thread): the mix joins the playback's mixer (media_audio.c makes its branch), video slot k
 * is decoded into its tile of the screen's grid, labelled with its point's name, or into a
 * fake sink on a box without a screen; each slot's decoded frames are counted. See
 * media_private.h. */
#include "endpoint/media_private.h"

static GstPadProbeReturn count_frame(GstPad *pad, GstPadProbeInfo *info, gpointer data) {
  (void)pad, (void)info;
  g_atomic_int_inc((gint *)data);
  return GST_PAD_PROBE_OK;
}

/* A received stream: audio joins the playback mix, video slot k its tile (or a fake sink). */
void media_on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data) {
  (void)webrtc;
  dc_endpoint_media *m = data;
  if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
    return;
  GstWebRTCRTPTransceiver *t = NULL;
  g_object_get(pad, "transceiver", &t, NULL);
  if (!t)
    return;
  GstWebRTCKind kind;
  guint mline;
  g_object_get(t, "kind", &kind, "mlineindex", &mline, NULL);
  gst_object_unref(t);
  GError *err = NULL;
  GstElement *bin = NULL, *to = NULL;
  if (kind == GST_WEBRTC_KIND_AUDIO) {
    bin = media_mix_branch(m, &err);
    to = gst_bin_get_by_name(GST_BIN(m->pipe), "playmix");
  } else {
    int slot = (int)mline - 1; /* m-line 0 is audio, 1 the main slot, then thumbnails */
    if (slot < 0 || slot >= m->n_slots)
      return;
    char *desc;
    if (m->grid)
      desc = g_strdup_printf("rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec name=dec ! videoconvert ! videoscale ! "
                             "video/x-raw,width=%d,height=%d,pixel-aspect-ratio=1/1 ! %s ! queue",
                             m->tile_w[slot], m->tile_h[slot],
                             media_has_element("textoverlay")
                                 ? "textoverlay name=label valignment=bottom halignment=left font-desc=\"Sans 14\""
                                 : "identity");
    else
      desc = g_strdup("rtpvp8depay request-keyframe=true wait-for-keyframe=true ! vp8dec name=dec ! fakesink sync=false async=false");
    bin = gst_parse_bin_from_description(desc, TRUE, &err);
    g_free(desc);
    if (bin) {
      GstElement *dec = gst_bin_get_by_name(GST_BIN(bin), "dec");
      GstPad *src = gst_element_get_static_pad(dec, "src");
      gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER, count_frame, &m->frames[slot], NULL);
      gst_object_unref(src);
      gst_object_unref(dec);
      GstElement *label = gst_bin_get_by_name(GST_BIN(bin), "label");
      if (label) {
        g_mutex_lock(&m->label_lock);
        g_object_set(label, "text", m->label_text[slot] ? m->label_text[slot] : "", NULL);
        m->labels[slot] = label; /* owned: unreffed in dc_media_free */
        g_mutex_unlock(&m->label_lock);
      }
    }
    if (m->grid)
      to = gst_object_ref(m->grid);
  }
  if (!bin) {
    GST_ERROR("cannot play a received stream: %s", err ? err->message : "?");
    g_clear_error(&err);
    return;
  }
  gst_bin_add(GST_BIN(m->pipe), bin);
  gst_element_sync_state_with_parent(bin);
  GstPad *sink = gst_element_get_static_pad(bin, "sink");
  GstPadLinkReturn linked = gst_pad_link(pad, sink);
  gst_object_unref(sink);
  if (linked != GST_PAD_LINK_OK)
    GST_ERROR("cannot link the received %s of m-line %u: %s", kind == GST_WEBRTC_KIND_AUDIO ? "audio" : "video",
              mline, gst_pad_link_get_name(linked));
  if (to) {
    GstPad *out = gst_element_get_static_pad(bin, "src");
    GstPad *in = gst_element_request_pad_simple(to, "sink_%u");
    if (kind == GST_WEBRTC_KIND_VIDEO) {
      int slot = (int)mline - 1;
      g_object_set(in, "xpos", m->tile_x[slot], "ypos", m->tile_y[slot], NULL);
    }
    /* the mixer lives inside its chain's bin: reach it through a ghost pad on that bin */
    GstElement *parent = GST_ELEMENT(gst_object_get_parent(GST_OBJECT(to)));
    GstPad *ghost = gst_ghost_pad_new(NULL, in);
    gst_pad_set_active(ghost, TRUE);
    gst_element_add_pad(parent, ghost);
    gst_object_unref(parent);
    GstPadLinkReturn joined = gst_pad_link(out, ghost);
    if (joined != GST_PAD_LINK_OK)
      GST_ERROR("cannot join a received stream to %s: %s", GST_OBJECT_NAME(to), gst_pad_link_get_name(joined));
    gst_object_unref(in);
    gst_object_unref(out);
    gst_object_unref(to);
  }
  /* its sink's latency found again with the stream's (dc_media_playback_desc) */
  GstPad *flowing = gst_element_get_static_pad(bin, "src");
  if (flowing) {
    dc_media_latency_once_flowing(flowing);
    gst_object_unref(flowing);
  }
}
