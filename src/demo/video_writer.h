// The annotated video written by -out_filename, through OpenCV's VideoWriter (FFmpeg). The
// codec follows the extension: .mp4/.m4v/.mov MPEG-4 Part 2 (mp4v), .avi/.mkv Motion JPEG:
// both are encoders Debian's FFmpeg always has, and players read both.
#pragma once
#include <opencv2/videoio.hpp>
#include <string>

namespace mishnet::demo {

class VideoFileWriter {
 public:
  // Throws naming the path: an unknown extension, a missing directory, a writer that fails.
  VideoFileWriter(const std::string& path, double fps, int width, int height);
  ~VideoFileWriter();
  VideoFileWriter(const VideoFileWriter&) = delete;
  VideoFileWriter& operator=(const VideoFileWriter&) = delete;

  // Frames of another size are resized to the video's (a camera may change mode mid-stream).
  void write(const cv::Mat& bgr);
  // Finishes the file (an .mp4 is unplayable until its index is written here).
  void close();
  long long frames() const { return frames_; }

 private:
  std::string path_;
  cv::VideoWriter writer_;
  cv::Size size_;
  long long frames_ = 0;
};

}  // namespace mishnet::demo
