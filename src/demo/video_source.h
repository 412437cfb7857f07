// Where the demo's frames come from: a camera (by index), a video file, or a stream URL
// (rtsp://, http://, ...), through OpenCV's VideoCapture. Opening reads the first frame, so a
// source that opens but cannot be decoded is reported at once, with what was tried.
#pragma once
#include <opencv2/videoio.hpp>
#include <string>

namespace mishnet::demo {

struct SourceSpec {
  enum class Kind { camera, file, url };
  Kind kind = Kind::camera;
  int camera_index = 0;
  std::string location;  // file path or URL

  // `-c N` (camera_index >= 0) or a positional VIDEO/URL; neither: camera 0, as Darknet.
  // Both given is an error.
  static SourceSpec from_arguments(int camera_index, const std::string& video_or_url);
  std::string describe() const;  // "camera 0", the path, the URL
};

class VideoSource {
 public:
  // Throws mishnet::Error: "camera 3: cannot open it; tried /dev/video3 with V4L2 (no such
  // device), index 3 with OpenCV's other backends; video devices here: none",
  // "clip.mp4: no such file", "rtsp://cam/1: unreachable: connection refused", ...
  static VideoSource open(const SourceSpec& spec);

  VideoSource(VideoSource&&) = default;
  VideoSource& operator=(VideoSource&&) = default;

  const std::string& name() const { return name_; }
  // Cameras and network streams are live: frames come at their own pace and a stale one is
  // worth dropping. A file (or a URL of a file, which reports a frame count) is read in full.
  bool live() const { return live_; }
  double fps() const { return fps_; }  // 0 when the source does not say
  int width() const { return width_; }
  int height() const { return height_; }
  long long frame_count() const { return frame_count_; }  // -1 when unknown

  // The next frame (BGR, 8 bits); false at the end of the stream.
  bool read(cv::Mat& frame);

 private:
  VideoSource() = default;
  void take(cv::VideoCapture capture, const std::string& name, bool live);

  cv::VideoCapture capture_;
  std::string name_;
  bool live_ = false;
  double fps_ = 0;
  int width_ = 0, height_ = 0;
  long long frame_count_ = -1;
  cv::Mat first_;  // read while opening, returned by the first read()
};

}  // namespace mishnet::demo
