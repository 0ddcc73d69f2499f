/* sdp.c — SDP parsing into dc_sdp; see sdp.h for what is read and the limits. Negotiation
 * and the answer are in sdp_answer.c. */
#include "media/sdp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MAX_MEDIA 64
#define MAX_CODECS 128
#define MAX_EXTMAPS 32
#define MAX_SSRCS 64
#define MAX_GROUPS 32
#define MAX_CANDIDATES 64
#define MAX_FMTS 128
#define MAX_RID_LEN 16

typedef struct {
  int pt; /* -1 for '*' */
  const char *value;
} pending;

typedef struct {
  dc_sdp *sdp;
  dc_sdp_media *m; /* current section, NULL at session level */
  dc_sdp_dir session_dir;
  GArray *fmtp, *fb; /* pending: fmtp and rtcp-fb may come before their rtpmap */
  int line;
  GError **error;
} parser;

static bool fail(parser *p, const char *fmt, ...) G_GNUC_PRINTF(2, 3);
static bool fail(parser *p, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *msg = g_strdup_vprintf(fmt, ap);
  va_end(ap);
  if (p->line > 0)
    g_set_error(p->error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID, "SDP line %d: %s", p->line, msg);
  else
    g_set_error(p->error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID, "SDP: %s", msg);
  g_free(msg);
  return false;
}

static const char *intern(parser *p, const char *s) {
  return g_string_chunk_insert(p->sdp->strings, s);
}

static bool parse_u64(const char *s, uint64_t max, uint64_t *out) {
  if (!*s || strlen(s) > 20)
    return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return false;
    uint64_t next = v * 10 + (uint64_t)(*s - '0');
    if (next < v || next > max)
      return false;
    v = next;
  }
  *out = v;
  return true;
}

static bool rid_valid(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > MAX_RID_LEN)
    return false;
  for (; *s; s++)
    if (!g_ascii_isalnum(*s) && *s != '-' && *s != '_')
      return false;
  return true;
}

/* Splits on runs of spaces; the caller frees with g_strfreev. */
static char **tokens(const char *s, guint *n) {
  char **all = g_strsplit_set(s, " \t", -1);
  guint w = 0;
  for (guint r = 0; all[r]; r++) {
    if (*all[r])
      all[w++] = all[r];
    else
      g_free(all[r]);
  }
  all[w] = NULL;
  *n = w;
  return all;
}

static dc_sdp_media *new_media(void) {
  dc_sdp_media *m = g_new0(dc_sdp_media, 1);
  m->fmts = g_ptr_array_new();
  m->codecs = g_array_new(FALSE, TRUE, sizeof(dc_sdp_codec));
  m->extmaps = g_array_new(FALSE, TRUE, sizeof(dc_sdp_extmap));
  m->ssrcs = g_array_new(FALSE, TRUE, sizeof(dc_sdp_ssrc));
  m->ssrc_groups = g_array_new(FALSE, TRUE, sizeof(dc_sdp_ssrc_group));
  m->rids = g_array_new(FALSE, TRUE, sizeof(dc_sdp_rid));
  m->candidates = g_array_new(FALSE, TRUE, sizeof(dc_sdp_candidate));
  m->simulcast_send = g_array_new(FALSE, TRUE, sizeof(dc_sdp_simulcast_stream));
  m->simulcast_recv = g_array_new(FALSE, TRUE, sizeof(dc_sdp_simulcast_stream));
  return m;
}

static void free_media(gpointer data) {
  dc_sdp_media *m = data;
  for (guint i = 0; i < m->codecs->len; i++)
    g_ptr_array_unref(g_array_index(m->codecs, dc_sdp_codec, i).rtcp_fb);
  g_ptr_array_unref(m->fmts);
  g_array_unref(m->codecs);
  g_array_unref(m->extmaps);
  g_array_unref(m->ssrcs);
  g_array_unref(m->ssrc_groups);
  g_array_unref(m->rids);
  g_array_unref(m->candidates);
  g_array_unref(m->simulcast_send);
  g_array_unref(m->simulcast_recv);
  g_free(m);
}

