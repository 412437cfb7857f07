#if MISHNET_HAVE_OPENCV
#include "demo/pipeline.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <exception>
#include <iostream>
#include <mutex>
#include <opencv2/highgui.hpp>
#include <opencv2/imgcodecs.hpp>
#include <optional>
#include <thread>
#include <vector>

#include "demo/bounded_queue.h"
#include "demo/frame_model.h"
#include "demo/frame_pixels.h"
#include "demo/stream_servers.h"
#include "demo/video_source.h"
#include "demo/video_writer.h"

namespace mishnet::demo {
namespace {

using Clock = std::chrono::steady_clock;

double ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double, std::milli>(b - a).count();
}

struct Frame {
  long long id = 0;  // from 1, as Darknet's frame_id
  cv::Mat bgr;
  Clock::time_point captured;
  std::vector<float> input;
  FrameAnnotation annotation;
};

// The first error of any stage; the others stop quietly after it.
class FirstError {
 public:
  void record(std::exception_ptr e) {
    std::lock_guard lock(mutex_);
    if (!error_) error_ = std::move(e);
  }
  void rethrow() {
    std::lock_guard lock(mutex_);
    if (error_) std::rethrow_exception(error_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr error_;
};

// FPS and latency over the last second, for the status line and the MJPEG page.
class RecentRate {
 public:
  void add(Clock::time_point t, double latency_ms) {
    recent_.emplace_back(t, latency_ms);
    while (!recent_.empty() && t - recent_.front().first > std::chrono::seconds(1)) recent_.pop_front();
  }
  double fps() const {
    if (recent_.size() < 2) return 0;
    const double s = std::chrono::duration<double>(recent_.back().first - recent_.front().first).count();
    return s > 0 ? double(recent_.size() - 1) / s : 0;
  }
  double latency_ms() const {
    double sum = 0;
    for (const auto& r : recent_) sum += r.second;
    return recent_.empty() ? 0 : sum / double(recent_.size());
  }

 private:
  std::deque<std::pair<Clock::time_point, double>> recent_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  const size_t k = std::min(v.size() - 1, size_t(p * double(v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + long(k), v.end());
  return v[k];
}

bool wait_for_clients(const PipelineOptions& o) {
  auto give_up = [&] { return o.interrupted && o.interrupted(); };
  if (o.mjpeg) {
    std::fprintf(o.out, "Waiting for a client of %sstream.mjpg\n", o.mjpeg->url().c_str());
    std::fflush(o.out);
    if (!o.mjpeg->wait_for_reader(give_up)) return false;
  }
  if (o.json) {
    std::fprintf(o.out, "Waiting for a client of %s\n", o.json->url().c_str());
    std::fflush(o.out);
    if (!o.json->wait_for_reader(give_up)) return false;
  }
  return true;
}

}  // namespace

PipelineSummary run_pipeline(VideoSource& source, FrameModel& model, const PipelineOptions& o) {
  PipelineSummary summary;
  std::unique_ptr<VideoFileWriter> writer;
  if (!o.out_filename.empty())
    writer = std::make_unique<VideoFileWriter>(o.out_filename, source.fps() > 0 ? source.fps() : 25.0,
                                               source.width(), source.height());
  bool window = o.show_window && !o.benchmark;
  if (window) {
    try {
      cv::namedWindow(o.window_title, cv::WINDOW_AUTOSIZE);
    } catch (const cv::Exception& e) {
      std::cerr << "warning: cannot open a window (" << e.what() << "); running without one, as with -dont_show\n";
      window = false;
    }
  }
  if (o.wait_for_client && !wait_for_clients(o)) {
    summary.ended = "interrupted";
    return summary;
  }

  // One frame per queue is enough to keep every stage busy, and keeps what a stop has to
  // finish (and, live, the latency) small.
  const QueuePolicy policy = source.live() ? QueuePolicy::drop_oldest : QueuePolicy::block;
  BoundedQueue<Frame> captured(1, policy), ready(1, policy), done(1, QueuePolicy::block);
  std::atomic<bool> stop{false};
  std::atomic<long long> frames_read{0};
  std::string stop_reason;  // set by the output thread (this one) or read after the joins
  std::atomic<bool> time_limit_hit{false};
  FirstError errors;
  auto abandon_all = [&] {
    stop = true;
    captured.abandon();
    ready.abandon();
    done.abandon();
  };
  const AnnotationParts parts{!o.benchmark, o.print_frames && !o.benchmark, o.json != nullptr};
  const Clock::time_point start = Clock::now();

  std::thread capture_thread([&] {
    try {
      cv::Mat frame;
      while (!stop && !(o.interrupted && o.interrupted())) {
        if (o.time_limit_sec > 0 && std::chrono::duration<double>(Clock::now() - start).count() >= o.time_limit_sec) {
          time_limit_hit = true;
          break;
        }
        if (!source.read(frame)) break;
        Frame f;
        f.captured = Clock::now();
        f.id = ++frames_read;
        f.bgr = std::move(frame);  // the capture must not reuse this buffer for the next frame
        frame = cv::Mat();
        if (!captured.push(std::move(f))) break;
      }
    } catch (...) {
      errors.record(std::current_exception());
      abandon_all();
    }
    captured.close();
  });
  std::thread preprocess_thread([&] {
    try {
      while (std::optional<Frame> f = captured.pop()) {
        f->input.resize(model.input_floats());
        model.preprocess(f->bgr, f->input.data());
        if (!ready.push(std::move(*f))) break;
      }
    } catch (...) {
      errors.record(std::current_exception());
      abandon_all();
    }
    ready.close();
  });
  std::thread infer_thread([&] {
    try {
      while (std::optional<Frame> f = ready.pop()) {
        f->annotation = model.infer(f->input.data(), f->bgr.cols, f->bgr.rows, f->id, parts);
        f->input = std::vector<float>();
        if (!done.push(std::move(*f))) break;
      }
    } catch (...) {
      errors.record(std::current_exception());
      abandon_all();
    }
    done.close();
  });

  std::vector<double> latencies;
  RecentRate recent;
  Clock::time_point last_status = start, last_jpeg{}, last_out = start;
  try {
    std::vector<unsigned char> jpeg;
    const std::vector<int> jpeg_params = {cv::IMWRITE_JPEG_QUALITY, o.jpeg_quality};
    while (std::optional<Frame> f = done.pop()) {
      if (!o.benchmark) {
        draw_boxes(f->bgr, f->annotation.boxes);
        draw_text_lines(f->bgr, f->annotation.overlay_lines);
      }
      if (writer) writer->write(f->bgr);
      // Frames are encoded while someone watches, and twice a second for /frame.jpg.
      if (o.mjpeg && (o.mjpeg->has_readers() || Clock::now() - last_jpeg > std::chrono::milliseconds(500))) {
        cv::imencode(".jpg", f->bgr, jpeg, jpeg_params);
        o.mjpeg->publish_jpeg(std::string(jpeg.begin(), jpeg.end()));
        last_jpeg = Clock::now();
      }
      if (o.json) o.json->publish(std::move(f->annotation.json));
      if (window) {
        cv::imshow(o.window_title, f->bgr);
        const int key = cv::waitKey(1) & 0xff;
        if (key == 27 || key == 'q') {
          stop = true;
          if (stop_reason.empty()) stop_reason = "stopped from the window";
        } else if (cv::getWindowProperty(o.window_title, cv::WND_PROP_VISIBLE) < 1) {
          stop = true;
          if (stop_reason.empty()) stop_reason = "window closed";
        }
      }

      const Clock::time_point now = Clock::now();
      last_out = now;
      const double latency = ms_between(f->captured, now);
      latencies.push_back(latency);
      recent.add(now, latency);
      ++summary.frames_out;
      if (parts.text) {
        std::fprintf(o.out, "Frame %lld (latency %.0f ms):\n%s", f->id, latency, f->annotation.text.c_str());
      }
      const double avg_fps =
          double(summary.frames_out) / std::max(1e-9, std::chrono::duration<double>(now - start).count());
      const uint64_t dropped = captured.dropped() + ready.dropped();
      if (o.mjpeg)
        o.mjpeg->set_stats({recent.fps(), avg_fps, recent.latency_ms(), uint64_t(summary.frames_out), dropped});
      if (now - last_status >= std::chrono::seconds(1)) {
        last_status = now;
        std::fprintf(o.out, "FPS: %.1f  AVG_FPS: %.1f  latency: %.0f ms  dropped: %llu\n", recent.fps(), avg_fps,
                     recent.latency_ms(), static_cast<unsigned long long>(dropped));
      }
      std::fflush(o.out);
      if (o.interrupted && o.interrupted()) {
        stop = true;
        if (stop_reason.empty()) stop_reason = "interrupted";
      }
    }
  } catch (...) {
    errors.record(std::current_exception());
    abandon_all();
  }
  capture_thread.join();
  preprocess_thread.join();
  infer_thread.join();
  if (window) cv::destroyWindow(o.window_title);
  if (writer) {
    writer->close();
    summary.frames_written = writer->frames();
  }
  errors.rethrow();

  if (stop_reason.empty()) {
    if (time_limit_hit) stop_reason = "time limit";
    else if (o.interrupted && o.interrupted()) stop_reason = "interrupted";
    else stop_reason = "end of stream";
  }
  summary.ended = stop_reason;
  summary.frames_read = frames_read;
  summary.frames_dropped = (long long)(captured.dropped() + ready.dropped());
  summary.seconds = std::chrono::duration<double>(last_out - start).count();
  summary.fps = summary.seconds > 0 ? double(summary.frames_out) / summary.seconds : 0;
  if (!latencies.empty()) {
    double sum = 0;
    for (double l : latencies) sum += l;
    summary.latency_mean_ms = sum / double(latencies.size());
    summary.latency_p50_ms = percentile(latencies, 0.5);
    summary.latency_p95_ms = percentile(latencies, 0.95);
    summary.latency_max_ms = *std::max_element(latencies.begin(), latencies.end());
  }
  if (o.mjpeg)
    o.mjpeg->set_stats({0, summary.fps, summary.latency_mean_ms, uint64_t(summary.frames_out),
                        uint64_t(summary.frames_dropped)});
  return summary;
}

std::string summary_text(const PipelineSummary& s) {
  char buf[512];
  std::snprintf(buf, sizeof buf,
                "Done (%s): %lld frames in %.2f s, %.1f FPS; latency capture to display: mean %.0f ms, median %.0f "
                "ms, 95th percentile %.0f ms, max %.0f ms; %lld frames dropped",
                s.ended.c_str(), s.frames_out, s.seconds, s.fps, s.latency_mean_ms, s.latency_p50_ms,
                s.latency_p95_ms, s.latency_max_ms, s.frames_dropped);
  return buf;
}

}  // namespace mishnet::demo
#endif
