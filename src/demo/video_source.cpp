#if MISHNET_HAVE_OPENCV
#include "demo/video_source.h"

#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <opencv2/core/utils/logger.hpp>
#include <opencv2/imgproc.hpp>
#include <vector>

#include "mishnet/error.h"

namespace mishnet::demo {
namespace {

namespace fs = std::filesystem;

// OpenCV logs its own warnings while it tries backends, and FFmpeg its errors ("Connection
// refused", "moov atom not found"); our error says what was tried instead, on one line.
// OpenCV reads OPENCV_FFMPEG_LOGLEVEL when it first starts FFmpeg (-8: AV_LOG_QUIET); a value
// the user set (to debug) is kept.
class QuietOpenCv {
 public:
  QuietOpenCv() : previous_(cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT)) {
    setenv("OPENCV_FFMPEG_LOGLEVEL", "-8", 0);
  }
  ~QuietOpenCv() { cv::utils::logging::setLogLevel(previous_); }

 private:
  cv::utils::logging::LogLevel previous_;
};

std::string video_devices_here() {
  std::vector<std::string> found;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/dev", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("video", 0) == 0) found.push_back(entry.path().string());
  }
  if (found.empty()) return "none";
  std::sort(found.begin(), found.end());
  std::string list;
  for (const std::string& f : found) list += (list.empty() ? "" : ", ") + f;
  return list;
}

bool is_url(const std::string& s) {
  const size_t colon = s.find("://");
  if (colon == std::string::npos || colon == 0) return false;
  return std::all_of(s.begin(), s.begin() + long(colon), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
  });
}

// The host and port of a URL for a reachability probe; false when the URL has none we know.
bool url_host_port(const std::string& url, std::string& host, std::string& port) {
  const size_t scheme_end = url.find("://");
  const std::string scheme = url.substr(0, scheme_end);
  std::string rest = url.substr(scheme_end + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (size_t at = rest.rfind('@'); at != std::string::npos) rest = rest.substr(at + 1);
  if (!rest.empty() && rest[0] == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return false;
    host = rest.substr(1, close - 1);
    rest = rest.substr(close + 1);
    port = !rest.empty() && rest[0] == ':' ? rest.substr(1) : "";
  } else {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    port = colon == std::string::npos ? "" : rest.substr(colon + 1);
  }
  if (port.empty()) {
    if (scheme == "http") port = "80";
    else if (scheme == "https") port = "443";
    else if (scheme == "rtsp") port = "554";
    else if (scheme == "rtmp") port = "1935";
    else return false;
  }
  return !host.empty();
}

// Why a URL could not be opened, when the reason is that its server cannot be reached: a
// name that does not resolve, a refused connection, a timeout. Empty when a TCP connection
// succeeds (the server is there; the stream is what failed) or the scheme is not TCP.
std::string unreachable_reason(const std::string& url) {
  std::string host, port;
  if (!url_host_port(url, host, port)) return "";
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (int rc = getaddrinfo(host.c_str(), port.c_str(), &hints, &found); rc != 0)
    return "host '" + host + "' cannot be resolved (" + gai_strerror(rc) + ")";
  std::string reason = "no address of '" + host + "' accepts connections";
  for (addrinfo* a = found; a; a = a->ai_next) {
    int sock = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK, a->ai_protocol);
    if (sock < 0) continue;
    int error = 0;
    if (connect(sock, a->ai_addr, a->ai_addrlen) != 0) {
      error = errno;
      if (error == EINPROGRESS) {
        pollfd p{sock, POLLOUT, 0};
        if (poll(&p, 1, 3000) == 1) {
          socklen_t len = sizeof error;
          getsockopt(sock, SOL_SOCKET, SO_ERROR, &error, &len);
        } else {
          error = ETIMEDOUT;
        }
      }
    }
    ::close(sock);
    if (error == 0) {
      freeaddrinfo(found);
      return "";
    }
    reason = host + ":" + port + ": " + std::strerror(error);
  }
  freeaddrinfo(found);
  return reason;
}

}  // namespace

SourceSpec SourceSpec::from_arguments(int camera_index, const std::string& video_or_url) {
  SourceSpec spec;
  if (camera_index >= 0 && !video_or_url.empty())
    fail("give either a camera (-c ", camera_index, ") or a video/URL ('", video_or_url, "'), not both");
  if (!video_or_url.empty()) {
    spec.kind = is_url(video_or_url) ? Kind::url : Kind::file;
    spec.location = video_or_url;
  } else {
    spec.kind = Kind::camera;
    spec.camera_index = camera_index >= 0 ? camera_index : 0;
  }
  return spec;
}

