// Helpers of the demo tests: scenes of Fashion-MNIST items written as a video, a tiny detector
// with random weights, the `mishnet` program run in the background, and a plain HTTP client
// (the test side must not share the server's code; 127.0.0.1 only, every wait bounded).
#pragma once
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "data/idx_file.h"
#include "mishnet/network.h"
#include "mishnet/weights.h"
#include "test_util.h"

extern char** environ;

namespace mishnet::test::demo {

using Clock = std::chrono::steady_clock;

inline Clock::time_point deadline_after(double seconds) {
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
}

inline const char* kFashionDir = "/usr/share/datasets/fashion-mnist";

#define MISHNET_REQUIRE_FASHION_MNIST()                                                                   \
  do {                                                                                                    \
    if (!std::filesystem::exists(std::string(::mishnet::test::demo::kFashionDir) +                       \
                                 "/t10k-images-idx3-ubyte.gz"))                                           \
      GTEST_SKIP() << ::mishnet::test::demo::kFashionDir << " is absent (Debian package dataset-fashion-mnist)"; \
  } while (0)

inline const std::vector<std::string>& fashion_names() {
  static const std::vector<std::string> names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                                 "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return names;
}

struct FashionItems {
  data::IdxArray images, labels;
};

inline const FashionItems& fashion_items() {
  static const FashionItems items = [] {
    FashionItems f;
    f.images = data::read_idx_file(std::string(kFashionDir) + "/t10k-images-idx3-ubyte.gz");
    f.labels = data::read_idx_file(std::string(kFashionDir) + "/t10k-labels-idx1-ubyte.gz");
    return f;
  }();
  return items;
}

// Where an item sits in a frame (pixels) and what it is.
struct SceneItem {
  cv::Rect box;
  int label = 0;
};

// A frame: a dim gradient with a few Fashion-MNIST items (white on black in the dataset,
// pasted as light items at twice their size) moving across it, so every frame differs.
inline cv::Mat scene_frame(int w, int h, int frame, std::vector<SceneItem>* truth = nullptr) {
  const FashionItems& f = fashion_items();
  cv::Mat canvas(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) canvas.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(40 + x % 40), uchar(50 + y % 30), 70);
  const int size = std::min(56, std::min(w, h) / 2);
  for (int k = 0; k < 2; ++k) {
    const size_t index = size_t(k * 37 + frame) % f.images.count();
    cv::Mat item(28, 28, CV_8UC1, const_cast<uint8_t*>(&f.images.values[index * 784]));
    cv::Mat big, colour;
    cv::resize(item, big, cv::Size(size, size), 0, 0, cv::INTER_NEAREST);
    cv::cvtColor(big, colour, cv::COLOR_GRAY2BGR);
    const int x = (k * w / 2 + frame * 3) % std::max(1, w - size);
    const int y = (k * h / 3 + frame) % std::max(1, h - size);
    cv::Rect box(x, y, size, size);
    cv::Mat target = canvas(box);
    cv::max(target, colour, target);
    if (truth) truth->push_back({box, int(f.labels.values[index])});
  }
  return canvas;
}

// Writes `frames` scenes as Motion JPEG (.avi): OpenCV's FFmpeg always has that encoder.
inline void write_scene_video(const std::string& path, int frames, int w, int h, double fps = 10) {
  cv::VideoWriter writer(path, cv::CAP_FFMPEG, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, cv::Size(w, h));
  ASSERT_TRUE(writer.isOpened()) << path;
  for (int i = 0; i < frames; ++i) writer.write(scene_frame(w, h, i));
}

// Frames as the demo will decode them (the same decoder, so the same pixels).
inline std::vector<cv::Mat> read_video(const std::string& path) {
  std::vector<cv::Mat> frames;
  cv::VideoCapture capture(path, cv::CAP_FFMPEG);
  cv::Mat frame;
  while (capture.read(frame) && !frame.empty()) frames.push_back(frame.clone());
  return frames;
}

// 64x64 -> 4x4 grid, 3 anchors, the 10 Fashion-MNIST classes. Random weights: detections are
// arbitrary, which is enough to test that each frame's come out, in order, intact.
inline const char* kTinyYoloCfg = R"([net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=2
pad=1
activation=leaky

