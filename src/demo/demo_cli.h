// What `detector demo` and `classifier demo` share on the command line: their options and the
// Ctrl-C handling. Header-only: it is used by src/cli/cmd_*_demo.cpp, and the library proper
// stays free of CLI11 and of process-wide signal handlers.
#pragma once
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <csignal>
#include <string>

#include "demo/demo_session.h"

namespace mishnet::demo {

struct DemoArgs {
  std::string data, cfg, weights, video;
  int camera = -1;
  DemoSettings settings;
};

// The options both demos take (Darknet's names; one dash works too).
inline void add_demo_options(CLI::App& app, DemoArgs& a) {
  app.add_option("data", a.data, ".data file (names=)")->required();
  app.add_option("cfg", a.cfg, "Network .cfg file")->required();
  app.add_option("weights", a.weights, "Network .weights file")->required();
  app.add_option("video", a.video, "Video file or stream URL (rtsp://, http://, ...); default: camera 0");
  app.add_option("-c,--camera", a.camera, "Camera index (as /dev/videoN)");
  app.add_flag("--dont_show", a.settings.dont_show, "No window (headless); also the default without a display");
  app.add_option("--out_filename", a.settings.out_filename, "Write the annotated video (.mp4, .avi or .mkv)");
  app.add_option("--mjpeg_port", a.settings.mjpeg_port,
                 "Serve the annotated frames as MJPEG, with a page at / (0: any free port)");
  app.add_option("--json_port", a.settings.json_port, "Serve each frame's results as a JSON stream (0: any free port)");
  app.add_option("--bind", a.settings.bind, "Address the servers listen on (default 127.0.0.1)");
  app.add_flag("--benchmark", a.settings.benchmark, "Measure FPS only: no drawing, no window, no per-frame text");
  app.add_option("--time_limit_sec", a.settings.time_limit_sec, "Stop after this many seconds");
  app.add_flag("--wait_for_client", a.settings.wait_for_client,
               "Start reading frames once the -mjpeg_port / -json_port streams have a client");
  app.add_option("--jpeg_quality", a.settings.jpeg_quality, "JPEG quality of the MJPEG stream (default 80)");
}

// Set by SIGINT/SIGTERM. The handler is reset after the first signal, so a second Ctrl-C
// ends the program at once.
inline std::atomic<bool> demo_interrupted{false};

inline void demo_on_interrupt(int) {
  demo_interrupted.store(true);
  const char note[] = "\nStopping: finishing the frames in flight (Ctrl-C again to quit at once)\n";
  [[maybe_unused]] ssize_t n = write(STDERR_FILENO, note, sizeof note - 1);
}

inline void install_interrupt_handlers() {
  struct sigaction action {};
  action.sa_handler = demo_on_interrupt;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
}

inline DemoSettings settings_from(const DemoArgs& a) {
  DemoSettings s = a.settings;
  s.source = SourceSpec::from_arguments(a.camera, a.video);
  s.interrupted = [] { return demo_interrupted.load(); };
  return s;
}

}  // namespace mishnet::demo
