#include "demo/stream_servers.h"

#include <cstdio>

#include "demo/broadcaster.h"
#include "mishnet/error.h"

// Debian's cpp-httplib is the compiled flavour (libcpp-httplib.so): the build defines
// MISHNET_HAVE_HTTPLIB when it links it. We include the header without the library's
// OpenSSL/zlib/Brotli defines; that changes the layout of the client classes and of Request's
// tail, so this file uses only the server side and reads Request only through its leading
// members (path), which are laid out the same either way.
#if defined(MISHNET_HAVE_HTTPLIB)
#include <httplib.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <mutex>
#include <thread>
#endif

namespace mishnet::demo {

#if !defined(MISHNET_HAVE_HTTPLIB)

bool http_servers_available() { return false; }

namespace {
[[noreturn]] void unavailable() {
  fail("this mishnet was built without cpp-httplib: -mjpeg_port and -json_port are unavailable "
       "(install libcpp-httplib-dev and rebuild)");
}
}  // namespace

struct MjpegServer::Impl {};
MjpegServer::MjpegServer(const std::string&, int) { unavailable(); }
MjpegServer::~MjpegServer() = default;
int MjpegServer::port() const { return 0; }
std::string MjpegServer::url() const { return {}; }
bool MjpegServer::has_readers() const { return false; }
bool MjpegServer::wait_for_reader(const std::function<bool()>&) { return false; }
void MjpegServer::publish_jpeg(std::string) {}
void MjpegServer::set_stats(const StreamStats&) {}
void MjpegServer::close() {}

struct JsonServer::Impl {};
JsonServer::JsonServer(const std::string&, int) { unavailable(); }
JsonServer::~JsonServer() = default;
int JsonServer::port() const { return 0; }
std::string JsonServer::url() const { return {}; }
bool JsonServer::has_readers() const { return false; }
bool JsonServer::wait_for_reader(const std::function<bool()>&) { return false; }
void JsonServer::publish(std::string) {}
void JsonServer::close() {}

#else

bool http_servers_available() { return true; }

namespace {

// httplib only says that binding failed; binding a probe socket the same way says why.
std::string bind_failure(const std::string& what, const std::string& host, int port) {
  const std::string where = "port " + std::to_string(port) + " on " + host;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &found); rc != 0)
    return what + ": cannot listen on " + host + ": " + gai_strerror(rc);
  int error = 0;
  int sock = socket(found->ai_family, found->ai_socktype, found->ai_protocol);
  if (sock < 0) {
    error = errno;
  } else {
    int yes = 1;
    setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    if (bind(sock, found->ai_addr, found->ai_addrlen) != 0) error = errno;
    ::close(sock);
  }
  freeaddrinfo(found);
  if (error == EADDRINUSE) return what + ": " + where + " is already in use (choose another port)";
  if (error == EACCES) return what + ": " + where + ": permission denied (ports below 1024 need privileges)";
  if (error == EADDRNOTAVAIL) return what + ": cannot listen on " + host + ": not an address of this machine";
  if (error != 0) return what + ": cannot listen on " + where + ": " + std::strerror(error);
  return what + ": cannot listen on " + where;
}

// One server on its own listening thread, streaming a Broadcaster's items to each reader.
class StreamingServer {
 public:
  StreamingServer(const std::string& what, const std::string& host, int port, size_t history,
                  bool start_with_latest)
      : host_(host), items_(history, start_with_latest) {
    if (port < 0 || port > 65535) fail(what, ": port ", port, " is not a port number (0 to 65535; 0: any free port)");
    // Not httplib's default SO_REUSEPORT: with it a second server would share the port
    // silently instead of being told that it is taken.
    server_.set_socket_options([](socket_t sock) {
      int yes = 1;
      setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
    });
    server_.set_keep_alive_timeout(1);
    if (port == 0) {
      port_ = server_.bind_to_any_port(host);
      if (port_ < 0) fail(bind_failure(what, host, 0));
    } else {
      if (!server_.bind_to_port(host, port)) fail(bind_failure(what, host, port));
      port_ = port;
    }
  }

  ~StreamingServer() { stop(); }