[convolutional]
batch_normalize=1
filters=16
size=3
stride=2
pad=1
activation=leaky

[maxpool]
size=4
stride=4

[convolutional]
filters=45
size=1
stride=1
pad=0
activation=linear

[yolo]
mask=0,1,2
anchors=10,14, 23,27, 37,58
classes=10
num=3
)";

// 64x64 -> 10 scores (softmax): a tiny Fashion-MNIST "classifier".
inline const char* kTinyClassifierCfg = R"([net]
width=64
height=64
channels=3

[convolutional]
batch_normalize=1
filters=8
size=3
stride=4
pad=1
activation=leaky

[convolutional]
filters=10
size=16
stride=1
pad=0
activation=linear

[softmax]
)";

struct ModelFiles {
  std::string dir, data, cfg, weights, names;
};

inline ModelFiles write_model(const std::string& dir, const char* cfg_text) {
  ModelFiles m;
  m.dir = dir;
  m.cfg = dir + "/net.cfg";
  m.weights = dir + "/net.weights";
  m.names = dir + "/fashion.names";
  m.data = dir + "/fashion.data";
  std::ofstream(m.cfg) << cfg_text;
  Network net = Network::from_cfg_file(m.cfg);
  init_weights(net, test_seed());
  save_weights(net, m.weights);
  std::ofstream names(m.names);
  for (const std::string& n : fashion_names()) names << n << "\n";
  std::ofstream(m.data) << "classes=10\nnames=" << m.names << "\n";
  return m;
}

