#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include "CAMQPShim.h"

amqp_rpc_reply_t pagoda_amqp_login_plain(amqp_connection_state_t state,
                                         const char *vhost, int channel_max,
                                         int frame_max, int heartbeat,
                                         const amqp_table_t *properties,
                                         const char *user,
                                         const char *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max,
                                    heartbeat, properties,
                                    AMQP_SASL_METHOD_PLAIN, user, password);
}

int pagoda_send_connection_close_ok(amqp_connection_state_t state) {
  amqp_connection_close_ok_t ok;
  ok.dummy = 0;
  return amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
}

int pagoda_send_channel_close_ok(amqp_connection_state_t state, amqp_channel_t channel) {
  amqp_channel_close_ok_t ok;
  ok.dummy = 0;
  return amqp_send_method(state, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
}

int pagoda_send_basic_cancel(amqp_connection_state_t state, amqp_channel_t channel, amqp_bytes_t consumer_tag) {
  amqp_basic_cancel_t req;
  req.consumer_tag = consumer_tag;
  req.nowait = 0;
  return amqp_send_method(state, channel, AMQP_BASIC_CANCEL_METHOD, &req);
}

int pagoda_wake_open(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int pagoda_wake_signal(int fd) {
    uint64_t one = 1;
    for (;;) {
        if (write(fd, &one, sizeof one) == (ssize_t)sizeof one) return 0;
        if (errno == EINTR) continue;
        /* EAGAIN: the counter is at its maximum, so the descriptor is readable already. */
        return errno == EAGAIN ? 0 : -1;
    }
}

void pagoda_wake_drain(int fd) {
    uint64_t count;
    while (read(fd, &count, sizeof count) == (ssize_t)sizeof count) {}
}

int pagoda_wait_readable(int socket_fd, int wake_fd, int timeout_ms) {
    struct pollfd fds[2] = {{.fd = socket_fd, .events = POLLIN}, {.fd = wake_fd, .events = POLLIN}};
    int n = poll(fds, 2, timeout_ms);
    if (n <= 0) return 0;
    return ((fds[0].revents & (POLLIN | POLLERR | POLLHUP | POLLNVAL)) ? 1 : 0) | ((fds[1].revents & POLLIN) ? 2 : 0);
}