  httplib::Server& routes() { return server_; }
  Broadcaster& items() { return items_; }
  int port() const { return port_; }
  std::string url() const {
    const bool v6 = host_.find(':') != std::string::npos;
    return "http://" + (v6 ? "[" + host_ + "]" : host_) + ":" + std::to_string(port_) + "/";
  }

  void start() {
    thread_ = std::thread([this] {
      server_.listen_after_bind();
      listen_returned_ = true;
    });
    // httplib's stop() only interrupts a server that is already running (0.11 has no
    // wait_until_ready): a stop that came first would leave the thread blocked in accept().
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!server_.is_running() && !listen_returned_ && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void stop() {
    std::lock_guard lock(stop_mutex_);
    items_.close();
    // Readers first get what is left: stopping the server cuts streams short. A client that
    // stopped reading holds us at most this long (httplib's write timeout is 5 s).
    items_.wait_until_readers_left(std::chrono::seconds(6));
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }

  // A response that streams items until the broadcaster closes or the client goes away.
  void stream(httplib::Response& res, const std::string& content_type,
              std::function<bool(const std::string&, httplib::DataSink&)> write_item) {
    auto position = std::make_shared<uint64_t>(items_.join());
    res.set_header("Cache-Control", "no-store");
    res.set_content_provider(
        content_type,
        [this, position, write_item](size_t, httplib::DataSink& sink) {
          Broadcaster::Item item;
          switch (items_.next(*position, item, std::chrono::milliseconds(200))) {
            case Broadcaster::Next::closed:
              sink.done();
              return true;
            case Broadcaster::Next::timeout:
              return sink.is_writable();
            case Broadcaster::Next::item:
              break;
          }
          return write_item(*item, sink);
        },
        [this](bool) { items_.leave(); });
  }

 private:
  httplib::Server server_;
  std::string host_;
  int port_ = -1;
  Broadcaster items_;
  std::thread thread_;
  std::atomic<bool> listen_returned_{false};
  std::mutex stop_mutex_;
};

const char* kBoundary = "mishnetframe";

// Shows /stream.mjpg and polls /stats twice a second. The image sits below a fixed bar so
// the FPS text never covers it.
const char* kPage = R"(<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>mishnet demo</title>
<style>
  body { margin: 0; background: #202020; color: #e0e0e0; font: 15px sans-serif; }
  #bar { height: 32px; line-height: 32px; padding: 0 10px; background: #303030; }
  #stream { display: block; margin: 0; max-width: 100%; }
</style>
</head>
<body>
<div id="bar">mishnet demo &middot; <span id="fps">FPS: -</span></div>
<img id="stream" src="/stream.mjpg" alt="video stream">
<script>
  const fps = document.getElementById('fps');
  async function poll() {
    try {
      const s = await (await fetch('/stats', {cache: 'no-store'})).json();
      fps.textContent = 'FPS: ' + s.fps.toFixed(1) + ' (average ' + s.avg_fps.toFixed(1) + '), latency ' +
                        s.latency_ms.toFixed(0) + ' ms, frame ' + s.frames;
    } catch (e) {
      fps.textContent = 'stream ended';
      return;
    }
    setTimeout(poll, 500);
  }
  poll();
</script>
</body>
</html>
)";

std::string stats_json(const StreamStats& s) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "{\"fps\":%.2f, \"avg_fps\":%.2f, \"frames\":%llu, \"dropped\":%llu, \"latency_ms\":%.1f}", s.fps,
                s.avg_fps, static_cast<unsigned long long>(s.frames), static_cast<unsigned long long>(s.dropped),
                s.latency_ms);
  return buf;
}

}  // namespace

struct MjpegServer::Impl {
  StreamingServer server;
  std::mutex mutex;
  StreamStats stats;
  Broadcaster::Item latest;
  Impl(const std::string& host, int port) : server("-mjpeg_port", host, port, 1, true) {}
};