// `mishnet` (or another program) in the background: stdout read by a thread as it comes (a
// program blocked on a full pipe would stall the test), stderr to a file.
class DemoProcess {
 public:
  explicit DemoProcess(const std::vector<std::string>& args,
                       const std::string& program = std::string(MISHNET_BINARY_DIR) + "/mishnet") {
    static int calls = 0;
    err_path_ = scratch_root() + "/demo_stderr_" + std::to_string(getpid()) + "_" + std::to_string(++calls);
    int out_pipe[2];
    if (pipe(out_pipe) != 0) return;
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out_pipe[1], 1);
    posix_spawn_file_actions_addclose(&actions, out_pipe[0]);
    posix_spawn_file_actions_addclose(&actions, out_pipe[1]);
    posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    std::vector<std::string> argv_s = {program};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (std::string& a : argv_s) argv.push_back(a.data());
    argv.push_back(nullptr);
    // One OpenMP thread: the tests check plumbing, and on a loaded machine two threads that
    // wait on each other at every barrier are slower than one. No DISPLAY: never a window.
    std::vector<std::string> env_s;
    for (char** e = environ; *e; ++e)
      if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0 && std::strncmp(*e, "DISPLAY=", 8) != 0) env_s.push_back(*e);
    env_s.push_back("OMP_NUM_THREADS=1");
    std::vector<char*> envp;
    for (std::string& e : env_s) envp.push_back(e.data());
    envp.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
    close(out_pipe[1]);
    const int fd = out_pipe[0];
    reader_ = std::thread([this, fd] {
      char buf[65536];
      while (!stop_reading_) {
        pollfd p{fd, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        const ssize_t n = read(fd, buf, sizeof buf);
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        out_.append(buf, size_t(n));
      }
      close(fd);
      eof_ = true;
    });
  }

  ~DemoProcess() {
    if (pid_ > 0 && exit_code_ == kRunning) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    stop_reading_ = true;
    if (reader_.joinable()) reader_.join();
    std::filesystem::remove(err_path_);
  }

  bool started() const { return pid_ > 0; }
  pid_t pid() const { return pid_; }
  std::string out() const {
    std::lock_guard lock(mutex_);
    return out_;
  }
  // stderr without the line that says where inference runs ("running on GPU 0 (...)", "CUDA
  // build, no device (...): running on the CPU"): information, not an error or a warning.
  std::string err() const {
    std::ifstream f(err_path_);
    std::string all((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    std::string kept;
    size_t at = 0;
    while (at < all.size()) {
      size_t end = all.find('\n', at);
      end = end == std::string::npos ? all.size() : end + 1;
      const std::string line = all.substr(at, end - at);
      if (line.rfind("running on GPU ", 0) != 0 && line.rfind("CUDA build, no device (", 0) != 0)
        kept += line;
      at = end;
    }
    return kept;
  }

  // Waits until stdout matches `pattern` (returns the first capture group, or the match);
  // "" when the deadline passes or stdout ends first.
  std::string wait_for(const std::regex& pattern, double seconds = 60) {
    const Clock::time_point deadline = deadline_after(seconds);
    std::smatch m;
    while (true) {
      const bool ended = eof_;
      const std::string text = out();
      if (std::regex_search(text, m, pattern)) return m.size() > 1 ? m[1].str() : m[0].str();
      if (ended || Clock::now() > deadline) return "";
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  // Waits for the exit, then for the rest of stdout; kills it after the deadline. -1: killed
  // or crashed.
  int wait_exit(double seconds = 60) {
    const Clock::time_point deadline = deadline_after(seconds);
    while (exit_code_ == kRunning) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        break;
      }
      if (Clock::now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, nullptr, 0);
        exit_code_ = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    // Children of the program (a browser's) may hold stdout a moment longer; do not wait forever.
    const Clock::time_point eof_deadline = deadline_after(5);
    while (!eof_ && Clock::now() < eof_deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    return exit_code_;
  }

 private:
  static constexpr int kRunning = -1000;

  static std::string scratch_root() {
    auto dir = std::filesystem::path(MISHNET_BINARY_DIR) / "test-scratch";
    std::filesystem::create_directories(dir);
    return dir.string();
  }

  pid_t pid_ = -1;
  int exit_code_ = kRunning;
  mutable std::mutex mutex_;
  std::string out_;
  std::atomic<bool> eof_{false}, stop_reading_{false};
  std::thread reader_;
  std::string err_path_;
};

// A plain HTTP/1.1 GET on 127.0.0.1 that reads until the server closes the connection, the
// deadline passes, or `enough` says the body so far is enough. Returns the raw response.
class HttpClient {
 public:
  HttpClient(int port, const std::string& path) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(uint16_t(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      close(fd_);
      fd_ = -1;
      return;
    }
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                                "\r\nConnection: close\r\n\r\n";
    if (send(fd_, request.data(), request.size(), MSG_NOSIGNAL) != ssize_t(request.size())) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~HttpClient() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  // Reads until EOF (true) or the deadline (false).
  bool read_all(double seconds, const std::function<bool(const std::string&)>& enough = nullptr) {
    const Clock::time_point deadline = deadline_after(seconds);
    char buf[65536];
    while (fd_ >= 0 && Clock::now() < deadline) {
      if (enough && enough(data)) return true;
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 200) <= 0) continue;
      const ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return true;
      data.append(buf, size_t(n));
    }
    return false;
  }

  std::string head() const { return data.substr(0, data.find("\r\n\r\n")); }
  std::string body() const {
    const size_t at = data.find("\r\n\r\n");
    return at == std::string::npos ? "" : data.substr(at + 4);
  }

  std::string data;

 private:
  int fd_ = -1;
};

inline std::string http_get(int port, const std::string& path, double seconds = 20) {
  HttpClient c(port, path);
  if (!c.connected()) return "";
  c.read_all(seconds);
  return c.data;
}

// A port that nothing listens on right now (bound, then released).
inline int closed_port() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

// A socket listening on 127.0.0.1 (a port "in use"); closed by the destructor.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
    listen(fd_, 4);
    socklen_t len = sizeof addr;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~Listener() { close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// The numbers of a JSON text, in order (to compare two results with a tolerance).
inline std::vector<double> json_numbers(const std::string& s) {
  std::vector<double> out;
  // Only values: a number right after ':' (names may contain digits).
  static const std::regex value(R"(:\s*(-?[0-9][0-9.eE+-]*))");
  for (auto it = std::sregex_iterator(s.begin(), s.end(), value); it != std::sregex_iterator(); ++it)
    out.push_back(std::stod((*it)[1].str()));
  return out;
}

inline std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::stringstream in(s);
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace mishnet::test::demo
