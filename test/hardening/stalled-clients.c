// Clients that stop reading, for test/hardening/slow-consumers.test.ts. A Node process can hold a
// thousand paused sockets, but it cannot make them small: Node sets no SO_RCVBUF or TCP_MAXSEG on
// TCP sockets, and on loopback the kernel then buffers a megabyte or more per stalled connection
// (the server's send buffer grows with the 64 KiB loopback MSS) before the server's own send queue
// sees anything. A thousand of those would push gigabytes through the kernel and put every other
// test on the machine under TCP memory pressure. Here each socket gets a small receive buffer and a
// small MSS before it connects, so the kernel holds a few tens of KiB per socket and the server's
// send queue limit is what decides.
//
//   usage: stalled-clients <port> < lines
//   stdin:  one line per connection, then "go":
//             ws <path> [<text frame to send after the upgrade>]   (presence sends its HELLO)
//             sse <path>
//           later "drain <ms>": read every socket again for at most <ms> milliseconds
//   stdout: "ready <opened> <failed>" once every connection is open (a WebSocket with a text to
//           send once its first frame back says "ok":true) and no longer read;
//           after "drain": "result <count> <outcome>" lines, "bytes <n>", then "done".
//           Outcomes: "ws close <code> <reason>", "ws eof" (closed without a close frame),
//           "ws open" (still open at the deadline), "sse ended" (the chunked response ended),
//           "sse eof", "sse open".
// Build: cc -O2 -o stalled-clients stalled-clients.c (the test does it).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum kind { WS, SSE };
enum state { CONNECTING, HEAD, HELLO_SENT, STALLED, DRAINING, DONE, DEAD };

struct conn {
  int fd;
  enum kind kind;
  enum state state;
  char *path;
  char *hello;
  char head[2048];
  int head_len;
  unsigned char hdr[14];  // the frame header being read
  int hdr_len;
  uint64_t left;          // payload bytes of the current frame still to come
  int opcode;
  unsigned char close_payload[128];
  int close_len;
  char tail[8];           // SSE: the last bytes read, to find the chunked terminator across reads
  int tail_len;
  char outcome[160];
};

static struct conn *conns;
static int nconns, cap, port, epfd, pending, opened, failed;
static long long total_bytes;

static long long now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void send_all(int fd, const void *buf, size_t len) {
  const char *p = buf;
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EAGAIN || errno == EINTR) { struct pollfd pf = {fd, POLLOUT, 0}; poll(&pf, 1, 100); continue; }
      return;
    }
    p += n;
    len -= (size_t)n;
  }
}

// A client frame is masked; a zero mask leaves the payload as it is.
static void send_text(int fd, const char *text) {
  size_t len = strlen(text);
  unsigned char h[14];
  int hl = 0;
  h[hl++] = 0x81;
  if (len < 126) h[hl++] = 0x80 | len;
  else { h[hl++] = 0x80 | 126; h[hl++] = len >> 8; h[hl++] = len & 0xff; }
  memset(h + hl, 0, 4);
  hl += 4;
  char *frame = malloc(hl + len);
  memcpy(frame, h, hl);
  memcpy(frame + hl, text, len);
  send_all(fd, frame, hl + len);
  free(frame);
}

static void finish(struct conn *c, const char *outcome) {
  if (c->state == CONNECTING || c->state == HEAD || c->state == HELLO_SENT) { failed++; pending--; }
  snprintf(c->outcome, sizeof c->outcome, "%s", outcome);
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  c->state = c->state == DRAINING ? DONE : DEAD;
}

static void stall(struct conn *c) {
  // Stop reading for good (until "drain"): what the server sends piles up in the kernel, then in
  // the server's send queue.
  epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
  c->state = STALLED;
  opened++;
  pending--;
}

static void start(struct conn *c, int index) {
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int small_buffer = 4096, small_mss = 536, one = 1;
  setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &small_buffer, sizeof small_buffer);
  setsockopt(c->fd, IPPROTO_TCP, TCP_MAXSEG, &small_mss, sizeof small_mss);
  setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  // Spread over 127.0.0.2-9, like many client machines, so no per-address limit is in play.
  struct sockaddr_in local = {.sin_family = AF_INET};
  local.sin_addr.s_addr = htonl(0x7f000002 + (index % 8));
  bind(c->fd, (struct sockaddr *)&local, sizeof local);
  struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(port)};
  to.sin_addr.s_addr = htonl(0x7f000001);
  connect(c->fd, (struct sockaddr *)&to, sizeof to);
  c->state = CONNECTING;
  pending++;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
}

