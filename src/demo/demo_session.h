// One run of `detector demo` / `classifier demo`: the network, the source, the servers and the
// pipeline, in that order, then the summary. Errors are thrown before any frame is processed
// where they can be (a source that cannot be opened, a port in use, an output that cannot be
// written).
#pragma once
#include <functional>
#include <memory>
#include <string>

#include "demo/video_source.h"

namespace mishnet::demo {

class FrameModel;

struct DemoSettings {
  SourceSpec source;
  bool dont_show = false;
  bool benchmark = false;
  bool wait_for_client = false;
  std::string out_filename;
  std::string bind = "127.0.0.1";
  int mjpeg_port = -1;  // < 0: no server; 0: any free port
  int json_port = -1;
  double time_limit_sec = 0;
  int jpeg_quality = 80;
  std::function<bool()> interrupted;
};

// True when a window can be opened (X11 or Wayland is named in the environment).
bool display_available();

// `make_model` gets the source's name (the JSON "filename"). Prints what is happening on stdout.
void run_demo(const DemoSettings& settings,
              const std::function<std::unique_ptr<FrameModel>(const std::string& source_name)>& make_model);

}  // namespace mishnet::demo
