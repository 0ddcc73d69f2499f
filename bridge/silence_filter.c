/* silence_filter.c — the kernel's drop of a point's silent audio; see silence_filter.h. */
#include "bridge/silence_filter.h"

#include <errno.h>
#include <stdint.h>
#include <sys/socket.h>

/* A program is written with forward jumps to labels, resolved once every label is placed:
 * classic BPF jumps only forward, by at most 255 instructions. */
enum { ACCEPT, FOUND, KEEP, EXT, ELEMENT_LABELS };
#define PAD_LABEL(i) (ELEMENT_LABELS + 2 * (i))
#define NEXT_LABEL(i) (ELEMENT_LABELS + 2 * (i) + 1)
#define LABELS (ELEMENT_LABELS + 2 * DC_SILENCE_FILTER_ELEMENTS)
#define NO_LABEL (-1)

/* A UDP socket's filter sees the datagram from its UDP header on (udp_queue_rcv_one_skb; the
 * same for IPv6, udpv6_queue_rcv_one_skb: checked by hand on ::1, the unit test uses IPv4). */
#define UDP 8

typedef struct {
  struct sock_filter *prog;
  size_t n;
  int jt[DC_SILENCE_FILTER_MAX], jf[DC_SILENCE_FILTER_MAX], ja[DC_SILENCE_FILTER_MAX];
  size_t at[LABELS];
} program;

static void op(program *p, uint16_t code, uint32_t k) {
  p->jt[p->n] = p->jf[p->n] = p->ja[p->n] = NO_LABEL;
  p->prog[p->n++] = (struct sock_filter){code, 0, 0, k};
}

/* A conditional jump: to label jt when true, jf when false; NO_LABEL falls through. */
static void jump_if(program *p, uint16_t code, uint32_t k, int jt, int jf) {
  op(p, (uint16_t)(BPF_JMP | code), k);
  p->jt[p->n - 1] = jt;
  p->jf[p->n - 1] = jf;
}

static void jump(program *p, int label) {
  op(p, BPF_JMP | BPF_JA, 0);
  p->ja[p->n - 1] = label;
}

static void place(program *p, int label) { p->at[label] = p->n; }

static uint8_t offset(const program *p, size_t from, int label) {
  return label == NO_LABEL ? 0 : (uint8_t)(p->at[label] - from - 1);
}