static void on_writable(struct conn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err) return finish(c, c->kind == WS ? "ws connect-failed" : "sse connect-failed");
  char req[4096];
  int n = c->kind == SSE
    ? snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAccept: text/event-stream\r\n\r\n", c->path, port)
    : snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", c->path, port);
  send_all(c->fd, req, n);
  c->state = HEAD;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

// Walks WebSocket frames from the end of the head on (so the frame boundaries stay known across the
// stall); a complete close frame sets the outcome.
static int walk_frames(struct conn *c, const unsigned char *buf, ssize_t n) {
  ssize_t at = 0;
  while (at < n) {
    if (c->left > 0) {
      uint64_t take = (uint64_t)(n - at) < c->left ? (uint64_t)(n - at) : c->left;
      if (c->opcode == 0x8) {
        for (uint64_t i = 0; i < take && c->close_len < (int)sizeof c->close_payload - 1; i++) c->close_payload[c->close_len++] = buf[at + i];
      }
      c->left -= take;
      at += take;
      if (c->left == 0 && c->opcode == 0x8) break;
      continue;
    }
    c->hdr[c->hdr_len++] = buf[at++];
    if (c->hdr_len < 2) continue;
    uint64_t len = c->hdr[1] & 0x7f;
    int hl = len == 126 ? 4 : len == 127 ? 10 : 2;
    if (c->hdr_len < hl) continue;
    if (len == 126) len = ((uint64_t)c->hdr[2] << 8) | c->hdr[3];
    else if (len == 127) { len = 0; for (int i = 2; i < 10; i++) len = (len << 8) | c->hdr[i]; }
    c->opcode = c->hdr[0] & 0x0f;
    c->hdr_len = 0;
    c->left = len;
    if (c->left == 0 && c->opcode == 0x8) break;
  }
  if (c->opcode == 0x8 && c->left == 0 && c->hdr_len == 0) {
    int code = c->close_len >= 2 ? (c->close_payload[0] << 8) | c->close_payload[1] : 1005;
    c->close_payload[c->close_len] = 0;
    snprintf(c->outcome, sizeof c->outcome, "ws close %d %s", code, c->close_len > 2 ? (char *)c->close_payload + 2 : "");
    return 1;
  }
  return 0;
}

// The chunked response of an SSE stream ended: its terminating "0\r\n\r\n" chunk arrived.
static void scan_sse(struct conn *c, const char *buf, ssize_t n) {
  char joined[24];
  int jl = 0;
  for (int i = 0; i < c->tail_len; i++) joined[jl++] = c->tail[i];
  ssize_t from = n > 8 ? n - 8 : 0;
  for (ssize_t i = from; i < n; i++) joined[jl++] = buf[i];
  if (memmem(joined, jl, "\r\n0\r\n\r\n", 7) != NULL || memmem(buf, n, "\r\n0\r\n\r\n", 7) != NULL) return finish(c, "sse ended");
  c->tail_len = jl >= 7 ? 7 : jl;
  memcpy(c->tail, joined + jl - c->tail_len, c->tail_len);
}

static void on_readable(struct conn *c) {
  static unsigned char buf[65536];
  for (;;) {
    ssize_t n = read(c->fd, buf, sizeof buf);
    if (n == 0) return finish(c, c->kind == WS ? (c->state == DRAINING ? "ws eof" : "ws refused") : (c->state == DRAINING ? "sse eof" : "sse refused"));
    if (n < 0) {
      if (errno != EAGAIN && errno != EINTR) finish(c, c->kind == WS ? "ws error" : "sse error");
      return;
    }
    ssize_t at = 0;
    int head_done = 0;
    if (c->state == HEAD) {
      int room = (int)sizeof c->head - 1 - c->head_len;
      int take = n < room ? (int)n : room;
      int before = c->head_len;
      memcpy(c->head + c->head_len, buf, take);
      c->head_len += take;
      c->head[c->head_len] = 0;
      char *end = strstr(c->head, "\r\n\r\n");
      if (!end) { if (c->head_len >= (int)sizeof c->head - 1) return finish(c, "head too long"); continue; }
      const char *ok = c->kind == SSE ? "HTTP/1.1 200" : "HTTP/1.1 101";
      if (strncmp(c->head, ok, 12) != 0) {
        char outcome[160];
        snprintf(outcome, sizeof outcome, "%s refused %.12s", c->kind == WS ? "ws" : "sse", c->head);
        return finish(c, outcome);
      }
      at = (end + 4 - c->head) - before;
      head_done = 1;
      if (c->kind == WS && c->hello) { c->state = HELLO_SENT; send_text(c->fd, c->hello); }
    }
    if (c->state == DRAINING) total_bytes += n - at;
    if (c->kind == WS) {
      // Frames are walked from the end of the head on, so their boundaries stay known over the stall.
      if (walk_frames(c, buf + at, n - at)) {
        char outcome[160];
        snprintf(outcome, sizeof outcome, "%s", c->outcome);
        return finish(c, outcome);
      }
    } else if (c->state == DRAINING) {
      scan_sse(c, (const char *)buf + at, n - at);
      if (c->state != DRAINING) return;
    }
    if (c->state == HELLO_SENT) {
      // The reply to the HELLO is small and comes first; it says whether the socket is usable.
      if (memmem(buf + at, n - at, "\"ok\":true", 9)) return stall(c);
      if (memmem(buf + at, n - at, "\"ok\":false", 10)) return finish(c, "ws hello refused");
      continue;
    }
    if (head_done) return stall(c);
  }
}