std::string SourceSpec::describe() const {
  return kind == Kind::camera ? "camera " + std::to_string(camera_index) : location;
}

void VideoSource::take(cv::VideoCapture capture, const std::string& name, bool live) {
  capture_ = std::move(capture);
  name_ = name;
  live_ = live;
  fps_ = capture_.get(cv::CAP_PROP_FPS);
  if (!(fps_ > 0 && fps_ < 1000)) fps_ = 0;
  const double count = capture_.get(cv::CAP_PROP_FRAME_COUNT);
  frame_count_ = count > 0 && std::isfinite(count) ? static_cast<long long>(count) : -1;
}

VideoSource VideoSource::open(const SourceSpec& spec) {
  VideoSource source;
  const std::string name = spec.describe();
  cv::VideoCapture capture;
  QuietOpenCv quiet;

  if (spec.kind == SourceSpec::Kind::camera) {
    const int i = spec.camera_index;
    const std::string device = "/dev/video" + std::to_string(i);
    std::string v4l2 = "/dev/video" + std::to_string(i) + " with V4L2";
    if (!fs::exists(device)) v4l2 += " (no such device)";
    else if (access(device.c_str(), R_OK | W_OK) != 0) v4l2 += std::string(" (") + std::strerror(errno) + ")";
    else v4l2 += " (it did not open)";
    bool opened = capture.open(i, cv::CAP_V4L2);
    if (!opened) opened = capture.open(i, cv::CAP_ANY);
    if (!opened)
      fail(name, ": cannot open it; tried ", v4l2, ", index ", i,
           " with OpenCV's other backends; video devices here: ", video_devices_here());
    source.take(std::move(capture), name, true);
    if (!source.capture_.read(source.first_) || source.first_.empty())
      fail(name, ": opened, but it gives no frames (is another program using it?)");
  } else if (spec.kind == SourceSpec::Kind::file) {
    const std::string& path = spec.location;
    std::error_code ec;
    if (!fs::exists(path, ec)) fail(path, ": no such file");
    if (fs::is_directory(path, ec)) fail(path, ": is a directory, not a video");
    if (!std::ifstream(path, std::ios::binary)) fail(path, ": cannot read it (", std::strerror(errno), ")");
    bool opened = capture.open(path, cv::CAP_FFMPEG);
    if (!opened) opened = capture.open(path, cv::CAP_ANY);
    if (!opened)
      fail(path, ": cannot read it as a video (OpenCV's backends do not recognise it: not a video, or a codec "
                 "they lack)");
    source.take(std::move(capture), name, false);
    if (!source.capture_.read(source.first_) || source.first_.empty())
      fail(path, ": opened, but no frame could be decoded (damaged, or empty)");
  } else {
    const std::string& url = spec.location;
    const std::vector<int> timeouts = {cv::CAP_PROP_OPEN_TIMEOUT_MSEC, 10000, cv::CAP_PROP_READ_TIMEOUT_MSEC, 10000};
    bool opened = capture.open(url, cv::CAP_FFMPEG, timeouts);
    if (!opened) opened = capture.open(url, cv::CAP_ANY);
    if (!opened) {
      const std::string reason = unreachable_reason(url);
      if (!reason.empty()) fail(url, ": unreachable: ", reason);
      fail(url, ": cannot open the stream (the server answers, but OpenCV cannot read a video from it)");
    }
    source.take(std::move(capture), name, true);
    // A URL of a whole file (it reports a frame count) is read in full, like a file.
    if (source.frame_count_ > 0) source.live_ = false;
    if (!source.capture_.read(source.first_) || source.first_.empty())
      fail(url, ": opened, but no frame arrived");
  }
  source.width_ = source.first_.cols;
  source.height_ = source.first_.rows;
  return source;
}

bool VideoSource::read(cv::Mat& frame) {
  if (!first_.empty()) {
    frame = std::move(first_);
    first_ = cv::Mat();
  } else if (!capture_.read(frame) || frame.empty()) {
    return false;
  }
  // The rest of the pipeline sees 8-bit BGR only.
  if (frame.depth() != CV_8U) frame.convertTo(frame, CV_8U);
  if (frame.channels() == 1) cv::cvtColor(frame, frame, cv::COLOR_GRAY2BGR);
  else if (frame.channels() == 4) cv::cvtColor(frame, frame, cv::COLOR_BGRA2BGR);
  return true;
}

}  // namespace mishnet::demo
#endif
