// The demo's pipeline: four stages on their own threads, joined by bounded queues.
//
//   capture ──► preprocess ──► infer ──► output (this thread: draw, write, show, serve, print)
//
// Each queue holds one frame. A live source (camera, stream) uses queues that drop their
// oldest frame when full, so the network always gets the freshest frame and latency stays at
// about one frame per stage; the frames dropped are counted. A file uses blocking queues:
// every frame, in order, so the video written has as many frames as the one read.
// Stopping (Ctrl-C, Esc in the window, the time limit) ends the capture; frames already in
// the pipeline still come out, the video file is finished, and the summary is printed.
#pragma once
#include <cstdio>
#include <functional>
#include <string>

namespace mishnet::demo {

class VideoSource;
class FrameModel;
class MjpegServer;
class JsonServer;

struct PipelineOptions {
  bool show_window = false;  // an OpenCV window (the caller checked that a display exists)
  std::string window_title = "mishnet demo";
  std::string out_filename;  // annotated video, when not empty
  MjpegServer* mjpeg = nullptr;
  JsonServer* json = nullptr;
  // Start reading frames only once each server above has a client (tests, recordings).
  bool wait_for_client = false;
  // Darknet's -benchmark: no drawing and no per-frame text; the FPS lines only.
  bool benchmark = false;
  bool print_frames = true;    // each frame's annotation text on `out`
  double time_limit_sec = 0;   // > 0: stop after this long
  std::function<bool()> interrupted;  // polled: true stops the demo (Ctrl-C)
  int jpeg_quality = 80;
  FILE* out = stdout;
};

struct PipelineSummary {
  long long frames_read = 0;
  long long frames_out = 0;
  long long frames_dropped = 0;
  long long frames_written = 0;  // to out_filename
  double seconds = 0;            // first frame read to last frame out
  double fps = 0;
  double latency_mean_ms = 0, latency_p50_ms = 0, latency_p95_ms = 0, latency_max_ms = 0;
  std::string ended;  // "end of stream", "interrupted", "time limit", "window closed"
};

// "Done (end of stream): 120 frames in 5.71 s, 21.0 FPS; ..." with latency and drops.
std::string summary_text(const PipelineSummary& s);

// Runs until the source ends or a stop; rethrows the first error of any stage after every
// thread has stopped.
PipelineSummary run_pipeline(VideoSource& source, FrameModel& model, const PipelineOptions& options);

}  // namespace mishnet::demo
