/* rtp.c — RTP parse, header extensions and unwrapping; see rtp.h for scope and RFCs. */
#include "media/rtp.h"

#include <string.h>

/* Walks one extension block; returns false on an element that overruns the block.
 * Shared by parse (validation) and the iterator so both agree on what is valid. */
static bool ext_step(const uint8_t **pos, const uint8_t *end, bool two_byte, uint8_t *id,
                     const uint8_t **value, size_t *len, bool *done) {
  const uint8_t *p = *pos;
  while (p < end && *p == 0) /* padding bytes between and after elements */
    p++;
  if (p >= end) {
    *done = true;
    *pos = p;
    return true;
  }
  size_t n;
  if (!two_byte) {
    *id = (uint8_t)(*p >> 4);
    n = (size_t)(*p & 0x0F) + 1;
    if (*id == 15) { /* RFC 8285 §4.2: reserved, stop processing the block */
      *done = true;
      *pos = end;
      return true;
    }
    p += 1;
  } else {
    if (end - p < 2)
      return false;
    *id = p[0];
    n = p[1];
    p += 2;
  }
  if ((size_t)(end - p) < n)
    return false;
  *value = p;
  *len = n;
  *pos = p + n;
  *done = false;
  return true;
}

static dc_status parse(dc_rtp *pkt, const uint8_t *data, size_t len, bool check_padding) {
  if (len < DC_RTP_HEADER_MIN)
    return DC_ERR_TRUNCATED;
  if ((data[0] >> 6) != 2)
    return DC_ERR_UNSUPPORTED;
  memset(pkt, 0, sizeof *pkt);
  pkt->data = data;
  pkt->len = len;
  pkt->padding = (data[0] & 0x20) != 0;
  pkt->extension = (data[0] & 0x10) != 0;
  pkt->csrc_count = data[0] & 0x0F;
  pkt->marker = (data[1] & 0x80) != 0;
  pkt->payload_type = data[1] & 0x7F;
  pkt->seq = dc_rd16(data + 2);
  pkt->timestamp = dc_rd32(data + 4);
  pkt->ssrc = dc_rd32(data + 8);

  size_t off = DC_RTP_HEADER_MIN + 4u * pkt->csrc_count;
  if (len < off)
    return DC_ERR_TRUNCATED;
  if (pkt->extension) {
    if (len - off < 4)
      return DC_ERR_TRUNCATED;
    pkt->ext_profile = dc_rd16(data + off);
    size_t ext_bytes = 4u * dc_rd16(data + off + 2);
    off += 4;
    if (len - off < ext_bytes)
      return DC_ERR_TRUNCATED;
    pkt->ext_off = off;
    pkt->ext_len = ext_bytes;
    off += ext_bytes;
    if (dc_rtp_ext_is_one_byte(pkt) || dc_rtp_ext_is_two_byte(pkt)) {
      const uint8_t *p = data + pkt->ext_off, *end = p + ext_bytes;
      bool two = dc_rtp_ext_is_two_byte(pkt), done = false;
      while (!done) {
        uint8_t id;
        const uint8_t *v;
        size_t n;
        if (!ext_step(&p, end, two, &id, &v, &n, &done))
          return DC_ERR_MALFORMED;
      }
    }
  }
  size_t pad = 0;
  if (pkt->padding && check_padding) {
    if (len == off)
      return DC_ERR_MALFORMED; /* padding bit with no byte to carry the count */
    pad = data[len - 1];
    if (pad == 0 || pad > len - off)
      return DC_ERR_MALFORMED;
  }
  pkt->padding_len = (uint8_t)pad;
  pkt->payload_off = off;
  pkt->payload_len = len - off - pad;
  return DC_OK;
}

dc_status dc_rtp_parse(dc_rtp *pkt, const uint8_t *data, size_t len) {
  return parse(pkt, data, len, true);
}

dc_status dc_rtp_add_padding(uint8_t *buf, size_t *len, size_t cap, size_t n) {
  if (*len < DC_RTP_HEADER_MIN || (buf[0] >> 6) != 2 || n < 1 || n > 255)
    return DC_ERR_MALFORMED;
  if (buf[0] & 0x20)
    return DC_ERR_STATE;
  if (cap < *len || cap - *len < n)
    return DC_ERR_NO_SPACE;
  memset(buf + *len, 0, n - 1);
  buf[*len + n - 1] = (uint8_t)n;
  buf[0] |= 0x20;
  *len += n;
  return DC_OK;
}