void dc_sdp_free(dc_sdp *sdp) {
  if (!sdp)
    return;
  if (sdp->bundle)
    g_ptr_array_unref(sdp->bundle);
  g_ptr_array_unref(sdp->media);
  g_string_chunk_free(sdp->strings);
  g_free(sdp);
}

/* Attaches pending fmtp and rtcp-fb lines to their codecs when a section ends. */
static void close_section(parser *p) {
  dc_sdp_media *m = p->m;
  if (!m)
    return;
  for (guint i = 0; i < p->fmtp->len; i++) {
    pending *f = &g_array_index(p->fmtp, pending, i);
    for (guint c = 0; c < m->codecs->len; c++) {
      dc_sdp_codec *codec = &g_array_index(m->codecs, dc_sdp_codec, c);
      if (codec->pt == f->pt)
        codec->fmtp = f->value;
    }
  }
  for (guint i = 0; i < p->fb->len; i++) {
    pending *f = &g_array_index(p->fb, pending, i);
    for (guint c = 0; c < m->codecs->len; c++) {
      dc_sdp_codec *codec = &g_array_index(m->codecs, dc_sdp_codec, c);
      if ((f->pt < 0 || codec->pt == f->pt) && !dc_sdp_codec_has_fb(codec, f->value))
        g_ptr_array_add(codec->rtcp_fb, (gpointer)f->value);
    }
  }
  g_array_set_size(p->fmtp, 0);
  g_array_set_size(p->fb, 0);
}

static bool parse_m_line(parser *p, char *value) {
  close_section(p);
  if (p->sdp->media->len >= MAX_MEDIA)
    return fail(p, "more than %d media sections", MAX_MEDIA);
  guint n;
  char **t = tokens(value, &n);
  uint64_t port;
  char *slash = n >= 2 ? strchr(t[1], '/') : NULL;
  if (slash)
    *slash = '\0'; /* "port/count" */
  bool ok = n >= 4 && parse_u64(t[1], 65535, &port) && n - 3 <= MAX_FMTS;
  if (!ok) {
    g_strfreev(t);
    return fail(p, "malformed m= line (want \"m=<media> <port> <proto> <fmt> ...\")");
  }
  dc_sdp_media *m = new_media();
  g_ptr_array_add(p->sdp->media, m);
  p->m = m;
  m->media = intern(p, t[0]);
  m->kind = !strcmp(t[0], "audio")         ? DC_SDP_AUDIO
            : !strcmp(t[0], "video")       ? DC_SDP_VIDEO
            : !strcmp(t[0], "application") ? DC_SDP_APPLICATION
                                           : DC_SDP_OTHER;
  m->port = (uint16_t)port;
  m->proto = intern(p, t[2]);
  for (guint i = 3; i < n; i++)
    g_ptr_array_add(m->fmts, (gpointer)intern(p, t[i]));
  m->dir = p->session_dir;
  g_strfreev(t);
  return true;
}

static bool parse_rtpmap(parser *p, const char *value) {
  dc_sdp_media *m = p->m;
  char name[64];
  unsigned pt, clock, channels = 0;
  int used = 0;
  if (sscanf(value, "%u %63[^/]/%u%n", &pt, name, &clock, &used) != 3 || pt > 127)
    return fail(p, "malformed a=rtpmap (want \"<pt> <name>/<clock>[/<channels>]\")");
  const char *rest = value + used;
  if (*rest == '/' && (sscanf(rest, "/%u", &channels) != 1 || channels > 255))
    return fail(p, "malformed channel count in a=rtpmap");
  if (m->codecs->len >= MAX_CODECS)
    return fail(p, "more than %d codecs in one section", MAX_CODECS);
  if (dc_sdp_media_codec(m, (uint8_t)pt))
    return fail(p, "payload type %u mapped twice", pt);
  dc_sdp_codec c = {.pt = (uint8_t)pt, .name = intern(p, name), .clock_rate = clock,
                    .channels = (uint8_t)channels, .rtcp_fb = g_ptr_array_new()};
  g_array_append_val(m->codecs, c);
  return true;
}

