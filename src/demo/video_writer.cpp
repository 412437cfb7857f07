#if MISHNET_HAVE_OPENCV
#include "demo/video_writer.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <opencv2/imgproc.hpp>

#include "mishnet/error.h"

namespace mishnet::demo {

VideoFileWriter::VideoFileWriter(const std::string& path, double fps, int width, int height)
    : path_(path), size_(width, height) {
  namespace fs = std::filesystem;
  std::string ext = fs::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  int fourcc = 0;
  if (ext == ".mp4" || ext == ".m4v" || ext == ".mov") fourcc = cv::VideoWriter::fourcc('m', 'p', '4', 'v');
  else if (ext == ".avi" || ext == ".mkv") fourcc = cv::VideoWriter::fourcc('M', 'J', 'P', 'G');
  else fail(path, ": cannot tell the video format from the extension '", ext, "' (use .mp4, .avi or .mkv)");
  const fs::path dir = fs::path(path).parent_path();
  std::error_code ec;
  if (!dir.empty() && !fs::is_directory(dir, ec)) fail(path, ": the directory ", dir.string(), " does not exist");
  if (!writer_.open(path, cv::CAP_FFMPEG, fourcc, fps, size_, true))
    fail(path, ": cannot write a video there (OpenCV's FFmpeg writer refused it: is the directory writable?)");
}

VideoFileWriter::~VideoFileWriter() { close(); }

void VideoFileWriter::write(const cv::Mat& bgr) {
  if (bgr.size() == size_) {
    writer_.write(bgr);
  } else {
    cv::Mat sized;
    cv::resize(bgr, sized, size_, 0, 0, cv::INTER_LINEAR);
    writer_.write(sized);
  }
  ++frames_;
}

void VideoFileWriter::close() {
  if (writer_.isOpened()) writer_.release();
}

}  // namespace mishnet::demo
#endif
