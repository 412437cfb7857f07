// mishnet detector demo DATA CFG WEIGHTS [-c N | VIDEO | URL] [-thresh 0.25] [-dont_show]
//     [-out_filename out.mp4] [-mjpeg_port P] [-json_port P] [-bind ADDR] [-ext_output]
//     [-benchmark] [-time_limit_sec S] [-letter_box] [-wait_for_client]
//
// Darknet's detector demo: detection on every frame of a camera, a video file or a stream,
// through the threaded pipeline of src/demo/ (docs/demo.md).
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/error.h"

#if MISHNET_HAVE_OPENCV
#include "demo/demo_cli.h"
#include "demo/detector_frames.h"
#include "mishnet/data_file.h"
#endif

namespace mishnet::cli {
namespace {

#if MISHNET_HAVE_OPENCV

struct DetectorDemoArgs {
  demo::DemoArgs common;
  float thresh = 0.25f;
  bool ext_output = false;
  bool letter_box = false;
  NetworkArgs net;
};

void run_detector_demo(const DetectorDemoArgs& a) {
  demo::DemoSettings settings = demo::settings_from(a.common);
  demo::install_interrupt_handlers();
  demo::run_demo(settings, [&](const std::string& source_name) {
    DataFile data = DataFile::parse_file(a.common.data);
    const std::string names_path = data.existing_file("names");
    std::vector<std::string> names = read_names_file(names_path);
    demo::DetectorFrameOptions options;
    options.thresh = a.thresh;
    options.letterbox = a.letter_box;
    options.ext_output = a.ext_output;
    options.source_name = source_name;
    return std::make_unique<demo::DetectorFrames>(load_network(a.common.cfg, a.common.weights, a.net),
                                                  std::move(names), names_path, options);
  });
}

CommandRegistrar reg({"detector", "demo"},
                     "Detect objects in a camera, video file or stream (window, video, MJPEG, JSON)",
                     [](CLI::App& app) {
                       auto a = std::make_shared<DetectorDemoArgs>();
                       demo::add_demo_options(app, a->common);
                       app.add_option("--thresh", a->thresh, "Score threshold (default 0.25)");
                       app.add_flag("--ext_output", a->ext_output, "Also print each box in pixels");
                       app.add_flag("--letter_box", a->letter_box,
                                    "Letterbox instead of stretching (also on when [net] letter_box=1)");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_detector_demo(*a); });
                     });

#else

CommandRegistrar reg({"detector", "demo"}, "Detect objects in video (needs a build with OpenCV)", [](CLI::App& app) {
  app.allow_extras();
  app.callback([] {
    fail("detector demo needs OpenCV's video input: this mishnet was built with MISHNET_OPENCV=OFF");
  });
});

#endif

}  // namespace
}  // namespace mishnet::cli