static bool parse_pt_value(parser *p, const char *value, bool star_ok, GArray *into,
                           const char *what) {
  const char *sp = strchr(value, ' ');
  if (!sp || !sp[1])
    return fail(p, "malformed a=%s (want \"<pt> <value>\")", what);
  char head[8];
  size_t hl = (size_t)(sp - value);
  uint64_t pt;
  if (hl >= sizeof head)
    return fail(p, "malformed payload type in a=%s", what);
  memcpy(head, value, hl);
  head[hl] = '\0';
  pending f = {.value = intern(p, sp + 1)};
  if (star_ok && !strcmp(head, "*"))
    f.pt = -1;
  else if (parse_u64(head, 127, &pt))
    f.pt = (int)pt;
  else
    return fail(p, "malformed payload type in a=%s", what);
  if (into->len >= MAX_CODECS * 8)
    return fail(p, "too many a=%s lines", what);
  g_array_append_val(into, f);
  return true;
}

static bool parse_dir_word(const char *s, dc_sdp_dir *dir) {
  static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(s, names[i])) {
      *dir = (dc_sdp_dir)i;
      return true;
    }
  return false;
}

static bool parse_extmap(parser *p, const char *value) {
  dc_sdp_media *m = p->m;
  guint n;
  char **t = tokens(value, &n);
  dc_sdp_extmap e = {.dir = DC_SDP_SENDRECV};
  char *slash = n ? strchr(t[0], '/') : NULL;
  if (slash)
    *slash++ = '\0';
  uint64_t id;
  bool ok = n >= 2 && parse_u64(t[0], 255, &id) && id >= 1 && (!slash || parse_dir_word(slash, &e.dir));
  if (ok) {
    e.id = (uint8_t)id;
    e.uri = intern(p, t[1]);
  }
  g_strfreev(t);
  if (!ok)
    return fail(p, "malformed a=extmap (want \"<1-255>[/<direction>] <uri>\")");
  for (guint i = 0; i < m->extmaps->len; i++) {
    dc_sdp_extmap *o = &g_array_index(m->extmaps, dc_sdp_extmap, i);
    if (o->id == e.id)
      return strcmp(o->uri, e.uri) ? fail(p, "extension id %u used for two URIs", e.id) : true;
  }
  if (m->extmaps->len >= MAX_EXTMAPS)
    return fail(p, "more than %d a=extmap lines in one section", MAX_EXTMAPS);
  g_array_append_val(m->extmaps, e);
  return true;
}

static dc_sdp_ssrc *ssrc_entry(dc_sdp_media *m, uint32_t ssrc) {
  for (guint i = 0; i < m->ssrcs->len; i++)
    if (g_array_index(m->ssrcs, dc_sdp_ssrc, i).ssrc == ssrc)
      return &g_array_index(m->ssrcs, dc_sdp_ssrc, i);
  if (m->ssrcs->len >= MAX_SSRCS)
    return NULL;
  dc_sdp_ssrc s = {.ssrc = ssrc};
  g_array_append_val(m->ssrcs, s);
  return &g_array_index(m->ssrcs, dc_sdp_ssrc, m->ssrcs->len - 1);
}