MjpegServer::MjpegServer(const std::string& host, int port) : impl_(std::make_unique<Impl>(host, port)) {
  Impl* impl = impl_.get();
  httplib::Server& routes = impl->server.routes();
  routes.Get("/", [](const httplib::Request&, httplib::Response& res) { res.set_content(kPage, "text/html"); });
  routes.Get("/stats", [impl](const httplib::Request&, httplib::Response& res) {
    std::lock_guard lock(impl->mutex);
    res.set_header("Cache-Control", "no-store");
    res.set_content(stats_json(impl->stats), "application/json");
  });
  routes.Get("/frame.jpg", [impl](const httplib::Request&, httplib::Response& res) {
    Broadcaster::Item latest;
    {
      std::lock_guard lock(impl->mutex);
      latest = impl->latest;
    }
    res.set_header("Cache-Control", "no-store");
    if (!latest) {
      res.status = 503;
      res.set_content("no frame yet\n", "text/plain");
      return;
    }
    res.set_content(*latest, "image/jpeg");
  });
  routes.Get("/stream.mjpg", [impl](const httplib::Request&, httplib::Response& res) {
    // Each frame is followed at once by the next boundary: browsers show a part when the next
    // boundary arrives, so without it they would show every frame one frame late.
    auto opened = std::make_shared<bool>(false);
    impl->server.stream(res, std::string("multipart/x-mixed-replace; boundary=") + kBoundary,
                        [opened](const std::string& jpeg, httplib::DataSink& sink) {
                          const std::string boundary = std::string("--") + kBoundary + "\r\n";
                          const std::string head = (*opened ? "" : boundary) +
                                                   "Content-Type: image/jpeg\r\nContent-Length: " +
                                                   std::to_string(jpeg.size()) + "\r\n\r\n";
                          *opened = true;
                          const std::string tail = "\r\n" + boundary;
                          return sink.write(head.data(), head.size()) && sink.write(jpeg.data(), jpeg.size()) &&
                                 sink.write(tail.data(), tail.size());
                        });
  });
  impl->server.start();
}

// Stopped before Impl's other members go: the handlers use them.
MjpegServer::~MjpegServer() { impl_->server.stop(); }
int MjpegServer::port() const { return impl_->server.port(); }
std::string MjpegServer::url() const { return impl_->server.url(); }
bool MjpegServer::has_readers() const { return impl_->server.items().readers() > 0; }
bool MjpegServer::wait_for_reader(const std::function<bool()>& give_up) {
  return impl_->server.items().wait_for_reader(give_up);
}

void MjpegServer::publish_jpeg(std::string jpeg) {
  auto shared = std::make_shared<const std::string>(std::move(jpeg));
  {
    std::lock_guard lock(impl_->mutex);
    impl_->latest = shared;
  }
  impl_->server.items().publish(std::move(shared));
}

void MjpegServer::set_stats(const StreamStats& stats) {
  std::lock_guard lock(impl_->mutex);
  impl_->stats = stats;
}

void MjpegServer::close() { impl_->server.stop(); }

struct JsonServer::Impl {
  StreamingServer server;
  // A reader more than this many frames behind loses the oldest ones.
  Impl(const std::string& host, int port) : server("-json_port", host, port, 1024, false) {}
};

JsonServer::JsonServer(const std::string& host, int port) : impl_(std::make_unique<Impl>(host, port)) {
  Impl* impl = impl_.get();
  // Every path is the stream, as Darknet's JSON server answers any request with it.
  impl->server.routes().Get(".*", [impl](const httplib::Request&, httplib::Response& res) {
    impl->server.stream(res, "application/x-ndjson", [](const std::string& object, httplib::DataSink& sink) {
      return sink.write(object.data(), object.size()) && sink.write("\n", 1);
    });
  });
  impl->server.start();
}

JsonServer::~JsonServer() { impl_->server.stop(); }
int JsonServer::port() const { return impl_->server.port(); }
std::string JsonServer::url() const { return impl_->server.url(); }
bool JsonServer::has_readers() const { return impl_->server.items().readers() > 0; }
bool JsonServer::wait_for_reader(const std::function<bool()>& give_up) {
  return impl_->server.items().wait_for_reader(give_up);
}
void JsonServer::publish(std::string json_object) { impl_->server.items().publish(std::move(json_object)); }
void JsonServer::close() { impl_->server.stop(); }

#endif

}  // namespace mishnet::demo