dc_status dc_rtp_parse_header(dc_rtp *pkt, const uint8_t *data, size_t len) {
  return parse(pkt, data, len, false);
}

void dc_rtp_ext_iter_init(dc_rtp_ext_iter *it, const dc_rtp *pkt) {
  bool known = dc_rtp_ext_is_one_byte(pkt) || dc_rtp_ext_is_two_byte(pkt);
  it->pos = pkt->data + pkt->ext_off;
  it->end = known ? it->pos + pkt->ext_len : it->pos; /* an opaque profile has no elements */
  it->two_byte = dc_rtp_ext_is_two_byte(pkt);
}

bool dc_rtp_ext_next(dc_rtp_ext_iter *it, uint8_t *id, const uint8_t **value, size_t *len) {
  bool done = true;
  if (!ext_step(&it->pos, it->end, it->two_byte, id, value, len, &done) || done) {
    it->pos = it->end;
    return false;
  }
  return true;
}

dc_status dc_rtp_ext_find(const dc_rtp *pkt, uint8_t id, const uint8_t **value, size_t *len) {
  if (id == 0)
    return DC_ERR_NOT_FOUND;
  dc_rtp_ext_iter it;
  dc_rtp_ext_iter_init(&it, pkt);
  uint8_t eid;
  while (dc_rtp_ext_next(&it, &eid, value, len))
    if (eid == id)
      return DC_OK;
  return DC_ERR_NOT_FOUND;
}

dc_status dc_rtp_ext_rewrite(uint8_t *buf, const dc_rtp *pkt, uint8_t id, const uint8_t *value,
                             size_t len) {
  const uint8_t *old;
  size_t old_len;
  dc_status st = dc_rtp_ext_find(pkt, id, &old, &old_len);
  if (st != DC_OK)
    return st;
  if (old_len != len)
    return DC_ERR_MALFORMED;
  memcpy(buf + (old - pkt->data), value, len);
  return DC_OK;
}

void dc_rtp_ext_remap(uint8_t *buf, const dc_rtp *pkt, const uint8_t map[256]) {
  dc_rtp_ext_iter it;
  dc_rtp_ext_iter_init(&it, pkt);
  uint8_t id;
  const uint8_t *value;
  size_t len;
  while (dc_rtp_ext_next(&it, &id, &value, &len)) {
    size_t val_off = (size_t)(value - pkt->data);
    uint8_t to = map[id];
    if (!it.two_byte) {
      uint8_t *hdr = buf + val_off - 1;
      if (to == 0 || to > 14)
        memset(hdr, 0, len + 1);
      else
        *hdr = (uint8_t)(to << 4 | (*hdr & 0x0F));
    } else {
      uint8_t *hdr = buf + val_off - 2;
      if (to == 0)
        memset(hdr, 0, len + 2);
      else
        hdr[0] = to;
    }
  }
}

static void copy_id(char *dst, uint8_t *dst_len, const uint8_t *v, size_t n) {
  if (n == 0 || n > DC_RTP_ID_MAX)
    return;
  memcpy(dst, v, n);
  dst[n] = '\0';
  *dst_len = (uint8_t)n;
}

void dc_rtp_read_exts(const dc_rtp *pkt, const dc_rtp_ext_ids *ids, dc_rtp_ext_values *out) {
  out->has_audio_level = out->has_abs_send_time = out->has_twcc = false;
  out->voice_activity = false;
  out->mid_len = out->rid_len = out->repaired_rid_len = 0;
  out->mid[0] = out->rid[0] = out->repaired_rid[0] = '\0';
  if (!pkt->extension)
    return;
  dc_rtp_ext_iter it;
  dc_rtp_ext_iter_init(&it, pkt);
  uint8_t id;
  const uint8_t *v;
  size_t n;
  while (dc_rtp_ext_next(&it, &id, &v, &n)) {
    if (id == ids->audio_level && n >= 1) {
      out->has_audio_level = true;
      out->voice_activity = (v[0] & 0x80) != 0;
      out->audio_level_dbov = v[0] & 0x7F;
    } else if (id == ids->abs_send_time && n == 3) {
      out->has_abs_send_time = true;
      out->abs_send_time = dc_rd24(v);
    } else if (id == ids->twcc && n == 2) {
      out->has_twcc = true;
      out->twcc_seq = dc_rd16(v);
    } else if (id == ids->mid) {
      copy_id(out->mid, &out->mid_len, v, n);
    } else if (id == ids->rid) {
      copy_id(out->rid, &out->rid_len, v, n);
    } else if (id == ids->repaired_rid) {
      copy_id(out->repaired_rid, &out->repaired_rid_len, v, n);
    }
  }
}