static bool parse_ssrc(parser *p, const char *value) {
  char num[16];
  const char *sp = strchr(value, ' ');
  size_t nl = sp ? (size_t)(sp - value) : strlen(value);
  uint64_t ssrc;
  if (nl == 0 || nl >= sizeof num)
    return fail(p, "malformed a=ssrc");
  memcpy(num, value, nl);
  num[nl] = '\0';
  if (!parse_u64(num, UINT32_MAX, &ssrc))
    return fail(p, "malformed SSRC in a=ssrc");
  dc_sdp_ssrc *e = ssrc_entry(p->m, (uint32_t)ssrc);
  if (!e)
    return fail(p, "more than %d SSRCs in one section", MAX_SSRCS);
  if (sp && g_str_has_prefix(sp + 1, "cname:"))
    e->cname = intern(p, sp + 7);
  else if (sp && g_str_has_prefix(sp + 1, "msid:"))
    e->msid = intern(p, sp + 6);
  return true;
}

static bool parse_ssrc_group(parser *p, const char *value) {
  dc_sdp_media *m = p->m;
  guint n;
  char **t = tokens(value, &n);
  dc_sdp_ssrc_group g = {0};
  bool ok = n >= 2 && n - 1 <= DC_SDP_MAX_LAYERS && m->ssrc_groups->len < MAX_GROUPS;
  for (guint i = 1; ok && i < n; i++) {
    uint64_t s;
    ok = parse_u64(t[i], UINT32_MAX, &s);
    if (ok)
      g.ssrcs[g.n++] = (uint32_t)s;
  }
  if (ok)
    g.semantics = intern(p, t[0]);
  g_strfreev(t);
  if (!ok)
    return fail(p, "malformed a=ssrc-group (want \"<semantics> <ssrc> ...\", at most %d)",
                DC_SDP_MAX_LAYERS);
  g_array_append_val(m->ssrc_groups, g);
  return true;
}

static bool parse_rid(parser *p, const char *value) {
  dc_sdp_media *m = p->m;
  guint n;
  char **t = tokens(value, &n);
  bool ok = n >= 2 && rid_valid(t[0]) && (!strcmp(t[1], "send") || !strcmp(t[1], "recv"));
  if (ok && m->rids->len >= DC_SDP_MAX_LAYERS) {
    g_strfreev(t);
    return fail(p, "more than %d a=rid lines in one section", DC_SDP_MAX_LAYERS);
  }
  if (ok) {
    dc_sdp_rid r = {.id = intern(p, t[0]), .send = !strcmp(t[1], "send"),
                    .params = n >= 3 ? intern(p, t[2]) : NULL};
    g_array_append_val(m->rids, r);
  }
  g_strfreev(t);
  return ok ? true : fail(p, "malformed a=rid (want \"<id> send|recv [params]\", id of 1-16 letters, digits, - or _)");
}

/* "q;h;f" or "~q,q2;h": streams by ';', alternatives by ','; we keep each first one. */
static bool parse_simulcast_list(parser *p, const char *list, GArray *into) {
  char **streams = g_strsplit(list, ";", -1);
  bool ok = true;
  for (guint i = 0; ok && streams[i]; i++) {
    char *alt = streams[i], *comma = strchr(alt, ',');
    if (comma)
      *comma = '\0';
    dc_sdp_simulcast_stream s = {.paused = alt[0] == '~'};
    if (s.paused)
      alt++;
    ok = rid_valid(alt) && into->len < DC_SDP_MAX_LAYERS;
    if (ok) {
      s.rid = intern(p, alt);
      g_array_append_val(into, s);
    }
  }
  g_strfreev(streams);
  return ok;
}

static bool parse_simulcast(parser *p, const char *value) {
  guint n;
  char **t = tokens(value, &n);
  bool ok = (n == 2 || n == 4);
  for (guint i = 0; ok && i + 1 < n; i += 2) {
    GArray *into = !strcmp(t[i], "send")   ? p->m->simulcast_send
                   : !strcmp(t[i], "recv") ? p->m->simulcast_recv
                                           : NULL;
    ok = into && into->len == 0 && parse_simulcast_list(p, t[i + 1], into);
  }
  g_strfreev(t);
  return ok ? true : fail(p, "malformed a=simulcast (want \"send|recv <rid>;<rid>...\", at most %d streams)", DC_SDP_MAX_LAYERS);
}

