// mishnet classifier demo DATA CFG WEIGHTS [-c N | VIDEO | URL] [-top N] [-dont_show]
//     [-out_filename out.mp4] [-mjpeg_port P] [-json_port P] [-bind ADDR] [-benchmark]
//     [-time_limit_sec S] [-wait_for_client]
//
// Darknet's classifier demo: the top classes of every frame, printed and drawn, through the
// threaded pipeline of src/demo/ (docs/demo.md).
#include <memory>

#include "cli/command.h"
#include "cli/network_loading.h"
#include "mishnet/error.h"

#if MISHNET_HAVE_OPENCV
#include "demo/classifier_frames.h"
#include "demo/demo_cli.h"
#include "mishnet/data_file.h"
#endif

namespace mishnet::cli {
namespace {

#if MISHNET_HAVE_OPENCV

struct ClassifierDemoArgs {
  demo::DemoArgs common;
  int top = 0;
  NetworkArgs net;
};

void run_classifier_demo(const ClassifierDemoArgs& a) {
  demo::DemoSettings settings = demo::settings_from(a.common);
  demo::install_interrupt_handlers();
  demo::run_demo(settings, [&](const std::string& source_name) {
    DataFile data = DataFile::parse_file(a.common.data);
    std::vector<std::string> names = data.class_names();
    const std::string names_path = data.existing_file(data.has("names") ? "names" : "labels");
    const int top = a.top > 0 ? a.top : data.get_int("top", 1);
    return std::make_unique<demo::ClassifierFrames>(load_network(a.common.cfg, a.common.weights, a.net),
                                                    std::move(names), names_path, top, source_name);
  });
}

CommandRegistrar reg({"classifier", "demo"}, "Classify the frames of a camera, video file or stream",
                     [](CLI::App& app) {
                       auto a = std::make_shared<ClassifierDemoArgs>();
                       demo::add_demo_options(app, a->common);
                       app.add_option("-t,--top", a->top,
                                      "How many classes per frame (default: top= in .data, else 1)");
                       add_network_options(app, a->net);
                       add_device_options(app, a->net);
                       app.callback([a] { run_classifier_demo(*a); });
                     });

#else

CommandRegistrar reg({"classifier", "demo"}, "Classify video frames (needs a build with OpenCV)", [](CLI::App& app) {
  app.allow_extras();
  app.callback([] {
    fail("classifier demo needs OpenCV's video input: this mishnet was built with MISHNET_OPENCV=OFF");
  });
});

#endif

}  // namespace
}  // namespace mishnet::cli