size_t dc_silence_filter_build(struct sock_filter *prog, int opus_pt, int red_pt, int level_id) {
  if (opus_pt < 0 || opus_pt > 127 || red_pt > 127 || level_id < 1 || level_id > 14)
    return 0;
  program p = {.prog = prog};
  /* a whole RTP header (version 2) with an extension, of the point's audio payload types */
  op(&p, BPF_LD | BPF_W | BPF_LEN, 0);
  jump_if(&p, BPF_JGE | BPF_K, UDP + 12, NO_LABEL, ACCEPT);
  op(&p, BPF_LD | BPF_B | BPF_ABS, UDP);
  op(&p, BPF_ALU | BPF_AND | BPF_K, 0xD0);
  jump_if(&p, BPF_JEQ | BPF_K, 0x90, NO_LABEL, ACCEPT);
  op(&p, BPF_LD | BPF_B | BPF_ABS, UDP + 1);
  op(&p, BPF_ALU | BPF_AND | BPF_K, 0x7F);
  jump_if(&p, BPF_JEQ | BPF_K, (uint32_t)opus_pt, EXT, NO_LABEL);
  jump_if(&p, BPF_JEQ | BPF_K, (uint32_t)(red_pt >= 0 ? red_pt : opus_pt), NO_LABEL, ACCEPT);
  place(&p, EXT);
  /* X: the CSRCs' bytes. The extension's own header, 0xBEDE and its length in words, must be
   * in the packet (a load past the end would end the program as a drop). */
  op(&p, BPF_LDX | BPF_B | BPF_MSH, UDP);
  op(&p, BPF_MISC | BPF_TXA, 0);
  op(&p, BPF_ALU | BPF_ADD | BPF_K, UDP + 16);
  op(&p, BPF_LDX | BPF_W | BPF_LEN, 0);
  jump_if(&p, BPF_JGT | BPF_X, 0, ACCEPT, NO_LABEL);
  op(&p, BPF_LDX | BPF_B | BPF_MSH, UDP);
  op(&p, BPF_LD | BPF_H | BPF_IND, UDP + 12);
  jump_if(&p, BPF_JEQ | BPF_K, 0xBEDE, NO_LABEL, ACCEPT);
  /* M[0]: where the elements end, itself within the packet; then less 17, so that "an element
   * and its first byte of data lie before it" is one comparison with X below */
  op(&p, BPF_LD | BPF_H | BPF_IND, UDP + 14);
  jump_if(&p, BPF_JEQ | BPF_K, 0, ACCEPT, NO_LABEL);
  op(&p, BPF_ALU | BPF_LSH | BPF_K, 2);
  op(&p, BPF_ALU | BPF_ADD | BPF_K, UDP + 16);
  op(&p, BPF_ALU | BPF_ADD | BPF_X, 0);
  op(&p, BPF_ST, 0);
  op(&p, BPF_LDX | BPF_W | BPF_LEN, 0);
  jump_if(&p, BPF_JGT | BPF_X, 0, ACCEPT, NO_LABEL);
  op(&p, BPF_LD | BPF_MEM, 0);
  op(&p, BPF_ALU | BPF_SUB | BPF_K, UDP + 17);
  op(&p, BPF_ST, 0);
  op(&p, BPF_LDX | BPF_B | BPF_MSH, UDP);
  /* the elements, X at each one's byte less 16: id and length, padding (0), or the end (15) */
  for (int i = 0; i < DC_SILENCE_FILTER_ELEMENTS; i++) {
    op(&p, BPF_LD | BPF_MEM, 0);
    jump_if(&p, BPF_JGT | BPF_X, 0, NO_LABEL, ACCEPT);
    op(&p, BPF_LD | BPF_B | BPF_IND, UDP + 16);
    jump_if(&p, BPF_JEQ | BPF_K, 0, PAD_LABEL(i), NO_LABEL);
    op(&p, BPF_ST, 1);
    op(&p, BPF_ALU | BPF_RSH | BPF_K, 4);
    jump_if(&p, BPF_JEQ | BPF_K, (uint32_t)level_id, FOUND, NO_LABEL);
    jump_if(&p, BPF_JEQ | BPF_K, 15, ACCEPT, NO_LABEL);
    op(&p, BPF_LD | BPF_MEM, 1);
    op(&p, BPF_ALU | BPF_AND | BPF_K, 0x0F);
    op(&p, BPF_ALU | BPF_ADD | BPF_K, 2);
    op(&p, BPF_ALU | BPF_ADD | BPF_X, 0);
    op(&p, BPF_MISC | BPF_TAX, 0);
    jump(&p, NEXT_LABEL(i));
    place(&p, PAD_LABEL(i));
    op(&p, BPF_MISC | BPF_TXA, 0);
    op(&p, BPF_ALU | BPF_ADD | BPF_K, 1);
    op(&p, BPF_MISC | BPF_TAX, 0);
    place(&p, NEXT_LABEL(i));
  }
  place(&p, ACCEPT);
  op(&p, BPF_RET | BPF_K, UINT32_MAX);
  /* the level: 127 (digital silence, RFC 6464 §3) whatever the voice bit says; and of those
   * one in DC_SILENCE_FILTER_SAMPLE by sequence number passes */
  place(&p, FOUND);
  op(&p, BPF_LD | BPF_B | BPF_IND, UDP + 17);
  op(&p, BPF_ALU | BPF_AND | BPF_K, 0x7F);
  jump_if(&p, BPF_JEQ | BPF_K, 127, NO_LABEL, KEEP);
  op(&p, BPF_LD | BPF_H | BPF_ABS, UDP + 2);
  op(&p, BPF_ALU | BPF_AND | BPF_K, DC_SILENCE_FILTER_SAMPLE - 1);
  jump_if(&p, BPF_JEQ | BPF_K, 0, KEEP, NO_LABEL);
  op(&p, BPF_RET | BPF_K, 0);
  place(&p, KEEP);
  op(&p, BPF_RET | BPF_K, UINT32_MAX);
  for (size_t i = 0; i < p.n; i++) {
    prog[i].jt = offset(&p, i, p.jt[i]);
    prog[i].jf = offset(&p, i, p.jf[i]);
    if (p.ja[i] != NO_LABEL)
      prog[i].k = (uint32_t)(p.at[p.ja[i]] - i - 1);
  }
  return p.n;
}

bool dc_silence_filter_attach(int fd, int opus_pt, int red_pt, int level_id) {
  struct sock_filter prog[DC_SILENCE_FILTER_MAX];
  size_t n = dc_silence_filter_build(prog, opus_pt, red_pt, level_id);
  if (!n) {
    errno = EINVAL;
    return false;
  }
  struct sock_fprog fprog = {.len = (unsigned short)n, .filter = prog};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &fprog, sizeof fprog) == 0;
}