static bool parse_candidate(parser *p, const char *value) {
  dc_sdp_media *m = p->m;
  guint n;
  char **t = tokens(value, &n);
  uint64_t comp, prio, port;
  bool ok = n >= 8 && parse_u64(t[1], 256, &comp) && comp >= 1 &&
            parse_u64(t[3], UINT32_MAX, &prio) && parse_u64(t[5], 65535, &port) &&
            !strcmp(t[6], "typ") && strlen(t[0]) <= 32 && strlen(t[4]) <= 255;
  if (ok && m->candidates->len >= MAX_CANDIDATES) {
    g_strfreev(t);
    return fail(p, "more than %d candidates in one section", MAX_CANDIDATES);
  }
  if (ok) {
    dc_sdp_candidate c = {.foundation = intern(p, t[0]), .component = (unsigned)comp,
                          .transport = intern(p, t[2]), .priority = (uint32_t)prio,
                          .address = intern(p, t[4]), .port = (uint16_t)port,
                          .type = intern(p, t[7]), .value = intern(p, value)};
    g_array_append_val(m->candidates, c);
  }
  g_strfreev(t);
  return ok ? true : fail(p, "malformed a=candidate");
}

static bool parse_setup(parser *p, const char *value, dc_sdp_setup *out) {
  static const char *const names[] = {"actpass", "active", "passive", "holdconn"};
  for (int i = 0; i < 4; i++)
    if (!strcmp(value, names[i])) {
      *out = (dc_sdp_setup)(i + 1);
      return true;
    }
  return fail(p, "unknown a=setup value (want actpass, active, passive or holdconn)");
}

static bool parse_attribute(parser *p, char *attr) {
  dc_sdp *s = p->sdp;
  dc_sdp_media *m = p->m;
  char *value = strchr(attr, ':');
  if (value)
    *value++ = '\0';
  const char *v = value ? value : "";
  dc_sdp_dir dir;

  /* Valid at both levels. */
  if (!strcmp(attr, "ice-ufrag") || !strcmp(attr, "ice-pwd") || !strcmp(attr, "fingerprint")) {
    if (!*v || strlen(v) > 256)
      return fail(p, "empty or oversized a=%s", attr);
    const char **slot = attr[4] == 'u' ? (m ? &m->ice_ufrag : &s->ice_ufrag)
                        : attr[4] == 'p' ? (m ? &m->ice_pwd : &s->ice_pwd)
                                         : (m ? &m->fingerprint : &s->fingerprint);
    *slot = intern(p, v);
    return true;
  }
  if (!strcmp(attr, "setup"))
    return parse_setup(p, v, m ? &m->setup : &s->setup);
  if (!strcmp(attr, "ice-options")) {
    guint n;
    char **t = tokens(v, &n);
    for (guint i = 0; i < n; i++)
      if (!strcmp(t[i], "trickle"))
        s->ice_trickle = true;
    g_strfreev(t);
    return true;
  }
  if (!strcmp(attr, "extmap-allow-mixed")) {
    s->extmap_allow_mixed = true;
    return true;
  }
  if (parse_dir_word(attr, &dir)) {
    if (m)
      m->dir = dir;
    else
      p->session_dir = dir;
    return true;
  }
  if (!m) {
    if (!strcmp(attr, "ice-lite"))
      s->ice_lite = true;
    else if (!strcmp(attr, "group") && g_str_has_prefix(v, "BUNDLE") && !s->bundle) {
      guint n;
      char **t = tokens(v, &n);
      s->bundle = g_ptr_array_new();
      for (guint i = 1; i < n && i <= MAX_MEDIA; i++)
        g_ptr_array_add(s->bundle, (gpointer)intern(p, t[i]));
      g_strfreev(t);
    }
    return true; /* other session attributes do not concern us */
  }
  if (!strcmp(attr, "mid")) {
    if (!*v || strlen(v) > 32)
      return fail(p, "empty or oversized a=mid");
    m->mid = intern(p, v);
  } else if (!strcmp(attr, "rtcp-mux")) {
    m->rtcp_mux = true;
  } else if (!strcmp(attr, "rtcp-mux-only")) {
    m->rtcp_mux_only = true;
  } else if (!strcmp(attr, "rtcp-rsize")) {
    m->rtcp_rsize = true;
  } else if (!strcmp(attr, "bundle-only")) {
    m->bundle_only = true;
  } else if (!strcmp(attr, "end-of-candidates")) {
    m->end_of_candidates = true;
  } else if (!strcmp(attr, "msid")) {
    m->msid = intern(p, v);
  } else if (!strcmp(attr, "rtpmap")) {
    return parse_rtpmap(p, v);
  } else if (!strcmp(attr, "fmtp")) {
    return parse_pt_value(p, v, false, p->fmtp, "fmtp");
  } else if (!strcmp(attr, "rtcp-fb")) {
    return parse_pt_value(p, v, true, p->fb, "rtcp-fb");
  } else if (!strcmp(attr, "extmap")) {
    return parse_extmap(p, v);
  } else if (!strcmp(attr, "ssrc")) {
    return parse_ssrc(p, v);
  } else if (!strcmp(attr, "ssrc-group")) {
    return parse_ssrc_group(p, v);
  } else if (!strcmp(attr, "rid")) {
    return parse_rid(p, v);
  } else if (!strcmp(attr, "simulcast")) {
    return parse_simulcast(p, v);
  } else if (!strcmp(attr, "candidate")) {
    return parse_candidate(p, v);
  }
  return true;
}

