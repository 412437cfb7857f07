#if MISHNET_HAVE_OPENCV
#include "demo/demo_session.h"

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "demo/frame_model.h"
#include "demo/pipeline.h"
#include "demo/stream_servers.h"
#include "mishnet/error.h"

namespace mishnet::demo {

bool display_available() {
  const char* x11 = std::getenv("DISPLAY");
  const char* wayland = std::getenv("WAYLAND_DISPLAY");
  return (x11 && *x11) || (wayland && *wayland);
}

void run_demo(const DemoSettings& s,
              const std::function<std::unique_ptr<FrameModel>(const std::string& source_name)>& make_model) {
  if (s.jpeg_quality < 1 || s.jpeg_quality > 100) fail("-jpeg_quality ", s.jpeg_quality, ": expected 1 to 100");
  if (s.wait_for_client && s.mjpeg_port < 0 && s.json_port < 0)
    fail("-wait_for_client needs -mjpeg_port or -json_port (a client of which?)");

  std::unique_ptr<FrameModel> model = make_model(s.source.describe());
  VideoSource source = VideoSource::open(s.source);
  std::printf("Video source: %s, %dx%d", source.name().c_str(), source.width(), source.height());
  if (source.fps() > 0) std::printf(" at %.2f FPS", source.fps());
  if (source.frame_count() > 0) std::printf(", %lld frames", source.frame_count());
  std::printf(source.live() ? " (live: stale frames are dropped)\n" : " (every frame is processed)\n");

  std::unique_ptr<MjpegServer> mjpeg;
  std::unique_ptr<JsonServer> json;
  if (s.mjpeg_port >= 0) {
    mjpeg = std::make_unique<MjpegServer>(s.bind, s.mjpeg_port);
    std::printf("MJPEG stream: %sstream.mjpg (page with FPS: %s)\n", mjpeg->url().c_str(), mjpeg->url().c_str());
  }
  if (s.json_port >= 0) {
    json = std::make_unique<JsonServer>(s.bind, s.json_port);
    std::printf("JSON stream: %s\n", json->url().c_str());
  }

  PipelineOptions o;
  o.show_window = !s.dont_show && !s.benchmark;
  if (o.show_window && !display_available()) {
    std::cerr << "warning: no display (DISPLAY and WAYLAND_DISPLAY are unset): running without a window, as with "
                 "-dont_show\n";
    o.show_window = false;
  }
  o.out_filename = s.out_filename;
  o.mjpeg = mjpeg.get();
  o.json = json.get();
  o.wait_for_client = s.wait_for_client;
  o.benchmark = s.benchmark;
  o.time_limit_sec = s.time_limit_sec;
  o.interrupted = s.interrupted;
  o.jpeg_quality = s.jpeg_quality;
  std::fflush(stdout);

  PipelineSummary summary = run_pipeline(source, *model, o);
  if (mjpeg) mjpeg->close();
  if (json) json->close();
  std::printf("%s\n", summary_text(summary).c_str());
  if (!s.out_filename.empty())
    std::printf("Wrote %lld frames to %s\n", summary.frames_written, s.out_filename.c_str());
  std::fflush(stdout);
}

}  // namespace mishnet::demo
#endif
