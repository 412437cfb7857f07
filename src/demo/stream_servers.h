// The demo's HTTP servers (cpp-httplib), each on its own port and threads:
//   MjpegServer  /             a small HTML page showing the stream and the current FPS
//                /stream.mjpg  the annotated frames as multipart/x-mixed-replace JPEGs
//                /frame.jpg    the latest frame alone
//                /stats        {"fps", "avg_fps", "frames", "dropped", "latency_ms"}
//   JsonServer   any path      one JSON object per frame, one per line (NDJSON), as it happens
// Port 0 asks the system for a free port (port() says which). Both stop cleanly: open streams
// end, then the listening threads are joined.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace mishnet::demo {

// False when mishnet was built without cpp-httplib (then the constructors below throw).
bool http_servers_available();

struct StreamStats {
  double fps = 0;         // over the last second
  double avg_fps = 0;     // since the first frame
  double latency_ms = 0;  // capture to display, mean over the last second
  uint64_t frames = 0;
  uint64_t dropped = 0;
};

class MjpegServer {
 public:
  // Binds host:port and starts serving. Throws naming the address when it cannot: "port 8090
  // on 127.0.0.1 is already in use", "... permission denied", "host 'x' cannot be resolved".
  MjpegServer(const std::string& host, int port);
  ~MjpegServer();
  MjpegServer(const MjpegServer&) = delete;
  MjpegServer& operator=(const MjpegServer&) = delete;

  int port() const;
  std::string url() const;  // http://host:port/
  // True while someone reads /stream.mjpg (frames need encoding only then).
  bool has_readers() const;
  bool wait_for_reader(const std::function<bool()>& give_up);
  void publish_jpeg(std::string jpeg);
  void set_stats(const StreamStats& stats);
  // Ends the streams (readers get what they have not read yet) and stops the server.
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class JsonServer {
 public:
  JsonServer(const std::string& host, int port);
  ~JsonServer();
  JsonServer(const JsonServer&) = delete;
  JsonServer& operator=(const JsonServer&) = delete;

  int port() const;
  std::string url() const;
  bool has_readers() const;
  bool wait_for_reader(const std::function<bool()>& give_up);
  // One object, without a trailing newline (the server adds it).
  void publish(std::string json_object);
  void close();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace mishnet::demo