/* Cross-section checks that need the whole description. */
static bool check_whole(parser *p) {
  dc_sdp *s = p->sdp;
  p->line = 0;
  for (guint i = 0; i < s->media->len; i++) {
    const dc_sdp_media *a = g_ptr_array_index(s->media, i);
    for (guint j = i + 1; a->mid && j < s->media->len; j++) {
      const dc_sdp_media *b = g_ptr_array_index(s->media, j);
      if (b->mid && !strcmp(a->mid, b->mid))
        return fail(p, "two media sections share a=mid:%s", a->mid);
    }
  }
  for (guint k = 0; s->bundle && k < s->bundle->len; k++) {
    const char *mid = g_ptr_array_index(s->bundle, k);
    bool found = false;
    for (guint i = 0; i < s->media->len && !found; i++) {
      const dc_sdp_media *m = g_ptr_array_index(s->media, i);
      found = m->mid && !strcmp(m->mid, mid);
    }
    if (!found)
      return fail(p, "a=group:BUNDLE names mid \"%s\" that no section has", mid);
  }
  return true;
}

dc_sdp *dc_sdp_parse(const char *text, size_t len, GError **error) {
  if (len > DC_SDP_MAX_BYTES) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID,
                "SDP is %zu bytes, over the %d-byte limit", len, DC_SDP_MAX_BYTES);
    return NULL;
  }
  if (memchr(text, '\0', len)) {
    g_set_error(error, DC_MEDIA_ERROR, DC_MEDIA_ERROR_INVALID, "SDP contains a NUL byte");
    return NULL;
  }
  dc_sdp *sdp = g_new0(dc_sdp, 1);
  sdp->media = g_ptr_array_new_with_free_func(free_media);
  sdp->strings = g_string_chunk_new(1024);
  parser p = {.sdp = sdp, .error = error, .fmtp = g_array_new(FALSE, FALSE, sizeof(pending)),
              .fb = g_array_new(FALSE, FALSE, sizeof(pending))};
  char *buf = g_strndup(text, len), *pos = buf;
  bool ok = true, seen_v = false;
  while (ok && pos && *pos) {
    char *nl = strchr(pos, '\n'), *line = pos;
    pos = nl ? nl + 1 : NULL;
    if (nl)
      *nl = '\0';
    size_t n = strlen(line);
    if (n && line[n - 1] == '\r')
      line[--n] = '\0';
    p.line++;
    if (n == 0)
      continue;
    for (size_t i = 0; i < n && ok; i++)
      if ((unsigned char)line[i] < 0x20 && line[i] != '\t')
        ok = fail(&p, "control character in line");
    if (!ok)
      break;
    if (n < 2 || line[1] != '=' || !g_ascii_islower(line[0])) {
      ok = fail(&p, "not a \"<letter>=<value>\" line");
      break;
    }
    char type = line[0], *value = line + 2;
    if (!seen_v) {
      ok = type == 'v' && !strcmp(value, "0") ? true : fail(&p, "SDP must start with v=0");
      seen_v = true;
      continue;
    }
    if (type == 'o') {
      guint t;
      char **tok = tokens(value, &t);
      if (t >= 3) {
        sdp->session_id = intern(&p, tok[1]);
        sdp->session_version = intern(&p, tok[2]);
      } else {
        ok = fail(&p, "malformed o= line");
      }
      g_strfreev(tok);
    } else if (type == 'm') {
      ok = parse_m_line(&p, value);
    } else if (type == 'a') {
      ok = parse_attribute(&p, value);
    } /* c=, b=, s=, t= and the rest carry nothing we use with ICE */
  }
  if (ok && !seen_v)
    ok = fail(&p, "empty SDP");
  if (ok)
    close_section(&p);
  if (ok)
    ok = check_whole(&p);
  g_free(buf);
  g_array_unref(p.fmtp);
  g_array_unref(p.fb);
  if (!ok) {
    dc_sdp_free(sdp);
    return NULL;
  }
  return sdp;
}