bool dc_rtp_audio_level(const dc_rtp *pkt, uint8_t id, bool *voice, uint8_t *level_dbov) {
  const uint8_t *v;
  size_t n;
  if (dc_rtp_ext_find(pkt, id, &v, &n) != DC_OK || n < 1)
    return false;
  *voice = (v[0] & 0x80) != 0;
  *level_dbov = v[0] & 0x7F;
  return true;
}

bool dc_rtp_abs_send_time(const dc_rtp *pkt, uint8_t id, uint32_t *ast24) {
  const uint8_t *v;
  size_t n;
  if (dc_rtp_ext_find(pkt, id, &v, &n) != DC_OK || n != 3)
    return false;
  *ast24 = dc_rd24(v);
  return true;
}

bool dc_rtp_twcc_seq(const dc_rtp *pkt, uint8_t id, uint16_t *seq) {
  const uint8_t *v;
  size_t n;
  if (dc_rtp_ext_find(pkt, id, &v, &n) != DC_OK || n != 2)
    return false;
  *seq = dc_rd16(v);
  return true;
}

dc_status dc_rtp_set_abs_send_time(uint8_t *buf, const dc_rtp *pkt, uint8_t id, uint32_t ast24) {
  uint8_t v[3];
  dc_wr24(v, ast24 & 0xFFFFFFu);
  return dc_rtp_ext_rewrite(buf, pkt, id, v, sizeof v);
}

dc_status dc_rtp_set_twcc_seq(uint8_t *buf, const dc_rtp *pkt, uint8_t id, uint16_t seq) {
  uint8_t v[2];
  dc_wr16(v, seq);
  return dc_rtp_ext_rewrite(buf, pkt, id, v, sizeof v);
}

size_t dc_rtp_write_header(uint8_t *out, size_t cap, const dc_rtp_header *hdr,
                           const dc_rtp_ext_elem *ext, size_t n_ext) {
  bool one_byte = true;
  size_t elems = 0;
  for (size_t i = 0; i < n_ext; i++) {
    if (ext[i].id == 0)
      return 0;
    if (ext[i].id > 14 || ext[i].len == 0 || ext[i].len > 16)
      one_byte = false;
  }
  for (size_t i = 0; i < n_ext; i++)
    elems += (one_byte ? 1u : 2u) + ext[i].len;
  size_t ext_block = n_ext ? 4 + ((elems + 3) & ~(size_t)3) : 0;
  size_t total = DC_RTP_HEADER_MIN + ext_block;
  if (cap < total || (n_ext && ext_block / 4 - 1 > 0xFFFF))
    return 0;
  out[0] = (uint8_t)(0x80 | (n_ext ? 0x10 : 0));
  out[1] = (uint8_t)((hdr->marker ? 0x80 : 0) | (hdr->payload_type & 0x7F));
  dc_wr16(out + 2, hdr->seq);
  dc_wr32(out + 4, hdr->timestamp);
  dc_wr32(out + 8, hdr->ssrc);
  if (!n_ext)
    return total;
  uint8_t *p = out + DC_RTP_HEADER_MIN;
  dc_wr16(p, one_byte ? DC_RTP_EXT_ONE_BYTE : DC_RTP_EXT_TWO_BYTE);
  dc_wr16(p + 2, (uint16_t)(ext_block / 4 - 1));
  p += 4;
  for (size_t i = 0; i < n_ext; i++) {
    if (one_byte) {
      *p++ = (uint8_t)(ext[i].id << 4 | (ext[i].len - 1));
    } else {
      *p++ = ext[i].id;
      *p++ = ext[i].len;
    }
    if (ext[i].len)
      memcpy(p, ext[i].value, ext[i].len);
    p += ext[i].len;
  }
  memset(p, 0, (size_t)(out + total - p));
  return total;
}

int64_t dc_unwrap(dc_unwrapper *u, uint32_t value, unsigned bits) {
  if (!u->started) {
    u->started = true;
    u->highest = value;
    return value;
  }
  int64_t mod = (int64_t)1 << bits;
  int64_t low = u->highest & (mod - 1);
  int64_t diff = (int64_t)value - low;
  if (diff > mod / 2)
    diff -= mod;
  else if (diff <= -mod / 2)
    diff += mod;
  int64_t ext = u->highest + diff;
  if (ext > u->highest)
    u->highest = ext;
  return ext;
}