static void add_line(char *line) {
  if (nconns == cap) { cap = cap ? cap * 2 : 1024; conns = realloc(conns, cap * sizeof *conns); }
  struct conn *c = &conns[nconns];
  memset(c, 0, sizeof *c);
  char *kind = strtok(line, " \n");
  char *path = strtok(NULL, " \n");
  char *hello = strtok(NULL, "\n");
  if (!kind || !path) return;
  c->kind = strcmp(kind, "sse") == 0 ? SSE : WS;
  c->path = strdup(path);
  c->hello = hello ? strdup(hello) : NULL;
  nconns++;
}

struct tally { char outcome[160]; int count; };

static void report(void) {
  struct tally *t = calloc(nconns + 1, sizeof *t);
  int kinds = 0;
  for (int i = 0; i < nconns; i++) {
    struct conn *c = &conns[i];
    const char *outcome = c->outcome[0] ? c->outcome : c->kind == WS ? "ws open" : "sse open";
    int k = 0;
    while (k < kinds && strcmp(t[k].outcome, outcome) != 0) k++;
    if (k == kinds) { snprintf(t[k].outcome, sizeof t[k].outcome, "%s", outcome); kinds++; }
    t[k].count++;
  }
  for (int k = 0; k < kinds; k++) printf("result %d %s\n", t[k].count, t[k].outcome);
  printf("bytes %lld\ndone\n", total_bytes);
  fflush(stdout);
  free(t);
}

int main(int argc, char **argv) {
  if (argc < 2) { fprintf(stderr, "usage: stalled-clients <port> < connections\n"); return 2; }
  port = atoi(argv[1]);
  static char line[8192];
  while (fgets(line, sizeof line, stdin) && strncmp(line, "go", 2) != 0) add_line(line);
  epfd = epoll_create1(0);
  struct epoll_event events[512];
  int next = 0;
  while (next < nconns || pending > 0) {
    while (next < nconns && pending < 128) { start(&conns[next], next); next++; }
    int n = epoll_wait(epfd, events, 512, 10);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->state == CONNECTING) on_writable(c);
      else if (c->state == HEAD || c->state == HELLO_SENT) on_readable(c);
    }
  }
  printf("ready %d %d\n", opened, failed);
  fflush(stdout);

  // Wait, reading nothing from the sockets, for "drain <ms>" (or EOF: just exit).
  if (!fgets(line, sizeof line, stdin) || strncmp(line, "drain", 5) != 0) return 0;
  long long deadline = now_ms() + atoll(line + 6);
  for (int i = 0; i < nconns; i++) {
    struct conn *c = &conns[i];
    if (c->state != STALLED) continue;
    c->state = DRAINING;
    // Read at full speed now: a large buffer opens the window (up to 64 KiB, the scale was fixed small).
    int large_buffer = 1 << 20;
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &large_buffer, sizeof large_buffer);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev);
  }
  while (now_ms() < deadline) {
    int still = 0;
    for (int i = 0; i < nconns; i++) still += conns[i].state == DRAINING;
    if (still == 0) break;
    int n = epoll_wait(epfd, events, 512, 20);
    for (int i = 0; i < n; i++) {
      struct conn *c = events[i].data.ptr;
      if (c->state == DRAINING) on_readable(c);
    }
  }
  report();
  return 0;
}