const char *dc_sdp_media_ice_ufrag(const dc_sdp *sdp, const dc_sdp_media *m) {
  return m->ice_ufrag ? m->ice_ufrag : sdp->ice_ufrag;
}
const char *dc_sdp_media_ice_pwd(const dc_sdp *sdp, const dc_sdp_media *m) {
  return m->ice_pwd ? m->ice_pwd : sdp->ice_pwd;
}
const char *dc_sdp_media_fingerprint(const dc_sdp *sdp, const dc_sdp_media *m) {
  return m->fingerprint ? m->fingerprint : sdp->fingerprint;
}
dc_sdp_setup dc_sdp_media_setup(const dc_sdp *sdp, const dc_sdp_media *m) {
  return m->setup != DC_SDP_SETUP_NONE ? m->setup : sdp->setup;
}

const dc_sdp_codec *dc_sdp_media_codec(const dc_sdp_media *m, uint8_t pt) {
  for (guint i = 0; i < m->codecs->len; i++)
    if (g_array_index(m->codecs, dc_sdp_codec, i).pt == pt)
      return &g_array_index(m->codecs, dc_sdp_codec, i);
  return NULL;
}

bool dc_sdp_codec_has_fb(const dc_sdp_codec *c, const char *fb) {
  for (guint i = 0; i < c->rtcp_fb->len; i++)
    if (!strcmp(g_ptr_array_index(c->rtcp_fb, i), fb))
      return true;
  return false;
}

uint8_t dc_sdp_media_extmap_id(const dc_sdp_media *m, const char *uri) {
  for (guint i = 0; i < m->extmaps->len; i++) {
    const dc_sdp_extmap *e = &g_array_index(m->extmaps, dc_sdp_extmap, i);
    if (!strcmp(e->uri, uri) && e->dir != DC_SDP_INACTIVE)
      return e->id;
  }
  return 0;
}

const char *dc_sdp_dir_str(dc_sdp_dir dir) {
  static const char *const names[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
  return (unsigned)dir < 4 ? names[dir] : "inactive";
}
